"""The `openai` embedder: OpenAI's embeddings API, or any OpenAI-compatible server through a base URL.

Requests carry at most `batch_size` (≤ 256) inputs and go out in order. Rate limits (429), timeouts and
server errors are retried by the official client with exponential backoff, honouring `Retry-After`.
`text-embedding-3-*` models are asked for the configured dimension (`dimensions=`); other models must
produce it natively, which every returned vector is checked against.

`aembed` is the same request on the `openai.AsyncOpenAI` client (`AsyncAgentMemory` awaits it on its event
loop instead of blocking the loop on the sync client; see `memory_runtime.stores.redis.embedding_cache`).
"""

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypedDict, TypeVar, cast

import httpx
import openai

from memory_runtime.config import Settings
from memory_runtime.domain.errors import ConfigurationError, InvalidEmbedding, StoreUnavailableError, ValidationError
from memory_runtime.embeddings.base import check_dimensions

OPENAI_BASE_URL = "https://api.openai.com/v1"
MAX_BATCH = 256
_SETTING = "MEMORY_OPENAI_BASE_URL"
_C = TypeVar("_C")


class PerLoop(Generic[_C]):
    """An asyncio client made on first use in each event loop: an httpx.AsyncClient's connections belong to
    the loop that opened them, so a client must not outlive its loop into the next `asyncio.run`."""

    def __init__(self, make: Callable[[], _C]) -> None:
        self._make = make
        self._made: tuple[asyncio.AbstractEventLoop, _C] | None = None

    def get(self) -> _C:
        """The client of the running event loop."""
        loop = asyncio.get_running_loop()
        if self._made is None or self._made[0] is not loop:
            self._made = (loop, self._make())
        return self._made[1]


class _DimensionsArg(TypedDict, total=False):
    """The optional `dimensions=` of `embeddings.create`, passed only to models that take it."""

    dimensions: int


class OpenAIEmbedder:
    """Embeddings from an OpenAI(-compatible) `/v1/embeddings` endpoint."""

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        dimensions: int = 1536,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = 5,
        timeout_s: float = 30.0,
        batch_size: int = MAX_BATCH,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not api_key and not base_url:
            raise ConfigurationError(
                "the openai embedder needs MEMORY_OPENAI_API_KEY (or MEMORY_OPENAI_BASE_URL for an "
                "OpenAI-compatible server); set it, or use MEMORY_EMBEDDING_PROVIDER=hashing"
            )
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self.model = model
        self.dimensions = dimensions
        self.model_id = f"openai:{model}:{dimensions}"
        self.batch_size = batch_size
        # Explicit base URL and key: the client must not fall back to OPENAI_* variables of the environment.
        options: dict[str, Any] = {
            "api_key": api_key or "unused",  # compatible servers without auth still need a non-empty key
            "base_url": base_url or OPENAI_BASE_URL,
            "max_retries": max_retries,
            "timeout": timeout_s,
        }
        # openai 3 types them as httpx2 clients and accepts httpx's too; openai 1 and 2 take the latter
        self._client = openai.OpenAI(**options, http_client=cast(Any, http_client))
        self._aclient = PerLoop(lambda: openai.AsyncOpenAI(**options, http_client=cast(Any, async_http_client)))
        self._dimensions_param = model.startswith("text-embedding-3")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> "OpenAIEmbedder":
        """The embedder MEMORY_EMBEDDING_MODEL / _DIMENSIONS / MEMORY_OPENAI_* describe."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return cls(
            settings.embedding_model,
            settings.embedding_dimensions,
            api_key=key,
            base_url=settings.openai_base_url,
            http_client=http_client,
            async_http_client=async_http_client,
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (empty texts are sent as a single space, which the API accepts)."""
        out: list[list[float]] = []
        for batch in self._batches(texts):
            with self._errors():
                response = self._client.embeddings.create(**self._params(batch))
            out += self._vectors(response, batch)
        return out

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """`embed` on the asyncio client: the event loop runs other tasks while a request is out."""
        out: list[list[float]] = []
        for batch in self._batches(texts):
            with self._errors():
                response = await self._aclient.get().embeddings.create(**self._params(batch))
            out += self._vectors(response, batch)
        return out

    def _batches(self, texts: Sequence[str]) -> Iterator[list[str]]:
        texts = [t if t.strip() else " " for t in texts]
        for start in range(0, len(texts), self.batch_size):
            yield texts[start : start + self.batch_size]

    def _params(self, batch: list[str]) -> dict[str, Any]:
        extra: _DimensionsArg = {"dimensions": self.dimensions} if self._dimensions_param else {}
        return {"model": self.model, "input": batch, "encoding_format": "float", **extra}

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The client's errors (after its retries) as the runtime's typed errors."""
        try:
            yield
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise ConfigurationError(f"the embeddings endpoint rejected MEMORY_OPENAI_API_KEY: {exc.message}") from exc
        except openai.NotFoundError as exc:
            raise ConfigurationError(
                f"embedding model {self.model!r} is not served at {self._client.base_url} "
                f"(MEMORY_EMBEDDING_MODEL): {exc.message}"
            ) from exc
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            raise ValidationError(f"the embeddings endpoint rejected the request: {exc.message}") from exc
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            detail = exc.message if isinstance(exc, openai.APIStatusError) else str(exc)
            raise StoreUnavailableError(f"embeddings endpoint {self._client.base_url}", _SETTING, detail) from exc

    def _vectors(self, response: Any, batch: list[str]) -> list[list[float]]:
        data = sorted(response.data, key=lambda d: d.index)
        if [d.index for d in data] != list(range(len(batch))):
            raise InvalidEmbedding(f"the embeddings endpoint returned {len(data)} vectors for {len(batch)} inputs")
        return [check_dimensions(d.embedding, self.dimensions, f"{self.model_id} embedding") for d in data]
