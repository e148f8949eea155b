"""Start and stop the embedded stores (PostgreSQL, FalkorDB/Redis, Neo4j) in a data directory."""
