"""PostgreSQL, the system of record: the connection pool and the repositories per aggregate."""

from memory_runtime.stores.postgres.pool import APPLICATION_NAME, PostgresStore

__all__ = ["APPLICATION_NAME", "PostgresStore"]
