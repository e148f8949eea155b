"""Server administration for the embedded stack: databases, extensions and versions, on the caller's autocommit
connection (`CREATE DATABASE` cannot run inside a transaction; rows are tuples there, not the pool's dicts)."""

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow


def database_names(conn: psycopg.Connection[TupleRow]) -> set[str]:
    """The names of every database of the server."""
    return {row[0] for row in conn.execute("select datname from pg_database")}


def create_database(conn: psycopg.Connection[TupleRow], name: str) -> None:
    """Create the database `name` (an error if it exists)."""
    conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def create_extension(conn: psycopg.Connection[TupleRow], name: str) -> None:
    """Create the extension `name` in the connection's database unless it exists."""
    conn.execute(sql.SQL("create extension if not exists {}").format(sql.Identifier(name)))


def server_version(conn: psycopg.Connection[TupleRow]) -> str:
    """The server's version string (`show server_version`)."""
    return str(conn.execute("show server_version").fetchone()[0])  # type: ignore[index]  # SHOW returns one row


def extension_versions(conn: psycopg.Connection[TupleRow]) -> dict[str, str]:
    """The version of each extension installed in the connection's database, by name."""
    return dict(conn.execute("select extname, extversion from pg_extension").fetchall())
