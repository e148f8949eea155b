"""Cypher builders: goals memory (shared by both dialects)."""
