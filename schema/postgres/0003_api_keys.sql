-- 0003: API keys of `agent-memory serve` (memory_ops/server). A tenant is a namespace of users; a key belongs to
-- one tenant. Only the sha256 of a key's secret is stored; `id` is the key's public part (it is also in the key
-- itself, `am_<id>_<secret>`), so a request's key is found by id and its hash compared in constant time.
CREATE TABLE api_keys (
    id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    tenant        text NOT NULL CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    secret_hash   text NOT NULL CHECK (length(secret_hash) = 64),
    admin         boolean NOT NULL DEFAULT false,
    label         text CHECK (length(label) <= 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant, created_at);
