"""Two tenants with the same user ids never see, change or count each other's memories: REST and MCP, randomized."""

import random

import pytest

from tests.server.test_mcp import call, mcp_client

USERS = 16
SEED = 20261207


def _secret(rng: random.Random) -> str:
    return "zq" + "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))


@pytest.fixture(scope="module")
def planted(live_server):
    """Per tenant and user: a turn, a fact and a goal carrying a secret word of their own."""
    rng = random.Random(SEED)
    users = [f"user-{rng.randrange(10**6)}" for _ in range(USERS)]
    keys = {"acme": live_server.keys.acme, "globex": live_server.keys.globex}
    data: dict[tuple[str, str], dict[str, str]] = {}
    for user in users:
        for tenant in rng.sample(sorted(keys), 2):  # the order in which the twins write is random too
            secret = _secret(rng)
            with live_server.client(keys[tenant]) as c:
                conv = f"{user}-conv"  # the same conversation id in both tenants
                turn = {"conversation_id": conv, "index": 0, "role": "user", "content": f"my code word is {secret}"}
                assert c.post(f"/v1/users/{user}/turns", json=turn).status_code == 201
                fact = c.post(f"/v1/users/{user}/facts", json={"claim": f"The code word is {secret}"}).json()
                goal = c.post(f"/v1/users/{user}/goals", json={"description": f"Remember {secret}"}).json()
            data[(tenant, user)] = {"word": secret, "fact": fact["id"], "goal": goal["id"]}
    return users, keys, data


def _other(tenant: str) -> str:
    return "globex" if tenant == "acme" else "acme"


def test_rest_reads_return_only_the_callers_tenant_and_foreign_ids_are_404(live_server, planted):
    users, keys, data = planted
    for (tenant, user), mine in data.items():
        theirs = data[(_other(tenant), user)]
        with live_server.client(keys[tenant]) as c:
            bundle = c.post(f"/v1/users/{user}/remember", json={"query": theirs["word"], "max_tokens": 2000}).json()
            text = str({**bundle["bundle"], "query": ""}) + str(bundle["context"])  # the query echoes the word
            facts = c.get(f"/v1/users/{user}/facts", params={"include_invalid": True}).json()["facts"]
            goals = c.get(f"/v1/users/{user}/goals").json()["goals"]
            turns = c.get(f"/v1/users/{user}/turns").json()["turns"]
            own = c.post(f"/v1/users/{user}/remember", json={"query": mine["word"]}).json()["bundle"]
            foreign_fact = c.get(f"/v1/users/{user}/facts/{theirs['fact']}")
            foreign_goal = c.patch(f"/v1/users/{user}/goals/{theirs['goal']}", json={"status": "abandoned"})
        assert theirs["word"] not in text
        assert [t["content"] for t in own["relevant_turns"]] == [f"my code word is {mine['word']}"]
        assert [f["id"] for f in facts] == [mine["fact"]]
        assert [g["id"] for g in goals] == [mine["goal"]]
        assert [t["content"] for t in turns] == [f"my code word is {mine['word']}"]
        assert foreign_fact.status_code == 404 and foreign_goal.status_code == 404


def test_mcp_tools_return_only_the_callers_tenant(live_server, planted):
    import anyio

    users, keys, data = planted

    async def check() -> None:
        for tenant in keys:
            async with mcp_client(live_server.url, keys[tenant]) as client:
                for user in users:
                    mine, theirs = data[(tenant, user)], data[(_other(tenant), user)]
                    recalled = await call(client, "remember", user_id=user, query=theirs["word"])
                    found = await call(client, "search_facts", user_id=user, query=theirs["word"])
                    goals = await call(client, "list_goals", user_id=user)
                    recalled["bundle"]["query"] = ""  # the query echoes the word
                    assert theirs["word"] not in str(recalled) + str(found)
                    assert {f["id"] for f in found["facts"]} <= {mine["fact"]}
                    assert [g["id"] for g in goals["goals"]] == [mine["goal"]]

    anyio.run(check)


def test_an_admin_forgets_a_user_only_in_its_own_tenant(live_server, planted):
    users, keys, data = planted
    victim = random.Random(SEED + 1).choice(users)
    with live_server.client(live_server.keys.globex_admin) as admin:
        removed = admin.delete(f"/v1/users/{victim}").json()["removed"]
    with live_server.client(keys["acme"]) as c:
        kept = c.get(f"/v1/users/{victim}/turns").json()["turns"]
    with live_server.client(keys["globex"]) as c:
        gone = c.get(f"/v1/users/{victim}/turns").json()["turns"]
    assert removed["postgres.conversation_logs"] == 1  # counts only the caller's tenant
    assert [t["content"] for t in kept] == [f"my code word is {data[('acme', victim)]['word']}"]
    assert gone == []
