"""Cypher builders per aggregate, shared by both dialects (see registry.py)."""
