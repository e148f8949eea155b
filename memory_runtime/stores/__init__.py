"""Store clients: PostgreSQL (system of record), Redis (working memory, streams), graph (Neo4j/FalkorDB)."""
