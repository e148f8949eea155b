"""Cypher builders: users memory (shared by both dialects)."""
