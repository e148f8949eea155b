-- 0004: state of the framework integrations (memory_runtime/integrations/).

-- LangGraph store (integrations/langgraph.py). A namespace belongs to one user (a position of the namespace,
-- or the store's fixed user); `opened_seq` orders namespaces by when they last went from empty to holding
-- an item, which is the order a search without a query returns them in. A namespace row exists exactly
-- while it holds items.
CREATE SEQUENCE store_seq;
CREATE TABLE store_namespaces (
    user_id     text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
    namespace   text[] NOT NULL CHECK (cardinality(namespace) >= 1),
    opened_seq  bigint NOT NULL,
    PRIMARY KEY (user_id, namespace)
);

-- One item per (namespace, key): the value as given, its timestamps (created_at kept on overwrite), the
-- place it was first put at (`created_seq`, kept on overwrite) and the fact it was learned as, if any.
CREATE TABLE store_items (
    user_id      text NOT NULL,
    namespace    text[] NOT NULL,
    key          text NOT NULL,
    value        jsonb NOT NULL,
    fact_id      text,
    created_seq  bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, namespace, key),
    FOREIGN KEY (user_id, namespace) REFERENCES store_namespaces (user_id, namespace) ON DELETE CASCADE
);
CREATE INDEX store_items_namespace_idx ON store_items USING gin (namespace);

-- The vectors of an item, one per indexed text (a JSON path of the value); a search scores an item by
-- its best vector, as LangGraph's own stores do.
CREATE TABLE store_item_vectors (
    user_id    text NOT NULL,
    namespace  text[] NOT NULL,
    key        text NOT NULL,
    path       text NOT NULL,
    embedding  vector({{EMBEDDING_DIMENSIONS}}) NOT NULL,
    PRIMARY KEY (user_id, namespace, key, path),
    FOREIGN KEY (user_id, namespace, key) REFERENCES store_items (user_id, namespace, key) ON DELETE CASCADE
);

-- OpenAI Agents session (integrations/openai_agents.py). Session items are turns of the conversation named
-- by the session id (their item JSON is in the turn's metadata). A writer reserves the turn indexes of its
-- items here first (one short UPDATE), so concurrent writers of a session never take the same index.
CREATE TABLE agent_session_counters (
    user_id     text NOT NULL,
    session_id  text NOT NULL,
    next_index  integer NOT NULL CHECK (next_index >= 0),
    PRIMARY KEY (user_id, session_id)
);

-- The log stays append-only, so pop_item and clear_session record here which turns left the session's history.
CREATE TABLE agent_session_removals (
    turn_id          uuid PRIMARY KEY REFERENCES conversation_logs (id) ON DELETE CASCADE,
    user_id          text NOT NULL,
    conversation_id  text NOT NULL,
    removed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_session_removals_conversation_idx ON agent_session_removals (conversation_id);
