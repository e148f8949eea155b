"""Secrets and safe defaults: nothing secret is committed, Neo4j needs credentials, embedded stores are local.

The committed-files scan reads `git ls-files`; a placeholder is allowed only in the documented forms
(empty, `${VAR...}`, `<VAR>`, `CHANGE_ME_...`, `…`) or as one of the fake values the tests use on purpose.
"""

import re
import stat
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import redis

from memory_runtime.config import load_settings
from memory_runtime.domain.errors import ConfigurationError
from memory_runtime.stores.graph import open_graph

REPO = Path(__file__).resolve().parents[2]

# Unmistakable credential formats: any match is a leak.
TOKEN_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY( BLOCK)?-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "OpenAI key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}
# `password: value`, `API_KEY=value`, `"token": "value"` ...
ASSIGNMENT = re.compile(
    r"""(?ix)(?<![${\w.-])[\w.-]*(?:password|passwd|secret|api[_-]?key|token|auth)["']?\s*[:=]\s*["']?"""
    r"""(?P<value>[^\s"',}#)`\\]*)"""
)
URI_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^:/@\s]*:(?P<value>[^@\s/]+)@")
PLACEHOLDER = re.compile(r"^(?:|\$\{[^}]*\}?.*|\$[A-Z_]+|<[^>]*>?|CHANGE_ME\w*|…|\.\.\.|none|null|true|false)$", re.I)
# Fake values that tests use on purpose (wrong passwords, dummy keys for local fakes) and code references.
ALLOWED_VALUES = {
    "hunter2",
    "wrong",
    "sk-test",
    "sk-settings",
    "unused",
    "key",
    "api_key",
    "password",
    "token",
    "value",
    "trust",  # `initdb --auth=trust`: a PostgreSQL auth method, not a secret
}
TYPE_NAMES = {"str", "SecretStr", "bool", "int", "Any"}  # `password: str | None` in signatures


# Model assets: a tokenizer vocabulary maps words such as "password" and "token" to ids, which reads as
# `password: 18304` to the assignment pattern; it is data shipped with the local embedder, not configuration.
MODEL_ASSETS = {"memory_runtime/embeddings/minilm/tokenizer.json"}


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=REPO, check=True, capture_output=True, text=True).stdout
    out = []
    for name in names.splitlines():
        path = REPO / name
        if not path.is_file() or name in MODEL_ASSETS:
            continue
        data = path.read_bytes()
        if b"\x00" not in data[:8192]:
            out.append(path)
    return out


def is_placeholder(value: str) -> bool:
    value = value.strip().strip("\"'").rsplit("/", 1)[-1]  # NEO4J_AUTH: neo4j/<password>
    if value in TYPE_NAMES:
        return True
    return bool(PLACEHOLDER.match(value)) or value in ALLOWED_VALUES or value.isidentifier() and value.isupper()


def test_no_credentials_in_committed_files():
    findings = []
    files = tracked_text_files()
    assert len(files) > 50  # the scan really ran over the repository
    for path in files:
        if path == Path(__file__).resolve():  # this file plants fake secrets to test the scanner itself
            continue
        text = path.read_text("utf-8", errors="replace")
        rel = path.relative_to(REPO)
        for kind, pattern in TOKEN_PATTERNS.items():
            findings += [f"{rel}: {kind}: {m.group(0)[:24]}…" for m in pattern.finditer(text)]
        for line_no, line in enumerate(text.splitlines(), 1):
            for pattern in (ASSIGNMENT, URI_PASSWORD):
                for m in pattern.finditer(line):
                    value = m.group("value")
                    code_like = any(ch in value for ch in "([.") or value.endswith(":")
                    if not is_placeholder(value) and not code_like:
                        findings.append(f"{rel}:{line_no}: {line.strip()[:100]}")
    assert not findings, "possible credentials committed:\n" + "\n".join(findings)


def test_the_secret_scan_finds_a_planted_secret():
    planted = {
        "POSTGRES_PASSWORD=s3cr3t-Passw0rd": ASSIGNMENT,
        "uri: postgresql://memory:s3cr3t@db:5432/x": URI_PASSWORD,
        "-----BEGIN RSA PRIVATE KEY-----": TOKEN_PATTERNS["private key"],
        "key = 'sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'": TOKEN_PATTERNS["OpenAI key"],
    }
    for line, pattern in planted.items():
        m = pattern.search(line)
        assert m, line
        if "value" in pattern.groupindex:
            assert not is_placeholder(m.group("value")), line
    for line in ("POSTGRES_PASSWORD=", "MEMORY_NEO4J_PASSWORD=<NEO4J_PASSWORD>", "x: ${REDIS_PASSWORD:?set it}"):
        m = ASSIGNMENT.search(line)
        assert m is None or is_placeholder(m.group("value")), line


@pytest.mark.parametrize(
    "credentials",
    [{}, {"neo4j_user": "neo4j"}, {"neo4j_password": "pw"}, {"neo4j_user": "", "neo4j_password": "pw"}],
)
def test_a_neo4j_uri_without_user_and_password_is_refused(credentials):
    settings = load_settings(graph_uri="bolt://localhost:7687", _env_file=None, **credentials)
    with pytest.raises(ConfigurationError, match="MEMORY_NEO4J_USER and MEMORY_NEO4J_PASSWORD"):
        open_graph(settings)


def test_the_neo4j_password_never_appears_in_settings_output():
    settings = load_settings(graph_uri="bolt://x:7687", neo4j_user="u", neo4j_password="pw-9f8e7d", _env_file=None)
    assert "pw-9f8e7d" not in repr(settings) and "pw-9f8e7d" not in str(settings.model_dump())


def test_embedded_postgres_listens_on_a_private_unix_socket_only(stack):
    with psycopg.connect(stack.postgres_uri) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
        socket_dir = conn.execute("SHOW unix_socket_directories").fetchone()[0].split(",")[0].strip()
    host = parse_qs(urlsplit(stack.postgres_uri).query)["host"][0]
    assert Path(socket_dir) == Path(host)
    mode = stat.S_IMODE(Path(host).stat().st_mode)
    assert mode & 0o077 == 0, f"the socket directory {host} is open to other users ({oct(mode)})"


def test_embedded_redis_has_no_tcp_port_and_a_0700_socket(stack):
    sock = Path(stack.redis_uri.removeprefix("unix://"))
    client = redis.Redis(unix_socket_path=str(sock))
    try:
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("unixsocketperm") == {"unixsocketperm": "700"}
    finally:
        client.close()
    assert stat.S_IMODE(sock.stat().st_mode) == 0o700
