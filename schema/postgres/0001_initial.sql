-- 0001: the system of record. {{EMBEDDING_DIMENSIONS}} is replaced by the configured dimension
-- (MEMORY_EMBEDDING_DIMENSIONS) when the migration is applied; the migrator refuses a later change.

CREATE EXTENSION IF NOT EXISTS vector SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

-- One row per conversation; a conversation id belongs to exactly one user.
CREATE TABLE conversations (
    id            text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256),
    user_id       text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
    title         text,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at    timestamptz NOT NULL,
    last_turn_at  timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_idx ON conversations (user_id, last_turn_at DESC);

-- Append-only turn log. `id` is uuid5(conversation_id, turn_index), so every store agrees on it;
-- `seq` is the ingest order the new-conversation sensor uses as its cursor; `created_at` is when the
-- turn was said (callers and importers pass original timestamps), `ingested_at` when we stored it.
CREATE TABLE conversation_logs (
    seq              bigserial UNIQUE,
    id               uuid PRIMARY KEY,
    user_id          text NOT NULL,
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn_index       integer NOT NULL CHECK (turn_index >= 0),
    role             text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content          text NOT NULL CHECK (length(content) > 0),
    content_hash     text NOT NULL,
    embedding        vector({{EMBEDDING_DIMENSIONS}}),
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    salience         real NOT NULL DEFAULT 0.5 CHECK (salience >= 0 AND salience <= 1),
    created_at       timestamptz NOT NULL,
    ingested_at      timestamptz NOT NULL DEFAULT now(),
    archived_at      timestamptz,
    content_tsv      tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    UNIQUE (conversation_id, turn_index)
);
CREATE INDEX conversation_logs_user_time_idx ON conversation_logs (user_id, created_at DESC);
CREATE INDEX conversation_logs_created_brin ON conversation_logs USING brin (created_at);
CREATE INDEX conversation_logs_ingested_brin ON conversation_logs USING brin (ingested_at);
-- Vector tiers: hot turns are searched in the graph's HNSW index (and, when that is down or under-filled
-- for a user, by an exact scan of the user's rows here via the (user_id, created_at) index). Archived turns
-- leave the graph index; this HNSW index over them is the cold tier, maintained by the daily archival batch
-- rather than on every write (HNSW inserts cost ~1–2.5 ms each at 384 dimensions).
CREATE INDEX conversation_logs_archive_hnsw ON conversation_logs
    USING hnsw (embedding vector_cosine_ops) WHERE archived_at IS NOT NULL;
CREATE INDEX conversation_logs_tsv_gin ON conversation_logs USING gin (content_tsv);

-- Audit of every tool call an agent reports, with the turn it belonged to.
CREATE TABLE tool_invocations (
    id               uuid PRIMARY KEY,
    user_id          text NOT NULL,
    conversation_id  text,
    turn_id          uuid,
    turn_index       integer,
    tool_name        text NOT NULL CHECK (length(tool_name) BETWEEN 1 AND 256),
    tool_input       jsonb NOT NULL DEFAULT '{}'::jsonb,
    tool_output      jsonb,
    success          boolean NOT NULL,
    latency_ms       double precision NOT NULL CHECK (latency_ms >= 0),
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_invocations_user_tool_idx ON tool_invocations (user_id, tool_name, created_at DESC);
CREATE INDEX tool_invocations_created_brin ON tool_invocations USING brin (created_at);

-- The unified temporal index over episodes, facts, entities, goals, strategies and reflections.
CREATE TABLE memory_timeline (
    id               bigserial PRIMARY KEY,
    user_id          text NOT NULL,
    event_type       text NOT NULL
                     CHECK (event_type IN ('episode', 'fact', 'entity', 'goal', 'strategy', 'reflection')),
    ref_id           text NOT NULL,
    conversation_id  text,
    occurred_at      timestamptz NOT NULL,
    summary          text NOT NULL,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_type, ref_id)
);
CREATE INDEX memory_timeline_user_time_idx ON memory_timeline (user_id, occurred_at DESC);
CREATE INDEX memory_timeline_occurred_brin ON memory_timeline USING brin (occurred_at);

-- The consolidated user model, mirrored from the graph (preferences, expertise, interests).
CREATE TABLE user_profiles (
    user_id      text PRIMARY KEY,
    preferences  jsonb NOT NULL DEFAULT '{}'::jsonb,
    expertise    jsonb NOT NULL DEFAULT '{}'::jsonb,
    interests    jsonb NOT NULL DEFAULT '[]'::jsonb,
    summary      text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
