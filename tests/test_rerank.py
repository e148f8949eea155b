"""The reranking stage after turn fusion (MEMORY_RERANKER), on the real embedded stores of both graphs."""

from datetime import timedelta

import pytest

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Turn, now
from memory_runtime.retrieval import Retriever
from memory_runtime.retrieval.fusion import Candidate
from memory_runtime.retrieval.rerank import FEATURES, FeatureReranker, Query, features, fitted_sets
from tests.conftest import drop_namespace, make_settings, open_migrated

DIALOGUE = [
    "Clara: Hey Silas, how was your weekend?",
    "Silas: Busy! We finally brought someone new home from the shelter on Saturday.",
    "Clara: No way! What breed is the dog?",
    "Silas: A beagle, two years old, called Rocket. He is very sweet and loves long walks in the park.",
    "Clara: Lovely. Talk soon!",
]
OTHER = [
    "Clara: My sister's cat knocked the plant off the shelf again.",
    "Silas: The new bakery on the corner sells rye bread now.",
    "Clara: What breed of horse was in that film we saw?",
    "Silas: I think it was some kind of pony, I forget.",
]
ANSWER = DIALOGUE[3]
QUESTION = "What breed is Silas's dog?"


def _store(memory: AgentMemory) -> None:
    start = now() - timedelta(days=3)
    for conv, texts in (("c1", DIALOGUE), ("c2", OTHER)):
        memory.store_turns(
            [
                Turn(conversation_id=conv, index=i, role="user", content=t, timestamp=start + timedelta(minutes=i))
                for i, t in enumerate(texts)
            ]
        )


@pytest.fixture
def silas(backend_stores):
    with AgentMemory("silas", stores=backend_stores) as memory:
        _store(memory)
    return backend_stores


def test_reranking_puts_the_answer_above_the_turn_that_only_echoes_the_question(silas):
    fused = Retriever(silas, "silas", reranker="none").remember(QUESTION, top_k=5).relevant_turns
    reranked = Retriever(silas, "silas", reranker="features").remember(QUESTION, top_k=5).relevant_turns
    assert fused[0].content == DIALOGUE[2]  # fusion alone: the friend's question shares the most words
    assert reranked[0].content == ANSWER  # the reranker: a statement by the person asked about, after it
    assert {t.id for t in reranked} <= {t.id for t in Retriever(silas, "silas", reranker="none").remember(
        QUESTION, top_k=25).relevant_turns}  # fmt: skip  # it re-orders fused candidates, it finds no new ones
    assert all(0.0 < t.score < 1.0 for t in reranked) and [t.score for t in reranked] == sorted(
        (t.score for t in reranked), reverse=True
    )


def test_remember_reranks_by_the_setting(stack, namespace):
    answers = {}
    for choice in ("none", "features"):
        settings = make_settings(stack, f"{namespace}_{choice[0]}", reranker=choice)
        try:
            with open_migrated(settings) as stores, AgentMemory("silas", stores=stores) as memory:
                _store(memory)
                bundle = memory.remember(QUESTION, top_k=3)
                answers[choice] = (bundle.relevant_turns[0].content, "rerank" in bundle.timings_ms)
        finally:
            drop_namespace(settings)
    assert answers == {"none": (DIALOGUE[2], False), "features": (ANSWER, True)}


def _candidate(index: int, content: str, score: float, **raw: float) -> Candidate:
    item = {"id": f"t{index}", "conversation_id": "c1", "index": index, "content": content, "timestamp": now()}
    return Candidate(item["id"], item, {s: 0 for s in raw} or {"context": 0}, dict(raw), score)


def test_features_describe_each_candidate_by_name():
    query = Query.of(QUESTION, {"breed": 2.0, "sila": 1.0, "dog": 1.5})
    assert query.names == {"Silas"}
    cands = [_candidate(2, DIALOGUE[2], 1.0, fulltext=4.0), _candidate(3, ANSWER, 0.5, vector=0.4)]
    rows = {name: list(col) for name, col in zip(FEATURES, features(query, cands, now()).T, strict=True)}
    assert rows["question"] == [1.0, 0.0] and rows["speaker"] == [0.0, 1.0]
    assert rows["fused"] == [1.0, 0.5] and rows["bm25"] == [1.0, 0.0] and rows["cosine"] == [0.0, 0.4]
    assert rows["coverage"][0] == pytest.approx(3.5 / 4.5) and rows["previous"][1] == rows["coverage"][0]
    assert rows["window"][1] == 1.0  # the answer and the question before it cover the query together


def test_the_fitted_sets_name_only_known_features_and_unknown_ones_are_refused():
    assert set(fitted_sets()) == {"lexical", "semantic"}
    for depth, weights in fitted_sets().values():
        assert depth >= 50 and set(weights) <= set(FEATURES) and weights.get("question", 0) < 0
    with pytest.raises(ValueError, match="unknown reranking features: typo"):
        FeatureReranker({"typo": 1.0})
