"""API keys: made random, shown once, stored as the sha256 of their secret, checked in constant time.

A key reads `am_<id>_<secret>`: `id` (16 hex digits) is public and finds the stored row, `secret` (43 URL-safe
characters, 256 random bits) is only ever stored hashed. A 256-bit random secret needs no slow password hash: the
sha256 of it cannot be searched back. A presented key is found by its id and its hash compared with
`hmac.compare_digest`, so how long a check takes says nothing about how much of a secret was right.
"""

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from memory_runtime.domain.errors import SchemaError, ValidationError
from memory_runtime.stores.postgres import PostgresStore
from memory_runtime.stores.postgres import api_keys as repo
from memory_runtime.stores.postgres.api_keys import ApiKeyRow

PREFIX = "am_"
_KEY = re.compile(r"^am_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TOUCH_INTERVAL_S = 60.0  # last_used_at is written at most once a minute per key
_DUMMY_HASH = "0" * 64


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a tenant, through one of its keys, admin or not."""

    tenant: str
    key_id: str
    admin: bool


@dataclass(frozen=True)
class NewKey:
    """A key just made: the full key (shown once, never stored) and its stored row."""

    key: str
    row: ApiKeyRow


def check_tenant(tenant: str) -> str:
    """A tenant name: 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit."""
    if not isinstance(tenant, str) or not TENANT.match(tenant):
        raise ValidationError(
            f"tenant {tenant!r} must be 1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
        )
    return tenant


@contextmanager
def _key_table() -> Iterator[None]:
    """A store migrated before the keys existed: say to migrate, rather than fail on a missing table."""
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise SchemaError("the api_keys table is missing; run `agent-memory migrate`") from exc


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(pg: PostgresStore, tenant: str, *, admin: bool = False, label: str | None = None) -> NewKey:
    """Make and store a new key of `tenant`; the returned `key` is the only copy of its secret."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with _key_table():
        row = repo.insert_api_key(pg, key_id, check_tenant(tenant), _hash(secret), admin, label)
    return NewKey(f"{PREFIX}{key_id}_{secret}", row)


def list_keys(pg: PostgresStore, tenant: str | None = None) -> list[ApiKeyRow]:
    """Every stored key (of one tenant, or all), revoked ones included; never a secret."""
    with _key_table():
        return repo.list_api_keys(pg, None if tenant is None else check_tenant(tenant))


def revoke_key(pg: PostgresStore, key_id: str) -> bool:
    """Revoke a key by its id (or the full key); False if there is no such active key."""
    match = _KEY.match(key_id)
    with _key_table():
        return repo.revoke_api_key(pg, match.group(1) if match else key_id)


class KeyVerifier:
    """Turns a presented key into its Principal, or None; remembers verified keys for `cache_s` seconds."""

    def __init__(self, pg: PostgresStore, cache_s: float = 5.0) -> None:
        self._pg = pg
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def verify(self, presented: str | None) -> Principal | None:
        """The principal of a valid, unrevoked key; None for anything else (malformed, unknown, wrong, revoked)."""
        if not presented:
            return None
        match = _KEY.match(presented)
        digest = _hash(match.group(2)) if match else _DUMMY_HASH
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now and match and cached[1].key_id == match.group(1):
            return cached[1]
        with _key_table():
            row = repo.active_api_key(self._pg, match.group(1)) if match else None
        stored = row.secret_hash if row is not None else _DUMMY_HASH
        if not (hmac.compare_digest(digest, stored) and match and row is not None):
            return None
        principal = Principal(row.tenant, row.id, row.admin)
        repo.touch_api_key(self._pg, row.id, _TOUCH_INTERVAL_S)
        if self._cache_s > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now + self._cache_s, principal)
        return principal
