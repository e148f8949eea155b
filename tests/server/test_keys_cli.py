"""`agent-memory keys create|list|revoke`, and the README documenting the server's settings."""

from pathlib import Path

import pytest

from memory_ops.cli import main
from memory_ops.server.keys import KeyVerifier
from memory_ops.server.settings import ServerSettings
from tests.server.conftest import store_env


@pytest.fixture
def cli_env(server_namespace_settings, monkeypatch, tmp_path):
    for key, value in store_env(server_namespace_settings).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)


def test_keys_are_shown_once_listed_without_secrets_and_revoked(cli_env, server_stores, capsys):
    assert main(["keys", "create", "--tenant", "initech", "--admin", "--label", "ops"]) == 0
    key = capsys.readouterr().out.strip()
    principal = KeyVerifier(server_stores.pg, 0).verify(key)
    assert principal is not None and (principal.tenant, principal.admin) == ("initech", True)
    assert main(["keys", "list", "--tenant", "initech"]) == 0
    listing = capsys.readouterr().out
    assert principal.key_id in listing and "admin" in listing and "ops" in listing
    assert key.rsplit("_", 1)[1] not in listing
    assert main(["keys", "revoke", principal.key_id]) == 0
    assert KeyVerifier(server_stores.pg, 0).verify(key) is None
    assert main(["keys", "revoke", principal.key_id]) == 1  # already revoked


def test_a_bad_tenant_name_is_refused(cli_env, capsys):
    assert main(["keys", "create", "--tenant", "Bad:Name"]) == 1
    assert "tenant" in capsys.readouterr().err


def test_readme_configuration_table_lists_every_server_setting():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [f"MEMORY_{n.upper()}" for n in ServerSettings.model_fields if f"`MEMORY_{n.upper()}`" not in readme]
    assert not missing, f"README configuration table lacks: {missing}"
