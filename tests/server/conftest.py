"""Fixtures of the server tests: one migrated namespace and one live uvicorn (a thread on a free loopback port)
per test module, and API keys of two tenants."""

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from memory_ops.server import keys
from memory_ops.server.app import create_app
from memory_ops.server.settings import ServerSettings
from memory_ops.stack.embedded import StackEnv
from memory_runtime.config import Settings
from memory_runtime.stores.bundle import Stores
from tests.conftest import drop_namespace, make_settings, open_migrated


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Keys:
    """Keys of two tenants: acme (a user key and an admin key) and globex (the same)."""

    acme: str
    acme_admin: str
    globex: str
    globex_admin: str


@dataclass
class LiveServer:
    """A running server: its base URL, its stores and the keys made for the test module."""

    url: str
    stores: Stores
    keys: Keys

    def client(self, key: str | None, **kwargs: object) -> httpx.Client:
        """An httpx client of the server, authenticated with `key` (none if None)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        headers.update(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server_namespace_settings(stack: StackEnv) -> Iterator[Settings]:
    """Settings of one namespace shared by a test module (dropped afterwards)."""
    settings = make_settings(stack, "t_srv_" + uuid.uuid4().hex[:10])
    try:
        yield settings
    finally:
        drop_namespace(settings)


@pytest.fixture(scope="module")
def server_stores(server_namespace_settings: Settings) -> Iterator[Stores]:
    """Migrated Stores of the module's namespace."""
    stores = open_migrated(server_namespace_settings)
    try:
        yield stores
    finally:
        stores.close()


@pytest.fixture(scope="module")
def tenant_keys(server_stores: Stores) -> Keys:
    """A user key and an admin key for each of the tenants acme and globex."""
    return Keys(
        acme=keys.create_key(server_stores.pg, "acme").key,
        acme_admin=keys.create_key(server_stores.pg, "acme", admin=True).key,
        globex=keys.create_key(server_stores.pg, "globex").key,
        globex_admin=keys.create_key(server_stores.pg, "globex", admin=True).key,
    )


METRICS_BEARER = "CHANGE_ME_metrics"  # the operator's /metrics bearer in the tests
SERVER_SETTINGS = ServerSettings(_env_file=None, server_metrics_token=METRICS_BEARER, server_max_body_bytes=256 * 1024)  # type: ignore[call-arg]


@contextmanager
def running_server(stores: Stores, settings: ServerSettings = SERVER_SETTINGS, **app_options: Any) -> Iterator[str]:
    """Uvicorn serving `create_app(stores, **app_options)` in a thread on a free port; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(stores, settings.model_copy(update={"server_port": port}), public_url=url, **app_options)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def live_server(server_stores: Stores, tenant_keys: Keys) -> Iterator[LiveServer]:
    """The server of the test module, on its namespace."""
    with running_server(server_stores) as url:
        yield LiveServer(url, server_stores, tenant_keys)


@pytest.fixture
def anyio_backend() -> str:
    """The MCP SDK's client runs on anyio; the tests use its asyncio backend."""
    return "asyncio"


def store_env(settings: Settings) -> dict[str, str]:
    """The MEMORY_* variables that point a child process at the namespace of `settings`."""
    return {
        "MEMORY_POSTGRES_URI": settings.require("postgres_uri"),
        "MEMORY_POSTGRES_SCHEMA": settings.postgres_schema,
        "MEMORY_GRAPH_URI": settings.require("graph_uri"),
        "MEMORY_GRAPH_NAME": settings.graph_name,
        "MEMORY_REDIS_URI": settings.require("redis_uri"),
        "MEMORY_REDIS_PREFIX": settings.redis_prefix,
        "MEMORY_EMBEDDING_DIMENSIONS": str(settings.embedding_dimensions),
    }
