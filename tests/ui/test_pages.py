"""The memory browser over HTTP without a browser: paging, the local operator of `agent-memory ui`, the reads of
memory_runtime.memory.browse, and security headers."""

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from memory_ops.server.tenancy import runtime_conversation_id, runtime_user_id
from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import NotFoundError
from memory_runtime.domain.models import Turn
from memory_runtime.memory import browse
from tests.server.conftest import free_port, running_server, store_env

OPERATOR_CODE = "CHANGE_ME_operator_code"


@contextmanager
def _session(url: str, key: str) -> Iterator[httpx.Client]:
    """An httpx client signed in to the browser with `key` (cookies kept)."""
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as client:
        form = client.get("/ui/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        response = client.post("/ui/login", data={"key": key, "csrf": csrf, "next": ""})
        assert response.status_code == 303, response.text
        yield client


def _turns(conversation: str, n: int, start: datetime) -> list[Turn]:
    return [
        Turn(conversation_id=conversation, index=i, role="user" if i % 2 == 0 else "assistant",
             content=f"turn number {i}", timestamp=start + timedelta(minutes=i))
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def long_user(server_stores):
    """Tenant acme's user 'reader' with one conversation of 120 turns, plus an unnamespaced runtime user."""
    start = datetime(2024, 2, 1, tzinfo=UTC)
    memory = AgentMemory(runtime_user_id("acme", "reader"), stores=server_stores)
    turns = _turns(runtime_conversation_id("acme", "long"), 120, start)
    ids = memory.store_turns(turns).turn_ids
    AgentMemory("plain-agent-user", stores=server_stores).store_turns(_turns("plain-conv", 2, start))
    return ids


def test_a_long_conversation_is_paged_and_a_turn_link_opens_the_page_holding_it(live_server, long_user):
    with _session(live_server.url, live_server.keys.acme) as c:
        first = c.get("/ui/users/reader/conversation", params={"id": "long"})
        assert first.text.count('class="turn ') == 50 and "1–50 of 120" in first.text
        last = c.get("/ui/users/reader/conversation", params={"id": "long", "offset": 100})
        assert last.text.count('class="turn ') == 20 and "turn number 119" in last.text
        jump = c.get(f"/ui/users/reader/turns/{long_user[77]}")
        assert jump.status_code == 303 and "offset=50" in jump.headers["location"]
        landed = c.get(jump.headers["location"].split("#")[0])
        assert re.search(rf'id="turn-{long_user[77]}" class="turn role-assistant highlighted"', landed.text)


def test_every_page_carries_a_csp_without_inline_script_and_no_caching(live_server, long_user):
    with _session(live_server.url, live_server.keys.acme) as c:
        response = c.get("/ui/users/reader")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store" and response.headers["x-frame-options"] == "DENY"


def test_the_sign_in_form_refuses_a_post_without_its_own_csrf_cookie(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        response = c.post("/ui/login", data={"key": live_server.keys.acme, "csrf": "forged"})
    assert response.status_code == 403 and "am_session" not in response.headers.get("set-cookie", "")


def test_sign_in_never_redirects_off_the_browser(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/login").text).group(1)
        response = c.post("/ui/login", data={"key": live_server.keys.acme, "csrf": csrf, "next": "//evil.example/x"})
    assert response.status_code == 303 and response.headers["location"] == "/ui/users"


def test_a_revoked_key_ends_its_session(live_server, server_stores):
    from memory_ops.server import keys

    new = keys.create_key(server_stores.pg, "acme", label="to revoke")
    with _session(live_server.url, new.key) as c:
        assert c.get("/ui/users").status_code == 200
        keys.revoke_key(server_stores.pg, new.row.id)
        time.sleep(5.5)  # MEMORY_SERVER_KEY_CACHE_S
        assert c.get("/ui/users").status_code == 303


def test_the_local_operator_token_signs_in_and_sees_every_runtime_user(server_stores, tenant_keys, long_user):
    with running_server(server_stores, mcp=False, ui_operator_code=OPERATOR_CODE) as url:
        with _session(url, OPERATOR_CODE) as c:
            users = c.get("/ui/users").text
            assert "local operator" in users and "plain-agent-user" in users and "acme:reader" in users
            assert c.get("/ui/users/plain-agent-user/conversation", params={"id": "plain-conv"}).status_code == 200
        with httpx.Client(base_url=url, timeout=60) as c:
            csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/login").text).group(1)
            assert c.post("/ui/login", data={"key": OPERATOR_CODE + "x", "csrf": csrf}).status_code == 401
    with running_server(server_stores, mcp=False) as url, httpx.Client(base_url=url, timeout=60) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/login").text).group(1)
        assert c.post("/ui/login", data={"key": OPERATOR_CODE, "csrf": csrf}).status_code == 401  # serve has none


def test_agent_memory_ui_serves_the_browser_and_prints_its_sign_in_link(server_namespace_settings, server_stores):
    port = free_port()
    env = {**store_env(server_namespace_settings), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memory_ops.cli", "ui", "--no-browser", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        link = re.search(r"(http://127\.0\.0\.1:\d+/ui/login)#key=(\S+)", line)
        assert link, line
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(link.group(1), timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        with _session(f"http://127.0.0.1:{port}", link.group(2)) as c:
            assert "local operator" in c.get("/ui/users").text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---- memory_runtime.memory.browse, on both graph backends --------------------------------------------------------


def test_browse_lists_only_the_users_of_a_prefix_with_search_and_paging(backend_stores):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for user in ("t1:ann", "t1:anna", "t1:bo", "t2:ann"):
        AgentMemory(user, stores=backend_stores).store_turns(_turns(f"{user}-c", 1, start))
    assert [u.user_id for u in browse.users(backend_stores, "t1:").items] == ["t1:ann", "t1:anna", "t1:bo"]
    assert [u.user_id for u in browse.users(backend_stores, "t1:", "ann").items] == ["t1:ann", "t1:anna"]
    page = browse.users(backend_stores, "t1:", limit=2)
    assert page.total == 3 and page.next_offset == 2
    assert browse.users(backend_stores, "t1:", limit=2, offset=2).total == 3
    assert browse.users(backend_stores, "t1:", "t1").items == []  # the search looks at the id after the prefix only


def test_browse_user_summary_counts_and_is_not_found_for_a_user_without_memories(backend_stores):
    memory = AgentMemory("u1", stores=backend_stores)
    memory.store_turns(_turns("c1", 3, datetime(2024, 1, 1, tzinfo=UTC)))
    memory.learn_fact("U1 likes tea")
    summary = browse.user_summary(backend_stores, "u1")
    assert (summary.conversations, summary.turns, summary.facts) == (1, 3, 1)
    with pytest.raises(NotFoundError):
        browse.user_summary(backend_stores, "nobody")


def test_browse_facts_as_of_pages_and_keeps_the_span(backend_stores):
    memory = AgentMemory("u1", stores=backend_stores)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(5):
        memory.learn_fact(f"fact {i}", valid_at=t0 + timedelta(days=i), invalid_at=t0 + timedelta(days=i + 2))
    page = browse.facts(backend_stores, "u1", as_of=t0 + timedelta(days=2, hours=1), limit=1)
    assert page.total == 2 and [f["claim"] for f in page.items] == ["fact 2"] and page.next_offset == 1
    assert browse.facts(backend_stores, "u1", include_invalid=False).total == 0
    assert browse.fact_span(backend_stores, "u1") == (t0, t0 + timedelta(days=6))
