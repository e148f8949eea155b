"""The MCP server through the SDK's own client: streamable HTTP at /mcp with bearer keys, and stdio."""

import sys
from contextlib import asynccontextmanager

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from memory_ops.server import schemas
from memory_ops.server.mcp_server import StrategyList
from memory_runtime.domain.models import Entity, Fact, Goal
from tests.server.conftest import store_env

pytestmark = pytest.mark.anyio

TOOLS = {
    "store_turn", "remember", "learn_fact", "search_facts", "upsert_entity", "add_goal", "list_goals",
    "record_tool_use", "what_worked_for", "forget_user",
}  # fmt: skip


@asynccontextmanager
async def mcp_client(url: str, key: str | None):
    """An MCP client session on the server's /mcp, with `key` as its bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = httpx2.Timeout(60, read=300)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


async def call(client: Client, tool: str, **arguments):
    """Call a tool that must succeed; returns its structured output."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None, f"{tool} returned no structured output"
    return result.structured_content


async def test_tools_list_offers_every_tool_with_a_description_and_an_output_schema(live_server):
    async with mcp_client(live_server.url, live_server.keys.acme) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tools.keys() >= TOOLS
    for name in TOOLS:
        assert tools[name].description and len(tools[name].description) > 40, name
        assert tools[name].output_schema is not None, name
        assert "user_id" in tools[name].input_schema["properties"], name
    assert tools["forget_user"].annotations.destructive_hint is True
    assert tools["remember"].annotations.read_only_hint is True


async def test_every_tool_answers_with_its_typed_structured_output(live_server):
    user = "mcp-every-tool"
    async with mcp_client(live_server.url, live_server.keys.acme) as client:
        written = schemas.WriteResultOut(**await call(
            client, "store_turn", user_id=user, conversation_id="c1", index=0, role="user",
            content="I moved to Lisbon and I am learning Cython.",
        ))  # fmt: skip
        assert written.inserted == 1
        ada = Entity(**await call(client, "upsert_entity", user_id=user, name="Ada", type="Person"))
        fact = Fact(**await call(
            client, "learn_fact", user_id=user, claim="The user lives in Lisbon", subject="user",
            predicate="lives_in", object="Lisbon", source_turn_ids=written.turn_ids,
        ))  # fmt: skip
        assert fact.source_turn_ids == written.turn_ids
        goal = Goal(**await call(client, "add_goal", user_id=user, description="Ship the ARM wheels", priority=5))
        sub = Goal(**await call(client, "add_goal", user_id=user, description="Set up the runner", parent_id=goal.id))
        assert sub.parent_id == goal.id
        goals = schemas.GoalList(**await call(client, "list_goals", user_id=user))
        assert {g.id for g in goals.goals} == {goal.id, sub.id}
        invocation = schemas.IdResponse(**await call(
            client, "record_tool_use", user_id=user, tool_name="search", success=True, latency_ms=12.5,
            tool_input={"q": "cython"}, tool_output={"hits": 3}, conversation_id="c1",
        ))  # fmt: skip
        assert invocation.id
        StrategyList(**await call(client, "what_worked_for", user_id=user, task="search the docs"))
        recalled = schemas.RememberResponse(**await call(client, "remember", user_id=user, query="where do I live?"))
        assert [t.conversation_id for t in recalled.bundle.relevant_turns] == ["c1"]
        assert fact.id in {f.id for f in recalled.bundle.facts}
        assert recalled.context and "Lisbon" in recalled.context
        found = schemas.FactSearchResult(**await call(client, "search_facts", user_id=user, query="Lisbon"))
        assert [f.id for f in found.facts] == [fact.id]
        assert ada.id
    async with mcp_client(live_server.url, live_server.keys.acme_admin) as admin:
        forgotten = schemas.ForgetResult(**await call(admin, "forget_user", user_id=user))
        assert forgotten.removed["postgres.conversation_logs"] == 1
        after = schemas.RememberResponse(**await call(admin, "remember", user_id=user, query="where do I live?"))
        assert after.bundle.relevant_turns == [] and after.bundle.facts == []


async def test_forget_user_is_refused_without_an_admin_key(live_server):
    async with mcp_client(live_server.url, live_server.keys.acme) as client:
        await call(client, "store_turn", user_id="keep-me", conversation_id="c", index=0, role="user", content="hi")
        result = await client.call_tool("forget_user", {"user_id": "keep-me"})
        assert result.is_error and "[forbidden]" in result.content[0].text
        recent = await call(client, "remember", user_id="keep-me", query="hi")
        assert len(recent["bundle"]["relevant_turns"]) == 1


async def test_a_tool_call_without_user_id_is_refused_over_http(live_server):
    async with mcp_client(live_server.url, live_server.keys.acme) as client:
        result = await client.call_tool("list_goals", {})
    assert result.is_error and "user_id is required" in result.content[0].text


async def test_bad_input_is_a_tool_error_with_the_rest_error_code(live_server):
    async with mcp_client(live_server.url, live_server.keys.acme) as client:
        result = await client.call_tool(
            "store_turn", {"user_id": "u", "conversation_id": "c", "index": 0, "role": "user", "content": "   "}
        )
    assert result.is_error and "[invalid_input]" in result.content[0].text


async def test_resources_give_the_profile_and_the_active_goals(live_server):
    async with mcp_client(live_server.url, live_server.keys.acme) as client:
        await call(client, "add_goal", user_id="res-user", description="Learn Portuguese")
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert {"memory://users/{user_id}/profile", "memory://users/{user_id}/goals"} <= templates
        goals = await client.read_resource("memory://users/res-user/goals")
        profile = await client.read_resource("memory://users/res-user/profile")
    assert "Learn Portuguese" in goals.contents[0].text
    assert '"preferences"' in profile.contents[0].text


@pytest.mark.parametrize("key", [None, "am_0123456789abcdef_" + "x" * 43, "not-a-key"])
async def test_a_missing_or_wrong_bearer_key_is_refused(live_server, key):
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its transport's HTTP error
        async with mcp_client(live_server.url, key) as client:
            await client.list_tools()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx.post(f"{live_server.url}/mcp", json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_stdio_server_acts_for_its_one_user_with_the_key_from_the_environment(
    live_server, server_namespace_settings, tmp_path
):
    env = {**store_env(server_namespace_settings), "MEMORY_API_KEY": live_server.keys.globex}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "memory_ops.cli", "mcp", "--user-id", "desk"], env=env, cwd=str(tmp_path)
    )
    async with Client(params) as client:
        assert {t.name for t in (await client.list_tools()).tools} >= TOOLS
        await call(client, "store_turn", conversation_id="d1", index=0, role="user", content="My cat is called Miso.")
        recalled = await call(client, "remember", query="what is my cat called?")
        other = await client.call_tool("remember", {"query": "cat", "user_id": "someone-else"})
        refused = await client.call_tool("forget_user", {})
    assert [t["content"] for t in recalled["bundle"]["relevant_turns"]] == ["My cat is called Miso."]
    assert other.is_error and "[forbidden]" in other.content[0].text
    assert refused.is_error and "[forbidden]" in refused.content[0].text  # a user key, not an admin one
    with live_server.client(live_server.keys.globex) as rest:  # the same tenant user over REST
        turns = rest.get("/v1/users/desk/turns").json()["turns"]
    assert [t["conversation_id"] for t in turns] == ["d1"]
