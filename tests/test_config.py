"""Settings: clear errors for bad values, and the README documents every variable."""

from pathlib import Path

import pytest

from memory_runtime.config import Settings, load_settings
from memory_runtime.domain.errors import ConfigurationError


def test_bad_graph_uri_names_the_setting_to_fix():
    with pytest.raises(ConfigurationError, match="MEMORY_GRAPH_URI"):
        load_settings(graph_uri="mysql://localhost", _env_file=None)


def test_bad_postgres_uri_names_the_setting_to_fix():
    with pytest.raises(ConfigurationError, match="MEMORY_POSTGRES_URI"):
        load_settings(postgres_uri="redis://localhost", _env_file=None)


def test_missing_uri_says_how_to_start_the_embedded_stores():
    with pytest.raises(ConfigurationError, match="agent-memory up"):
        load_settings(_env_file=None).require("postgres_uri")


@pytest.mark.parametrize(
    ("uri", "backend"),
    [("bolt://db:7687", "neo4j"), ("neo4j+s://x.databases.neo4j.io", "neo4j"), ("falkor://h:6379", "falkordb"),
     ("falkor+unix:///tmp/r.sock", "falkordb")],
)  # fmt: skip
def test_graph_uri_scheme_selects_the_backend(uri, backend):
    assert load_settings(graph_uri=uri, _env_file=None).graph_backend == backend


def test_namespace_settings_reject_injection():
    with pytest.raises(ConfigurationError, match="MEMORY_POSTGRES_SCHEMA"):
        load_settings(postgres_schema="public; DROP TABLE x", _env_file=None)


def test_settings_are_read_from_a_dotenv_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("MEMORY_DEFAULT_TOP_K=7\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().default_top_k == 7


def test_readme_configuration_table_lists_every_setting():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [f"MEMORY_{name.upper()}" for name in Settings.model_fields if f"MEMORY_{name.upper()}" not in readme]
    assert not missing, f"README configuration table lacks: {missing}"


def test_the_local_embedder_and_the_reranker_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("MEMORY_EMBEDDING_PROVIDER", "local")
    monkeypatch.setenv("MEMORY_EMBEDDING_THREADS", "2")
    monkeypatch.setenv("MEMORY_RERANKER", "none")
    settings = load_settings(_env_file=None)
    assert (settings.embedding_provider, settings.embedding_threads, settings.reranker) == ("local", 2, "none")
    assert load_settings(_env_file=None, reranker="features").reranker == "features"


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [("reranker", "cross-encoder", "MEMORY_RERANKER"), ("embedding_provider", "onnx", "MEMORY_EMBEDDING_PROVIDER"),
     ("embedding_threads", 0, "MEMORY_EMBEDDING_THREADS"), ("embedding_threads", 65, "MEMORY_EMBEDDING_THREADS")],
)  # fmt: skip
def test_bad_embedder_and_reranker_settings_name_the_variable(field, value, variable):
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(_env_file=None, **{field: value})
