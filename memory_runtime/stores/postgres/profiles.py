"""The user profiles `user_profiles`: the Postgres mirror of each user's graph profile, read by get_user_context."""

import json
from datetime import datetime
from typing import Any

from memory_runtime.stores.postgres.pool import PostgresStore


def upsert_profile_mirror(
    pg: PostgresStore,
    user_id: str,
    *,
    preferences: dict[str, Any],
    expertise: dict[str, str],
    interests: list[str],
    updated_at: datetime,
) -> None:
    """Store the profile as of `updated_at` unless a newer one is stored; the `summary` column is left alone."""
    with pg.connection() as conn:
        conn.execute(
            """
            INSERT INTO user_profiles (user_id, preferences, expertise, interests, updated_at)
            VALUES (%s, %s::jsonb, %s::jsonb, %s::jsonb, %s)
            ON CONFLICT (user_id) DO UPDATE
               SET preferences = EXCLUDED.preferences, expertise = EXCLUDED.expertise,
                   interests = EXCLUDED.interests, updated_at = EXCLUDED.updated_at
             WHERE user_profiles.updated_at <= EXCLUDED.updated_at
            """,
            (
                user_id,
                json.dumps(preferences, ensure_ascii=False),
                json.dumps(expertise, ensure_ascii=False),
                json.dumps(interests, ensure_ascii=False),
                updated_at,
            ),
        )


def user_profile(pg: PostgresStore, user_id: str) -> dict[str, Any] | None:
    """The stored preferences, expertise, interests, summary and updated_at of `user_id`, or None."""
    rows = pg.fetch(
        "SELECT preferences, expertise, interests, summary, updated_at FROM user_profiles WHERE user_id = %s",
        (user_id,),
    )
    return rows[0] if rows else None


# ---- the readable summary column (batch.profiles)


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
