"""Advisory locks in PostgreSQL that serialise graph writes a graph server would otherwise let race."""

import psycopg
from psycopg.rows import DictRow

_FACTS = 0x66616374  # "fact": the first key of the per-user lock over learn_fact


def lock_fact_writes(conn: psycopg.Connection[DictRow], user_id: str) -> None:
    """Hold this user's learn_fact lock until the transaction ends (concurrent learners of a user take turns)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_FACTS, user_id))
