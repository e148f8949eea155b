"""The readable summary column of `user_profiles` (`memory_runtime.batch.profiles`)."""

from memory_runtime.stores.postgres import PostgresStore


def upsert_profile_summary(pg: PostgresStore, user_id: str, summary: str | None) -> int:
    """Set user_profiles.summary of `user_id` (creating the row); returns 1 if it changed, else 0."""
    with pg.connection() as conn:
        return conn.execute(
            """
            INSERT INTO user_profiles (user_id, summary) VALUES (%s, %s)
            ON CONFLICT (user_id) DO UPDATE SET summary = EXCLUDED.summary
             WHERE user_profiles.summary IS DISTINCT FROM EXCLUDED.summary
            """,
            (user_id, summary),
        ).rowcount
