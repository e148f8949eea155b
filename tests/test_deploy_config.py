"""Static validation of deploy/: compose, .env.example, Dockerfile, Kubernetes manifests and Helm values.

No Docker or Kubernetes is needed: the files are parsed and checked by the validators in
tests/deploy_validation.py, which must also reject deliberately broken copies.
"""

import copy
import re
import tomllib
from pathlib import Path

import deploy_validation as dv
import pytest
import yaml

from memory_runtime.config import Settings

ROOT = Path(__file__).resolve().parent.parent
FIELDS = set(Settings.model_fields)
MANIFESTS = ["agent-memory-config.yaml", "postgres.yaml", "neo4j.yaml", "redis.yaml", "migrate-job.yaml"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return dv.load_compose()


@pytest.fixture(scope="module")
def manifests() -> dict[str, list[dict]]:
    return {name: dv.load_manifests(dv.K8S / name) for name in MANIFESTS}


@pytest.fixture(scope="module")
def helm_values() -> dict:
    return yaml.safe_load((dv.K8S / "dagster-values.yaml").read_text())


# ---- docker compose ----------------------------------------------------------------------------------


def test_compose_file_passes_every_check(compose: dict) -> None:
    assert dv.compose_problems(compose, FIELDS) == []


def test_compose_has_every_service_the_platform_needs(compose: dict) -> None:
    assert set(dv.REQUIRED_SERVICES) <= set(compose["services"])


def test_compose_optional_services_are_behind_profiles(compose: dict) -> None:
    services = compose["services"]
    assert services["prometheus"]["profiles"] == ["metrics"]
    assert services["metrics-exporter"]["profiles"] == ["metrics"]
    assert services["redisinsight"]["profiles"] == ["tools"]
    assert all("profiles" not in services[s] for s in dv.REQUIRED_SERVICES)


def test_compose_stores_persist_to_named_volumes(compose: dict) -> None:
    named = set(compose["volumes"])
    for store, path in {"neo4j": "/data", "postgres": "/var/lib/postgresql/data", "redis": "/data"}.items():
        mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"][store]["volumes"]}
        assert mounts[path] in named, store


def test_compose_redis_uses_append_only_persistence(compose: dict) -> None:
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_compose_publishes_ports_on_loopback_only(compose: dict) -> None:
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_compose_runs_the_code_location_and_points_dagster_at_it(compose: dict) -> None:
    user_code = compose["services"]["user-code"]["command"]
    assert user_code[:3] == ["dagster", "code-server", "start"]
    assert user_code[user_code.index("-m") + 1] == "memory_assets.definitions"
    workspace = yaml.safe_load((dv.DEPLOY / "workspace.compose.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], str(server["port"])) == ("user-code", user_code[user_code.index("-p") + 1])
    for name in ("webserver", "daemon"):
        command = compose["services"][name]["command"]
        assert command[command.index("-w") + 1] == "/app/deploy/workspace.compose.yaml"
    assert compose["services"]["migrate"]["command"] == ["agent-memory", "migrate"]
    local = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    assert server["location_name"] == local["location_name"]  # same location name as `dagster dev`
    assert user_code[user_code.index("--location-name") + 1] == local["location_name"]


def test_compose_memory_and_dagster_storage_are_separate_databases(compose: dict) -> None:
    env = compose["services"]["user-code"]["environment"]
    assert env["MEMORY_POSTGRES_URI"].endswith("/agent_memory")
    assert env["DAGSTER_PG_URL"].startswith("postgresql+psycopg2://") and env["DAGSTER_PG_URL"].endswith("/dagster")
    sql = (dv.DEPLOY / "postgres-init" / "01-databases.sql").read_text()
    assert "CREATE DATABASE agent_memory;" in sql and "CREATE DATABASE dagster;" in sql


def test_prometheus_scrapes_the_metrics_exporter(compose: dict) -> None:
    config = yaml.safe_load((dv.DEPLOY / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    command = compose["services"]["metrics-exporter"]["command"]
    assert f"metrics-exporter:{command[command.index('--port') + 1]}" in targets


# ---- .env.example ------------------------------------------------------------------------------------


def test_env_example_documents_every_variable_and_holds_no_secret(compose: dict) -> None:
    text = (dv.DEPLOY / ".env.example").read_text()
    assert dv.dotenv_problems(text, compose, FIELDS) == []


def test_env_example_leaves_the_passwords_empty_so_compose_refuses_to_start() -> None:
    names = dv.dotenv_names((dv.DEPLOY / ".env.example").read_text())
    for secret in ("POSTGRES_PASSWORD", "NEO4J_PASSWORD", "REDIS_PASSWORD", "AGENT_MEMORY_TAG"):
        assert names[secret] == "", secret


def test_a_real_env_file_is_git_ignored() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text().split()


# ---- Dockerfile and constraints ----------------------------------------------------------------------


def test_dockerfile_uses_a_pinned_base_a_non_root_user_and_the_code_server() -> None:
    text = (dv.DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in {"root", "0"}
    for path in ("memory_runtime", "memory_assets", "sensors", "schedules", "resources", "schema"):
        assert re.search(rf"^COPY {path} ", text, re.M), path
    assert re.search(r"^COPY workspace.yaml dagster.yaml ", text, re.M)
    assert "--constraint /tmp/constraints.txt" in text
    cmd = re.search(r"^CMD (\[.*?\])\s*$", text, re.M | re.S).group(1)  # type: ignore[union-attr]
    args = yaml.safe_load(cmd.replace("\\\n", " "))
    assert args[:3] == ["dagster", "code-server", "start"]
    assert args[args.index("-m") + 1] == "memory_assets.definitions"


def test_dockerfile_copies_only_paths_that_exist() -> None:
    text = (dv.DEPLOY / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for src in line.split()[:-1]:
            if not src.startswith("--") and "*" not in src:
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the repository"


def test_docker_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = (dv.DEPLOY / "Dockerfile.dockerignore").read_text().split()
    for path in (".git", ".venv", ".stack", ".env", "deploy/.env"):
        assert path in ignored, path


def test_constraints_pin_every_package_and_exclude_the_project() -> None:
    lines = [
        line.strip()
        for line in (dv.DEPLOY / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line) for line in lines), lines
    names = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert "agent-memory" not in names
    pins = dict(line.lower().split("==") for line in lines)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in project:  # the exact pins of pyproject.toml agree with the constraints
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==(\S+)", dep)
        if m:
            name = re.sub(r"\[.*\]", "", m.group(1)).lower()
            assert pins.get(name, pins.get(name.replace("-", "_"))) == m.group(2).lower(), dep
    assert pins["dagster-k8s"] == "0.29.27"


# ---- Kubernetes ----------------------------------------------------------------------------------------


def test_k8s_manifests_pass_every_check(manifests: dict[str, list[dict]]) -> None:
    for name, docs in manifests.items():
        assert docs, name
        assert dv.manifest_problems(docs, FIELDS, name) == []


def test_k8s_stores_are_statefulsets_with_services(manifests: dict[str, list[dict]]) -> None:
    for store in dv.STORES:
        kinds = {(d["kind"], d["metadata"]["name"]) for d in manifests[f"{store}.yaml"]}
        assert {("Service", store), ("StatefulSet", store)} <= kinds


def test_k8s_neo4j_pod_gets_no_service_links(manifests: dict[str, list[dict]]) -> None:
    sts = next(d for d in manifests["neo4j.yaml"] if d["kind"] == "StatefulSet")
    assert sts["spec"]["template"]["spec"]["enableServiceLinks"] is False


def test_k8s_postgres_init_script_matches_compose(manifests: dict[str, list[dict]]) -> None:
    cm = next(d for d in manifests["postgres.yaml"] if d["kind"] == "ConfigMap")
    assert cm["data"]["01-databases.sql"] == (dv.DEPLOY / "postgres-init" / "01-databases.sql").read_text()


def test_k8s_migrate_job_runs_agent_memory_migrate(manifests: dict[str, list[dict]]) -> None:
    job = manifests["migrate-job.yaml"][0]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert job["kind"] == "Job" and container["command"] == ["agent-memory", "migrate"]
    refs = {next(iter(src)) + ":" + next(iter(src.values()))["name"] for src in container["envFrom"]}
    assert refs == {"configMapRef:agent-memory-config", "secretRef:agent-memory-secrets"}


def test_k8s_example_secrets_hold_placeholders_only() -> None:
    docs = dv.load_manifests(dv.K8S / "secrets.example.yaml")
    assert dv.example_secret_problems(docs, FIELDS) == []
    referenced = set()
    for path in dv.K8S.glob("*.yaml"):
        referenced |= set(re.findall(r"name: ([a-z0-9-]+)", path.read_text()))
    for doc in docs:
        assert doc["metadata"]["name"] in referenced


def test_kustomization_lists_the_manifests_but_never_the_example_secrets() -> None:
    kustomization = yaml.safe_load((dv.K8S / "kustomization.yaml").read_text())
    assert kustomization["resources"] == MANIFESTS
    assert all((dv.K8S / r).is_file() for r in kustomization["resources"])
    image = kustomization["images"][0]
    assert image["name"] == "agent-memory" and image["newTag"] not in {"", "latest"}


def test_helm_values_use_the_k8s_run_launcher_and_our_code_location(helm_values: dict) -> None:
    assert dv.helm_values_problems(helm_values, FIELDS) == []
    deployment = helm_values["dagster-user-deployments"]["deployments"][0]
    kustomization = yaml.safe_load((dv.K8S / "kustomization.yaml").read_text())
    image = kustomization["images"][0]
    assert (deployment["image"]["repository"], deployment["image"]["tag"]) == (
        image["newName"],
        image["newTag"],
    )


def test_helm_chart_version_is_pinned_to_the_dagster_version(helm_values: dict) -> None:
    text = (dv.K8S / "dagster-values.yaml").read_text()
    assert "--version 1.13.27" in text
    assert "dagster==1.13.27" in (ROOT / "pyproject.toml").read_text()


# ---- the validators reject broken configurations -------------------------------------------------------


def _compose_broken(compose: dict, mutate) -> list[str]:
    broken = copy.deepcopy(compose)
    mutate(broken["services"])
    return dv.compose_problems(broken, FIELDS)


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda s: s["postgres"].pop("healthcheck"), "postgres: no healthcheck"),
        (lambda s: s["redis"].update(image="redis:latest"), "latest tag"),
        (lambda s: s["neo4j"].update(image="neo4j"), "no tag"),
        (lambda s: s["webserver"].update(image="agent-memory:0.1.0"), "required variable"),
        (lambda s: s["migrate"]["environment"].update(MEMORY_NOT_A_SETTING="1"), "MEMORY_NOT_A_SETTING"),
        (lambda s: s["postgres"]["environment"].update(POSTGRES_PASSWORD="hunter2"), "literal value"),
        (
            lambda s: s["user-code"]["environment"].update(
                MEMORY_POSTGRES_URI="postgresql://memory:hunter2@postgres:5432/agent_memory"
            ),
            "literal password in a URI",
        ),
        (
            lambda s: s["neo4j"]["environment"].update(NEO4J_AUTH="neo4j/${NEO4J_PASSWORD:-changeme}"),
            "must be required",
        ),
        (lambda s: s.pop("daemon"), "'daemon' is missing"),
        (lambda s: s["migrate"].update(depends_on=["postgres"]), "long form"),
        (
            lambda s: s["user-code"]["depends_on"].update(migrate={"condition": "service_started"}),
            "expected 'service_completed_successfully'",
        ),
    ],
    ids=[
        "no-healthcheck",
        "latest",
        "untagged",
        "own-image-literal-tag",
        "unknown-setting",
        "inline-password",
        "password-in-uri",
        "password-default",
        "missing-service",
        "short-depends-on",
        "wrong-condition",
    ],
)
def test_the_compose_validator_rejects_a_broken_compose(compose: dict, mutation, expected: str) -> None:
    problems = _compose_broken(compose, mutation)
    assert any(expected in p for p in problems), problems


def test_the_env_validator_rejects_a_filled_in_secret_and_an_undocumented_variable(compose: dict) -> None:
    text = (dv.DEPLOY / ".env.example").read_text().replace("REDIS_PASSWORD=\n", "REDIS_PASSWORD=hunter2\n")
    broken = copy.deepcopy(compose)
    broken["services"]["redis"]["environment"]["EXTRA"] = "${SOMETHING_NEW:?set it}"
    problems = dv.dotenv_problems(text + "# MEMORY_TYPO=1\n", broken, FIELDS)
    assert any("REDIS_PASSWORD must be an empty placeholder" in p for p in problems), problems
    assert any("SOMETHING_NEW" in p for p in problems), problems
    assert any("MEMORY_TYPO" in p for p in problems), problems


def _container(docs: list[dict], kind: str = "StatefulSet") -> dict:
    return next(d for d in docs if d["kind"] == kind)["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda docs: _container(docs).pop("livenessProbe"), "no livenessProbe"),
        (lambda docs: _container(docs)["resources"].pop("limits"), "no resources.limits"),
        (
            lambda docs: next(d for d in docs if d["kind"] == "StatefulSet")["spec"].pop("volumeClaimTemplates"),
            "no volumeClaimTemplates",
        ),
        (lambda docs: _container(docs).update(image="redis:latest"), "latest tag"),
        (
            lambda docs: _container(docs)["env"].append({"name": "REDIS_PASSWORD", "value": "hunter2"}),
            "inlined",
        ),
        (
            lambda docs: _container(docs)["env"].append({"name": "MEMORY_NOT_A_SETTING", "value": "1"}),
            "MEMORY_NOT_A_SETTING",
        ),
        (
            lambda docs: _container(docs).update(args=["redis-server", "--requirepass", "hunter2"]),
            "--requirepass takes a literal password",
        ),
        (
            lambda docs: docs.append(
                {"kind": "Secret", "metadata": {"name": "x"}, "stringData": {"REDIS_PASSWORD": "hunter2"}}
            ),
            "Secrets belong in secrets.example.yaml",
        ),
    ],
    ids=[
        "no-probe",
        "no-limits",
        "no-pvc",
        "latest",
        "inline-secret",
        "unknown-setting",
        "requirepass",
        "secret",
    ],
)
def test_the_manifest_validator_rejects_a_broken_manifest(manifests: dict, mutation, expected: str) -> None:
    docs = copy.deepcopy(manifests["redis.yaml"])
    mutation(docs)
    problems = dv.manifest_problems(docs, FIELDS, "redis.yaml")
    assert any(expected in p for p in problems), problems


def test_the_example_secret_validator_rejects_a_real_value() -> None:
    docs = dv.load_manifests(dv.K8S / "secrets.example.yaml")
    docs[0]["stringData"]["POSTGRES_PASSWORD"] = "hunter2"
    assert any("not a placeholder" in p for p in dv.example_secret_problems(docs, FIELDS))


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda v: v["runLauncher"].update(type="CeleryK8sRunLauncher"), "K8sRunLauncher"),
        (
            lambda v: v["dagster-user-deployments"]["deployments"][0].update(dagsterApiGrpcArgs=["-f", "x.py"]),
            "dagsterApiGrpcArgs",
        ),
        (lambda v: v["dagster-user-deployments"]["deployments"][0]["image"].update(tag="latest"), "latest"),
        (lambda v: v["postgresql"].update(enabled=True), "external"),
        (lambda v: v["postgresql"].update(postgresqlPassword="hunter2"), "inlined"),
        (
            lambda v: v["dagster-user-deployments"]["deployments"][0].update(env={"MEMORY_NOPE": "1"}),
            "MEMORY_NOPE",
        ),
    ],
    ids=["celery", "grpc-args", "latest", "internal-postgres", "inline-password", "unknown-setting"],
)
def test_the_helm_validator_rejects_broken_values(helm_values: dict, mutation, expected: str) -> None:
    values = copy.deepcopy(helm_values)
    mutation(values)
    problems = dv.helm_values_problems(values, FIELDS)
    assert any(expected in p for p in problems), problems
