"""The REST API through httpx against a live uvicorn: every route family, and each error status with its code."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from memory_ops.server.settings import ServerSettings
from memory_runtime.stores.bundle import Stores
from tests.conftest import DIMS
from tests.server.conftest import METRICS_BEARER, free_port, running_server


def turn(conv: str, index: int, content: str, **extra):
    return {"conversation_id": conv, "index": index, "role": "user", "content": content, **extra}


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_turns_are_stored_once_and_read_back_under_the_tenants_own_conversation_ids(live_server):
    with live_server.client(live_server.keys.acme) as c:
        first = c.post("/v1/users/r1/turns", json=turn("c1", 0, "I moved to Lisbon.", id="msg-1"))
        again = c.post("/v1/users/r1/turns", json=turn("c1", 0, "I moved to Lisbon.", id="msg-1"))
        batch = c.post("/v1/users/r1/turns/batch", json={"turns": [turn("c1", 1, "It is sunny."), turn("c2", 0, "Hi")]})
        recent = c.get("/v1/users/r1/turns", params={"conversation_id": "c1"})
    assert (first.status_code, first.json()["turn_ids"], first.json()["inserted"]) == (201, ["msg-1"], 1)
    assert again.json()["duplicates"] == 1
    assert batch.status_code == 201 and batch.json()["inserted"] == 2
    assert [(t["id"], t["conversation_id"], t["index"]) for t in recent.json()["turns"]][0] == ("msg-1", "c1", 0)
    assert {t["conversation_id"] for t in recent.json()["turns"]} == {"c1"}


def test_remember_returns_the_bundle_and_a_context_packed_into_max_tokens(live_server):
    with live_server.client(live_server.keys.acme) as c:
        c.post("/v1/users/r2/turns", json=turn("r2-c1", 0, "My favourite editor is Helix."))
        c.post("/v1/users/r2/facts", json={"claim": "The user prefers Helix", "confidence": 0.8})
        r = c.post("/v1/users/r2/remember", json={"query": "which editor?", "top_k": 3, "max_tokens": 30})
        plain = c.post("/v1/users/r2/remember", json={"query": "which editor?", "time_window_hours": 1})
    body = r.json()
    assert r.status_code == 200
    assert body["bundle"]["relevant_turns"][0]["conversation_id"] == "r2-c1"
    assert body["bundle"]["facts"][0]["claim"] == "The user prefers Helix"
    assert 0 < len(body["context"]) <= 30 * 4
    assert plain.json()["context"] is None and plain.json()["bundle"]["relevant_turns"]


def test_facts_keep_provenance_and_validity_and_answer_as_of_a_past_time(live_server):
    with live_server.client(live_server.keys.acme) as c:
        stored = c.post("/v1/users/r3/turns", json=turn("r3-c1", 0, "I live in Porto.")).json()["turn_ids"]
        old = c.post(
            "/v1/users/r3/facts",
            json={"claim": "The user lives in Porto", "subject": "user", "predicate": "lives_in", "object": "Porto",
                  "source_turn_ids": stored, "valid_at": "2024-01-01T00:00:00Z"},
        ).json()  # fmt: skip
        between = datetime.now(UTC)
        new = c.post(
            "/v1/users/r3/facts",
            json={"claim": "The user lives in Lisbon", "subject": "user", "predicate": "lives_in", "object": "Lisbon"},
        ).json()
        current = c.get("/v1/users/r3/facts").json()["facts"]
        every = c.get("/v1/users/r3/facts", params={"include_invalid": True}).json()["facts"]
        then = c.get("/v1/users/r3/facts", params={"as_of": between.isoformat(), "known_at": between.isoformat()})
        one = c.get(f"/v1/users/r3/facts/{old['id']}").json()
    assert [f["id"] for f in current] == [new["id"]]
    assert {f["id"] for f in every} == {old["id"], new["id"]}
    assert [f["id"] for f in then.json()["facts"]] == [old["id"]]
    assert one["source_turn_ids"] == stored and one["invalid_at"] is not None and new["id"] in one["superseded_by"]


def test_entities_relations_goals_tools_strategies_and_the_profile(live_server):
    with live_server.client(live_server.keys.acme) as c:
        ada = c.post("/v1/users/r4/entities", json={"name": "Ada", "type": "Person"}).json()
        acme = c.post("/v1/users/r4/entities", json={"name": "Acme", "type": "Organization"}).json()
        assert c.post("/v1/users/r4/relations", json={"source_id": ada["id"], "target_id": acme["id"],
                                                      "type": "WORKS_FOR"}).status_code == 204  # fmt: skip
        near = c.get(f"/v1/users/r4/entities/{ada['id']}/neighbours").json()
        assert c.get(f"/v1/users/r4/entities/{ada['id']}").json()["name"] == "Ada"
        goal = c.post("/v1/users/r4/goals", json={"description": "Ship it", "priority": 5}).json()
        sub = c.post("/v1/users/r4/goals", json={"description": "Write docs", "parent_id": goal["id"]}).json()
        blocker = c.post("/v1/users/r4/goals", json={"description": "Get review"}).json()
        blocked = c.post(f"/v1/users/r4/goals/{goal['id']}/blockers", json={"blocked_by_goal_id": blocker["id"]})
        subs = c.get(f"/v1/users/r4/goals/{goal['id']}/subgoals").json()["goals"]
        done = c.patch(f"/v1/users/r4/goals/{sub['id']}", json={"status": "completed"}).json()
        active = c.get("/v1/users/r4/goals").json()["goals"]
        used = c.post("/v1/users/r4/tool-usage", json={"tool_name": "grep", "success": True, "latency_ms": 3})
        stats = c.get("/v1/users/r4/tools").json()
        strategy = {
            "description": "grep the logs",
            "task_type": "debugging",
            "tool_sequence": ["grep"],
            "success": True,
        }
        sid = c.post("/v1/users/r4/strategies", json=strategy).json()["id"]
        again = c.post(f"/v1/users/r4/strategies/{sid}/outcomes", json={"success": True}).json()
        worked = c.get("/v1/users/r4/strategies", params={"task": "debugging a crash"}).json()
        assert c.put("/v1/users/r4/preferences/editor", json={"value": "helix"}).status_code == 204
        context = c.get("/v1/users/r4/context").json()
        timeline = c.get("/v1/users/r4/timeline", params={"since": "2020-01-01T00:00:00Z"})
    assert [n["name"] for n in near] == ["Acme"]
    assert blocked.json()["blocked_by"] == [blocker["id"]]
    assert [g["id"] for g in subs] == [sub["id"]] and done["status"] == "completed"
    assert sub["id"] not in {g["id"] for g in active}
    assert used.status_code == 201 and stats[0]["name"] == "grep" and stats[0]["usage_count"] == 1
    assert again["success_count"] == 2 and worked[0]["id"] == sid
    assert context["preferences"]["editor"] == "helix"
    assert timeline.status_code == 200 and timeline.json() == {"events": []}  # filled by the memory_timeline asset


def test_forget_user_needs_an_admin_key_and_erases_only_that_user(live_server):
    with live_server.client(live_server.keys.acme) as c:
        c.post("/v1/users/gone/turns", json=turn("gone-c1", 0, "delete me"))
        c.post("/v1/users/stays/turns", json=turn("c9", 0, "keep me"))
        refused = c.delete("/v1/users/gone")
    with live_server.client(live_server.keys.acme_admin) as admin:
        erased = admin.delete("/v1/users/gone")
        gone = admin.get("/v1/users/gone/turns").json()["turns"]
        stays = admin.get("/v1/users/stays/turns").json()["turns"]
    assert (refused.status_code, error_code(refused)) == (403, "forbidden")
    assert erased.status_code == 200 and erased.json()["removed"]["postgres.conversation_logs"] == 1
    assert gone == [] and len(stays) == 1


def test_x_api_key_authenticates_like_a_bearer_key(live_server):
    with live_server.client(None, headers={"X-API-Key": live_server.keys.globex}) as c:
        assert c.get("/v1/whoami").json() == {**c.get("/v1/whoami").json(), "tenant": "globex", "admin": False}


UNKNOWN_KEY = "am_0123456789abcdef_" + "a" * 43  # well-formed, never created


@pytest.mark.parametrize(
    ("header", "value"),
    [(None, None), ("Authorization", "Bearer nope"), ("Authorization", "Basic abc"), ("X-API-Key", UNKNOWN_KEY)],
)
def test_a_missing_or_wrong_key_is_401_with_a_bearer_challenge(live_server, header, value):
    with live_server.client(None, headers={header: value} if header else {}) as c:
        r = c.post("/v1/users/u/remember", json={"query": "x"})
    assert (r.status_code, error_code(r)) == (401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"query": "x"', 400, "malformed_json"),
        (b'{"query": NaN}', 400, "malformed_json"),
        (b'{"query": "x", "time_window_hours": Infinity}', 400, "malformed_json"),
        (b'{"query": "x", "time_window_hours": 1e999}', 400, "malformed_json"),
        (b'{"query": ""}', 422, "invalid_request"),
        (b'{"query": "x", "top_k": "ten"}', 422, "invalid_request"),
        (b'{"query": "x", "surprise": 1}', 422, "invalid_request"),
        (b"[]", 422, "invalid_request"),
    ],
)
def test_bad_input_is_4xx_with_a_stable_code(live_server, body, status, code):
    with live_server.client(live_server.keys.acme) as c:
        r = c.post("/v1/users/u/remember", content=body, headers={"content-type": "application/json"})
    assert (r.status_code, error_code(r)) == (status, code)


def test_runtime_rejections_are_422_never_500(live_server):
    with live_server.client(live_server.keys.acme) as c:
        blank = c.post("/v1/users/u/turns", json=turn("c1", 0, "   "))
        wrong_dims = c.post("/v1/users/u/turns", json=turn("c1", 0, "hello", embedding=[0.1] * (DIMS + 1)))
        control = c.post("/v1/users/u%01x/turns", json=turn("c1", 0, "hello"))
        relation = c.post("/v1/users/u/relations", json={"source_id": "a", "target_id": "b", "type": "HATES"})
    assert (blank.status_code, error_code(blank)) == (422, "invalid_request")
    assert (wrong_dims.status_code, error_code(wrong_dims)) == (422, "invalid_embedding")
    assert (control.status_code, error_code(control)) == (422, "invalid_input")
    assert (relation.status_code, error_code(relation)) == (422, "invalid_relationship_type")


def test_unknown_ids_are_404_and_a_turn_conflict_is_409(live_server):
    with live_server.client(live_server.keys.acme) as c:
        c.post("/v1/users/r5/turns", json=turn("r5-c1", 0, "first"))
        conflict = c.post("/v1/users/r5/turns", json=turn("r5-c1", 0, "different"))
        other_user = c.post("/v1/users/r6/turns", json=turn("r5-c1", 1, "not r6's"))
        fact = c.get("/v1/users/r5/facts/no-such-fact")
        goal = c.patch("/v1/users/r5/goals/no-such-goal", json={"status": "completed"})
        route = c.get("/v1/no-such-route")
    assert (conflict.status_code, error_code(conflict)) == (409, "turn_conflict")
    assert (other_user.status_code, error_code(other_user)) == (409, "conversation_conflict")
    assert "acme:" not in conflict.json()["error"]["message"]  # the namespace stays the server's business
    assert (fact.status_code, error_code(fact)) == (404, "not_found")
    assert (goal.status_code, error_code(goal)) == (404, "not_found")
    assert (route.status_code, error_code(route)) == (404, "not_found")


def test_an_oversize_body_is_413_whether_declared_or_chunked(live_server):
    big = b'{"query": "' + b"x" * (300 * 1024) + b'"}'

    def chunks():
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    with live_server.client(live_server.keys.acme) as c:
        declared = c.post("/v1/users/u/remember", content=big, headers={"content-type": "application/json"})
        chunked = c.post("/v1/users/u/remember", content=chunks(), headers={"content-type": "application/json"})
    assert (declared.status_code, error_code(declared)) == (413, "body_too_large")
    assert (chunked.status_code, error_code(chunked)) == (413, "body_too_large")


def test_rate_limits_are_429_with_retry_after(server_stores, tenant_keys):
    limited = Stores.open(server_stores.settings.model_copy(update={"rate_limit_reads_per_minute": 1,
                                                                   "rate_limit_burst": 1}))  # fmt: skip
    try:
        with running_server(limited) as url, httpx.Client(base_url=url) as c:
            headers = {"Authorization": f"Bearer {tenant_keys.acme}"}
            first = c.post("/v1/users/limited/remember", json={"query": "x"}, headers=headers)
            second = c.post("/v1/users/limited/remember", json={"query": "x"}, headers=headers)
    finally:
        limited.close()
    assert first.status_code == 200
    assert (second.status_code, error_code(second)) == (429, "rate_limited")
    assert int(second.headers["retry-after"]) >= 1


def test_a_postgres_outage_is_503_naming_the_store_and_readyz_says_which(server_stores, tenant_keys):
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/agent_memory"
    down = Stores.open(server_stores.settings.model_copy(update={"postgres_uri": dead, "connect_timeout_s": 1}))
    try:
        with running_server(down) as url, httpx.Client(base_url=url, timeout=60) as c:
            ready = c.get("/readyz")
            r = c.post("/v1/users/u/remember", json={"query": "x"}, headers={"X-API-Key": tenant_keys.acme})
    finally:
        down.close()
    assert ready.status_code == 503 and ready.json()["stores"]["postgres"].startswith("unavailable")
    assert ready.json()["stores"]["graph"] == "ok"
    assert (r.status_code, error_code(r)) == (503, "store_unavailable")
    assert r.json()["error"]["details"]["store"] == "PostgreSQL"


def test_a_redis_outage_only_costs_working_memory_and_readyz_reports_it(server_stores, tenant_keys):
    down = Stores.open(server_stores.settings.model_copy(update={"redis_uri": f"redis://127.0.0.1:{free_port()}"}))
    try:
        with running_server(down) as url, httpx.Client(base_url=url, timeout=60) as c:
            headers = {"Authorization": f"Bearer {tenant_keys.acme}"}
            ready = c.get("/readyz")
            write = c.post("/v1/users/outage/turns", json=turn("outage-c1", 0, "durable anyway"), headers=headers)
            read = c.post("/v1/users/outage/remember", json={"query": "durable"}, headers=headers)
    finally:
        down.close()
    assert ready.status_code == 503 and ready.json()["stores"]["redis"].startswith("unavailable")
    assert write.status_code == 201 and "working memory not updated for 'outage-c1'" in write.json()["warnings"][0]
    assert [t["content"] for t in read.json()["bundle"]["relevant_turns"]] == ["durable anyway"]


def test_health_metrics_and_the_openapi_document(live_server):
    with live_server.client(None) as c:
        health, ready = c.get("/healthz"), c.get("/readyz")
        no_token, metrics = c.get("/metrics"), c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_BEARER}"})
        spec = c.get("/openapi.json").json()
    assert health.json() == {"status": "ok", "stores": {}}
    assert ready.json()["stores"] == {"postgres": "ok", "graph": "ok", "redis": "ok"}
    assert no_token.status_code == 401 and "agent_memory_operation_seconds" in metrics.text
    assert spec["openapi"].startswith("3.1")
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/v1/users/"):
                assert {"400", "401", "422", "503"} <= op["responses"].keys(), (method, path)


def test_metrics_are_off_without_a_token(server_stores):
    settings = ServerSettings(_env_file=None)  # type: ignore[call-arg]
    with running_server(server_stores, settings) as url, httpx.Client(base_url=url) as c:
        r = c.get("/metrics")
    assert (r.status_code, error_code(r)) == (404, "not_found")


def test_a_revoked_key_is_refused_once_the_key_cache_expires(live_server, server_stores):
    from memory_ops.server import keys

    new = keys.create_key(server_stores.pg, "acme", label="short-lived")
    settings = ServerSettings(_env_file=None, server_key_cache_s=0)  # type: ignore[call-arg]
    with running_server(server_stores, settings) as url, httpx.Client(base_url=url) as c:
        headers = {"Authorization": f"Bearer {new.key}"}
        before = c.get("/v1/whoami", headers=headers)
        assert keys.revoke_key(server_stores.pg, new.row.id)
        after = c.get("/v1/whoami", headers=headers)
    [row] = [r for r in keys.list_keys(server_stores.pg, "acme") if r.id == new.row.id]
    assert before.status_code == 200 and after.status_code == 401
    assert row.last_used_at is not None and row.revoked_at is not None
    assert row.last_used_at - row.created_at < timedelta(minutes=1)
