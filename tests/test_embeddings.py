"""Embedders: the hashing default, OpenAI at its HTTP boundary (httpx.MockTransport), sentence-transformers extra."""

import asyncio
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from memory_runtime import AsyncAgentMemory, Turn
from memory_runtime.config import load_settings
from memory_runtime.domain.errors import ConfigurationError, InvalidEmbedding, StoreUnavailableError
from memory_runtime.embeddings import make_embedder
from memory_runtime.embeddings.base import check_dimensions
from memory_runtime.embeddings.hashing import HashingEmbedder
from memory_runtime.embeddings.openai import OpenAIEmbedder
from memory_runtime.stores.async_bundle import AsyncStores
from memory_runtime.stores.bridge import run as in_bridge
from memory_runtime.stores.redis.embedding_cache import CachedEmbedder
from tests.loop_lag import p95, probed

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
DIMS = 64


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


class EmbeddingsServer:
    """Answers POST /v1/embeddings like the API (hashing vectors in the recorded payload's shape).

    `failures` are HTTP statuses returned, in order, before it starts answering; `requests` records
    every request body it received.
    """

    def __init__(self, dims: int = DIMS, failures: list[int] | None = None, reply_dims: int | None = None):
        self.vectors = HashingEmbedder(reply_dims or dims)
        self.failures = list(failures or [])
        self.requests: list[dict] = []
        self.headers: list[httpx.Headers] = []
        self.urls: list[httpx.URL] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path.endswith("/embeddings")
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(request.headers)
        self.urls.append(request.url)
        if self.failures:
            return httpx.Response(
                self.failures.pop(0), json=fixture("rate_limit_error.json"), headers={"retry-after-ms": "1"}
            )
        payload = fixture("embeddings_response.json")
        item = payload["data"][0]
        payload["data"] = [
            {**item, "index": i, "embedding": vec} for i, vec in enumerate(self.vectors.embed(body["input"]))
        ]
        payload["model"] = body["model"]
        return httpx.Response(200, json=payload)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def async_client(self, latency_s: float = 0.0) -> httpx.AsyncClient:
        """An asyncio client on this server, each answer `latency_s` late (the loop runs on meanwhile)."""

        async def answer(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(latency_s)
            return self(request)

        return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def openai_embedder(server, model: str = "text-embedding-3-small", dims: int = DIMS, **kwargs) -> OpenAIEmbedder:
    return OpenAIEmbedder(model, dims, api_key="sk-test", http_client=server.client(), **kwargs)


# ---- hashing ---------------------------------------------------------------------------------------
TEXTS = ["Ada Lovelace wrote the first program", "We compiled the extension with Cython", "?!"]


def test_hashing_embedder_is_deterministic_across_instances():
    assert HashingEmbedder(DIMS).embed(TEXTS) == HashingEmbedder(DIMS).embed(TEXTS)


def test_hashing_embedder_is_deterministic_across_processes():
    code = (
        "import json; from memory_runtime.embeddings.hashing import HashingEmbedder; "
        f"print(json.dumps(HashingEmbedder({DIMS}).embed({TEXTS!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"}
    )
    assert json.loads(out.stdout) == HashingEmbedder(DIMS).embed(TEXTS)


def test_hashing_vectors_have_unit_norm():
    for vec in HashingEmbedder(DIMS).embed(TEXTS):
        assert math.isclose(math.fsum(x * x for x in vec), 1.0, rel_tol=1e-5)


def test_hashing_embedder_places_related_texts_closer_than_unrelated_ones():
    question, related, unrelated = HashingEmbedder(DIMS).embed(
        [
            "How do I compile a Python extension with Cython?",
            "compiling Cython extensions for Python",
            "the weather in Paris is sunny today",
        ]
    )
    assert cosine(question, related) > cosine(question, unrelated) + 0.3


def test_hashing_embedder_gives_punctuation_only_text_a_finite_vector():
    [vec] = HashingEmbedder(DIMS).embed(["?!... --- ;;"])

    assert len(vec) == DIMS and all(math.isfinite(x) for x in vec)
    assert math.isclose(math.fsum(x * x for x in vec), 1.0, rel_tol=1e-5)


# ---- openai ----------------------------------------------------------------------------------------
def test_openai_embedder_parses_a_recorded_response():
    recorded = fixture("embeddings_response.json")
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=recorded)))
    embedder = OpenAIEmbedder("text-embedding-3-small", 8, api_key="sk-test", http_client=client)

    vectors = embedder.embed(["first text", "second text"])

    assert vectors == [pytest.approx(item["embedding"]) for item in recorded["data"]]


def test_openai_embedder_orders_vectors_by_their_index():
    recorded = fixture("embeddings_response.json")
    shuffled = {**recorded, "data": list(reversed(recorded["data"]))}
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=shuffled)))
    embedder = OpenAIEmbedder("text-embedding-3-small", 8, api_key="sk-test", http_client=client)

    vectors = embedder.embed(["first text", "second text"])

    assert vectors == [pytest.approx(item["embedding"]) for item in recorded["data"]]


def test_openai_embedder_batches_requests():
    server = EmbeddingsServer()
    texts = [f"text number {i}" for i in range(600)]

    vectors = openai_embedder(server).embed(texts)

    assert [len(r["input"]) for r in server.requests] == [256, 256, 88]
    assert [t for r in server.requests for t in r["input"]] == texts
    assert vectors == [pytest.approx(v) for v in HashingEmbedder(DIMS).embed(texts)]


def test_openai_embedder_requests_the_configured_dimensions_as_floats():
    server = EmbeddingsServer()

    openai_embedder(server).embed(["hello"])

    assert server.requests[0] == {
        "model": "text-embedding-3-small",
        "input": ["hello"],
        "dimensions": DIMS,
        "encoding_format": "float",
    }


def test_openai_embedder_omits_dimensions_for_models_without_them():
    server = EmbeddingsServer()

    openai_embedder(server, model="text-embedding-ada-002").embed(["hello"])

    assert "dimensions" not in server.requests[0]


def test_openai_embedder_sends_blank_texts_as_a_space():
    server = EmbeddingsServer()

    openai_embedder(server).embed(["", "  "])

    assert server.requests[0]["input"] == [" ", " "]


def test_openai_embedder_retries_a_rate_limited_request():
    server = EmbeddingsServer(failures=[429])

    [vec] = openai_embedder(server).embed(["hello"])

    assert len(server.requests) == 2
    assert vec == pytest.approx(HashingEmbedder(DIMS).embed(["hello"])[0])


def test_openai_embedder_reports_an_unavailable_endpoint_after_its_retries():
    server = EmbeddingsServer(failures=[503, 503, 503])

    with pytest.raises(StoreUnavailableError, match="MEMORY_OPENAI_BASE_URL"):
        openai_embedder(server, max_retries=2).embed(["hello"])
    assert len(server.requests) == 3


def test_openai_embedder_reports_a_rejected_key_as_configuration_error():
    server = EmbeddingsServer(failures=[401])

    with pytest.raises(ConfigurationError, match="MEMORY_OPENAI_API_KEY"):
        openai_embedder(server).embed(["hello"])
    assert len(server.requests) == 1


def test_wrong_dimension_response_raises_invalid_embedding():
    server = EmbeddingsServer(dims=DIMS, reply_dims=DIMS + 1)
    embedder = CachedEmbedder(openai_embedder(server), None, 0)

    with pytest.raises(InvalidEmbedding, match=f"{DIMS + 1} dimensions"):
        embedder.embed(["hello"])


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([0.1] * 3, "3 dimensions"),
        ([[0.1, 0.2]] * 4, "dimensions"),
        (["x"] * 4, "not a flat sequence"),
        ([10**400] * 4, "not a flat sequence"),
        ([0.1, float("nan"), 0.2, 0.3], "NaN"),
        ([0.1, None, 0.2, 0.3], "NaN"),
        ([1e39, 0.0, 0.0, 0.0], "float32"),
    ],
)
def test_a_malformed_vector_from_any_provider_is_a_typed_error(vector, message):
    with pytest.raises(InvalidEmbedding, match=message):
        check_dimensions(vector, 4)


def test_a_valid_vector_comes_back_as_a_list_of_floats():
    out = check_dimensions((1, 0.5, True, -2), 4)
    assert out == [1.0, 0.5, 1.0, -2.0] and all(type(x) is float for x in out)


def test_embedding_cache_avoids_a_second_request(stores):
    server = EmbeddingsServer()
    embedder = CachedEmbedder(openai_embedder(server), stores.redis, ttl_s=60)

    first = embedder.embed(["alpha", "beta"])
    second = embedder.embed(["alpha", "beta"])
    embedder.embed(["alpha", "gamma"])

    assert second == first
    assert [r["input"] for r in server.requests] == [["alpha", "beta"], ["gamma"]]


def test_openai_embedder_model_id_names_model_and_dimensions():
    assert openai_embedder(EmbeddingsServer()).model_id == f"openai:text-embedding-3-small:{DIMS}"


def test_openai_embedder_from_settings_calls_the_configured_server_with_the_key():
    settings = load_settings(
        _env_file=None,
        embedding_provider="openai",
        embedding_dimensions=DIMS,
        openai_api_key="sk-settings",
        openai_base_url="http://embeddings.internal:8000/v1",
    )
    server = EmbeddingsServer()

    OpenAIEmbedder.from_settings(settings, http_client=server.client()).embed(["hello"])

    assert str(server.urls[0]) == "http://embeddings.internal:8000/v1/embeddings"
    assert server.headers[0]["authorization"] == "Bearer sk-settings"


def test_openai_embedder_without_key_or_base_url_is_a_configuration_error():
    settings = load_settings(_env_file=None, embedding_provider="openai", embedding_dimensions=DIMS)

    with pytest.raises(ConfigurationError, match="MEMORY_OPENAI_API_KEY"):
        make_embedder(settings)


# ---- sentence-transformers -------------------------------------------------------------------------
def test_missing_sentence_transformers_is_a_configuration_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    settings = load_settings(_env_file=None, embedding_provider="sentence-transformers")

    with pytest.raises(ConfigurationError, match="pip install sentence-transformers"):
        make_embedder(settings)


def test_hashing_vectors_are_computed_not_cached(stores):
    """A hashing vector costs less than a Redis round trip: nothing is read from or written to the cache."""
    embedder = CachedEmbedder(HashingEmbedder(DIMS), stores.redis, ttl_s=60)
    first = embedder.embed(["a turn about kayaks", "another about soup"])
    assert embedder.embed(["a turn about kayaks"]) == first[:1]
    assert embedder.hits == embedder.misses == 0
    assert not list(stores.redis.client.scan_iter(match=stores.redis.key("emb", "*")))


# ---- openai under AsyncAgentMemory: the request is awaited, the event loop keeps running -------------------
class _Blocking(httpx.BaseTransport):
    """A sync transport that would block the loop for `seconds` before failing: the sync client must not be used."""

    def __init__(self, seconds: float = 0.1) -> None:
        self.seconds = seconds
        self.used = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.used += 1
        time.sleep(self.seconds)
        return httpx.Response(500, json=fixture("rate_limit_error.json"))


def test_openai_aembed_sends_the_request_embed_sends():
    sync_server, async_server = EmbeddingsServer(), EmbeddingsServer()
    texts = ["Ada Lovelace", "", "Cython"]
    embedder = OpenAIEmbedder(
        "text-embedding-3-small", DIMS, api_key="sk-test", http_client=sync_server.client(),
        async_http_client=async_server.async_client(),
    )  # fmt: skip

    assert asyncio.run(embedder.aembed(texts)) == embedder.embed(texts)
    assert (
        async_server.requests == sync_server.requests and async_server.headers[0]["authorization"] == "Bearer sk-test"
    )


def test_openai_aembed_reports_errors_as_embed_does():
    server = EmbeddingsServer(failures=[401])
    embedder = OpenAIEmbedder(
        "text-embedding-3-small", DIMS, api_key="sk-test", async_http_client=server.async_client()
    )

    with pytest.raises(ConfigurationError, match="MEMORY_OPENAI_API_KEY"):
        asyncio.run(embedder.aembed(["hello"]))


def test_openai_embedder_under_async_agent_memory_does_not_block_the_event_loop(backend_stores):
    """remember() and store_turn() embed through the asyncio client: while the (50 ms late) endpoint answers,
    the loop keeps waking a 1 ms probe; the sync client, which would block it for 100 ms, is never used."""
    server, blocking = EmbeddingsServer(), _Blocking()
    embedder = OpenAIEmbedder(
        "text-embedding-3-small", DIMS, api_key="sk-test", max_retries=0,
        http_client=httpx.Client(transport=blocking), async_http_client=server.async_client(latency_s=0.05),
    )  # fmt: skip
    lags: list[float] = []

    async def main() -> None:
        stores = await AsyncStores.aopen(backend_stores.settings)
        stores.embedder = CachedEmbedder(embedder, stores.redis, ttl_s=0)
        try:
            async with AsyncAgentMemory("u1", "c1", stores=stores) as memory:
                turn = Turn(conversation_id="c1", index=0, role="user", content="We compiled the parser with Cython")
                await probed(memory.store_turn(turn), lags)
                bundle = await probed(memory.remember("what did we compile with Cython?"), lags)
                assert [t.content for t in bundle.relevant_turns] == [turn.content]
        finally:
            await stores.aclose()

    asyncio.run(main())
    assert blocking.used == 0 and len(server.requests) >= 2  # the turn, the query
    assert len(lags) >= 40, "the loop did not run the probe while the endpoint answered"
    assert p95(lags) < 0.020


def test_the_bridge_awaits_aembed_without_the_cache(backend_stores):
    server = EmbeddingsServer()
    embedder = OpenAIEmbedder(
        "text-embedding-3-small", DIMS, api_key="sk-test", async_http_client=server.async_client()
    )
    cached = CachedEmbedder(embedder, None, ttl_s=0)

    [vec] = asyncio.run(in_bridge(cached.embed, ["hello"]))

    assert vec == pytest.approx(HashingEmbedder(DIMS).embed(["hello"])[0]) and len(server.requests) == 1
