"""Cypher builders: procedural memory (shared by both dialects)."""
