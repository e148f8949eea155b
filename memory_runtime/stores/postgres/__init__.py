"""PostgreSQL, the system of record: the connection pool and the repositories per aggregate.

Every SQL statement of the project lives in a repository module here (`turns`, `tools`, `profiles`, `settings`,
`erasure`, `schema`, `server`, ...): module-level functions named for what they do. A function that joins the
caller's transaction takes `conn: psycopg.Connection[DictRow]` first; otherwise it takes `pg: PostgresStore` and
opens its own. Values are always parameters, identifiers only `psycopg.sql.Identifier`; rows come back as dicts
(`psycopg.rows.DictRow`).
"""

from memory_runtime.stores.postgres.pool import APPLICATION_NAME, PostgresStore

__all__ = ["APPLICATION_NAME", "PostgresStore"]
