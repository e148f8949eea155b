"""The `api_keys` table (migration 0003): the keys of `agent-memory serve`, stored as hashes of their secrets.

The server (`memory_ops.server.keys`) makes the keys and checks them; this module only stores and reads rows.
"""

from dataclasses import dataclass
from datetime import datetime

from memory_runtime.stores.postgres.pool import PostgresStore


@dataclass(frozen=True)
class ApiKeyRow:
    """One stored key: its public id, tenant, role, the hash of its secret and its times."""

    id: str
    tenant: str
    secret_hash: str
    admin: bool
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "id, tenant, secret_hash, admin, label, created_at, last_used_at, revoked_at"


def insert_api_key(
    pg: PostgresStore, key_id: str, tenant: str, secret_hash: str, admin: bool, label: str | None
) -> ApiKeyRow:
    """Store a new key; returns the stored row."""
    [row] = pg.fetch(
        f"INSERT INTO api_keys (id, tenant, secret_hash, admin, label) VALUES (%s, %s, %s, %s, %s) "
        f"RETURNING {_COLUMNS}",
        (key_id, tenant, secret_hash, admin, label),
    )
    return ApiKeyRow(**row)


def active_api_key(pg: PostgresStore, key_id: str) -> ApiKeyRow | None:
    """The key with this id unless it is unknown or revoked."""
    rows = pg.fetch(f"SELECT {_COLUMNS} FROM api_keys WHERE id = %s AND revoked_at IS NULL", (key_id,))
    return ApiKeyRow(**rows[0]) if rows else None


def touch_api_key(pg: PostgresStore, key_id: str, min_interval_s: float) -> None:
    """Set a key's last use to now, unless it was set less than `min_interval_s` ago (one write per interval)."""
    pg.fetch(
        """
        UPDATE api_keys SET last_used_at = now()
         WHERE id = %s AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %s))
        """,
        (key_id, min_interval_s),
    )


def list_api_keys(pg: PostgresStore, tenant: str | None = None) -> list[ApiKeyRow]:
    """Every key (of one tenant, or of all), oldest first, revoked ones included."""
    rows = pg.fetch(
        f"SELECT {_COLUMNS} FROM api_keys WHERE %(tenant)s::text IS NULL OR tenant = %(tenant)s "
        "ORDER BY created_at, id",
        {"tenant": tenant},
    )
    return [ApiKeyRow(**r) for r in rows]


def revoke_api_key(pg: PostgresStore, key_id: str) -> bool:
    """Revoke a key from now on; False if there is no such key or it was already revoked."""
    rows = pg.fetch(
        "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL RETURNING id", (key_id,)
    )
    return bool(rows)
