-- Runs once, when the postgres container initialises an empty data volume (docker-entrypoint-initdb.d),
-- as POSTGRES_USER (`memory`, the owner of both databases).
--
-- agent_memory: the memory system of record (tables come from `agent-memory migrate`).
-- dagster:      Dagster's run, event-log and schedule storage (tables created by dagster-postgres).
-- Two databases, so that wiping Dagster's history never touches agent memory.

CREATE DATABASE agent_memory;
CREATE DATABASE dagster;

-- The migration creates these too; creating them here lets a non-superuser role run migrations later.
\connect agent_memory
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
