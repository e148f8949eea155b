"""Fixtures of the browser tests: a live server (uvicorn in a thread) on one migrated namespace per module, tenant
keys, a planted memory, and Debian's Chromium driven by Playwright.

Playwright cannot download its own browsers here, so it launches /usr/bin/chromium (`make browser` installs it).
Without Chromium the browser tests skip and say so; under CI=true a missing Chromium fails them instead.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import (  # noqa: F401  (module fixtures reused by name)
    Keys,
    LiveServer,
    live_server,
    running_server,
    server_namespace_settings,
    server_stores,
    tenant_keys,
)

CHROMIUM = os.environ.get("AGENT_MEMORY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "run `make browser` (apt-get install -y chromium) and `make install` (the playwright package)"

SCRIPT_TURN = (
    "<script>document.title='pwned'; window.__pwned = true;</script> and <img src=x onerror=\"window.__pwned=1\">"
)


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM}"
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session (Playwright driving Debian's build)."""
    missing = _browser_missing()
    if missing:
        message = f"{missing}: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the browser tests: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; a test fails on any script error in the page."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert errors == [], f"script errors in the page: {errors}"


def sign_in(page: Any, url: str, key: str) -> None:
    """Sign in at /ui/login with `key` and wait for the users page."""
    page.goto(f"{url}/ui/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/ui/users*")


@dataclass
class Planted:
    """What `planted` stored: tenant acme's user ada (and grace), tenant globex's user ada and its only user bob."""

    turn_ids: list[str]
    script_turn_id: str
    old_fact: str
    new_fact: str
    ada_entity: str
    acme_entity: str
    goal: str
    subgoal: str
    globex_word: str


def _post(client: Any, path: str, body: dict[str, Any], status: int = 201) -> Any:
    response = client.post(path, json=body)
    assert response.status_code in (status, 200, 201, 204), response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def planted(live_server: LiveServer) -> Planted:  # noqa: F811
    """Memories of two tenants, stored through the REST API as a tenant's agent would."""
    with live_server.client(live_server.keys.acme) as c:
        turns = [
            {"conversation_id": "c1", "index": 0, "role": "user", "content": "I live in Lisbon and work at Acme.",
             "timestamp": "2024-01-10T09:00:00Z"},
            {"conversation_id": "c1", "index": 1, "role": "assistant", "content": "Noted: Lisbon, Acme.",
             "timestamp": "2024-01-10T09:00:05Z"},
            {"conversation_id": "c1", "index": 2, "role": "user", "content": SCRIPT_TURN,
             "timestamp": "2024-01-10T09:01:00Z"},
            {"conversation_id": "c2", "index": 0, "role": "user", "content": "I moved to Porto last week.",
             "timestamp": "2024-06-03T10:00:00Z"},
        ]  # fmt: skip
        ids = _post(c, "/v1/users/ada/turns/batch", {"turns": turns})["turn_ids"]
        ada = _post(c, "/v1/users/ada/entities", {"name": "Ada", "type": "Person"}, 200)["id"]
        acme = _post(
            c, "/v1/users/ada/entities", {"name": "Acme", "type": "Organization", "aliases": ["Acme Corp"]}, 200
        )["id"]
        lisbon = _post(c, "/v1/users/ada/entities", {"name": "Lisbon", "type": "Location"}, 200)["id"]
        _post(c, "/v1/users/ada/relations", {"source_id": ada, "target_id": acme, "type": "WORKS_FOR"}, 204)
        _post(c, "/v1/users/ada/relations", {"source_id": acme, "target_id": lisbon, "type": "LOCATED_IN"}, 204)
        old = _post(c, "/v1/users/ada/facts", {
            "claim": "Ada lives in Lisbon", "source": "extraction", "confidence": 0.8, "entity_ids": [ada],
            "source_turn_ids": [ids[0]], "valid_at": "2024-01-10T09:00:00Z", "extractor_version": "rules-v1",
            "subject": "Ada", "predicate": "lives_in", "object": "Lisbon",
        })["id"]  # fmt: skip
        new = _post(c, "/v1/users/ada/facts", {
            "claim": "Ada lives in Porto", "source": "extraction", "confidence": 0.9, "entity_ids": [ada],
            "source_turn_ids": [ids[3]], "valid_at": "2024-06-01T00:00:00Z", "extractor_version": "rules-v1",
            "subject": "Ada", "predicate": "lives_in", "object": "Porto",
        })["id"]  # fmt: skip
        _post(c, "/v1/users/ada/facts", {"claim": "Ada works at Acme", "entity_ids": [ada, acme]})
        goal = _post(c, "/v1/users/ada/goals", {"description": "Relocate the team to Porto", "priority": 5})["id"]
        sub = _post(c, "/v1/users/ada/goals", {"description": "Find an office", "parent_id": goal})["id"]
        visa = _post(c, "/v1/users/ada/goals", {"description": "Sort out the visas", "priority": 3})["id"]
        _post(c, f"/v1/users/ada/goals/{sub}/blockers", {"blocked_by_goal_id": visa}, 200)
        for ok in (True, True, False):
            _post(c, "/v1/users/ada/tool-usage", {"tool_name": "web_search", "success": ok, "latency_ms": 120.0})
        _post(c, "/v1/users/ada/strategies", {
            "description": "search listings then call the agent", "task_type": "find_office",
            "tool_sequence": ["web_search", "phone"], "success": True,
        })  # fmt: skip
        _post(c, "/v1/users/grace/turns", {"conversation_id": "g1", "index": 0, "role": "user", "content": "Hello."})
    word = "zqglobexsecretword"
    with live_server.client(live_server.keys.globex) as c:
        _post(c, "/v1/users/ada/turns", {"conversation_id": "c1", "index": 0, "role": "user",
                                         "content": f"globex ada says {word}"})  # fmt: skip
        _post(c, "/v1/users/bob/turns", {"conversation_id": "b1", "index": 0, "role": "user", "content": word})
        _post(c, "/v1/users/bob/facts", {"claim": f"Bob's code word is {word}"})
    return Planted(ids, ids[2], old, new, ada, acme, goal, sub, word)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where screenshots of the main pages go (docs/screenshots/ when AGENT_MEMORY_SCREENSHOTS is set)."""
    target = os.environ.get("AGENT_MEMORY_SCREENSHOTS")
    return Path(target) if target else Path(tempfile.mkdtemp(prefix="ui-screens-"))
