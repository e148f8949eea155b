"""Cypher builders: semantic memory (shared by both dialects)."""
