"""Migration bookkeeping: the schema, the migrator's lock, `schema_migrations` and the bootstrap tables.

Every function runs inside the migrator's one transaction (`stores.migrations.migrate_postgres`), which holds
the advisory lock from `lock_migrations` until it commits.
"""

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

MIGRATION_LOCK_KEY = 0x6D656D6F7279  # pg_advisory_xact_lock key: one migrator at a time


def create_schema(conn: psycopg.Connection[DictRow], schema: str) -> None:
    """Create the schema `schema` unless it exists."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def lock_migrations(conn: psycopg.Connection[DictRow]) -> None:
    """Wait for the migration lock; it is held until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))


def create_bookkeeping_tables(conn: psycopg.Connection[DictRow]) -> None:
    """Create `schema_migrations` and `memory_settings` unless they exist (the tables migrations rely on)."""
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS memory_settings (
            key    text PRIMARY KEY,
            value  text NOT NULL
        );
        """
    )


def applied_migrations(conn: psycopg.Connection[DictRow]) -> dict[int, dict[str, Any]]:
    """Every applied migration by version: its version, name and checksum."""
    return {r["version"]: r for r in conn.execute("SELECT version, name, checksum FROM schema_migrations")}


def apply_migration(conn: psycopg.Connection[DictRow], version: int, name: str, checksum: str, statements: str) -> None:
    """Run one migration's SQL and record it in `schema_migrations`."""
    conn.execute(statements)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)", (version, name, checksum)
    )
