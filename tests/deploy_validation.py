"""Static checks of the deployment files (compose, .env.example, Kubernetes manifests, Helm values).

Each validator takes parsed YAML (or text) and returns a list of problems, empty when all is well, so the
tests can run them on the committed files and on deliberately broken copies.
"""

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S = DEPLOY / "k8s"

#: Compose services the platform needs (the stores, the migration and Dagster).
REQUIRED_SERVICES = ("neo4j", "postgres", "redis", "migrate", "user-code", "webserver", "daemon")
#: Services that run this project's image.
OWN_IMAGE_SERVICES = ("migrate", "user-code", "webserver", "daemon")
STORES = ("neo4j", "postgres", "redis")
#: The only `depends_on` condition allowed on each kind of dependency.
REQUIRED_CONDITION = {
    **{s: "service_healthy" for s in STORES},
    "migrate": "service_completed_successfully",
    "user-code": "service_healthy",
}
GRPC_ARGS = ["-m", "memory_assets.definitions"]

_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|CREDENTIALS|AUTH)$|^postgresql-password$")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}")
_URI_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]+)@")
_ENV_LINE = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def is_secret_name(name: str) -> bool:
    """True for variable names that hold a secret (…_PASSWORD, …_API_KEY, NEO4J_AUTH, …)."""
    return bool(_SECRET_NAME.search(name))


def _unescaped(text: str) -> str:
    return text.replace("$$", "")  # `$$` is a literal dollar in compose, not an interpolation


def interpolations(text: str) -> list[tuple[str, str]]:
    """(variable, modifier) of every `${…}` in a compose string; modifier is "" or like ":?msg" / ":-x"."""
    return [(m.group(1), m.group(2) or "") for m in _INTERPOLATION.finditer(_unescaped(text))]


def _is_interpolation(text: str) -> bool:
    return bool(_INTERPOLATION.fullmatch(_unescaped(text)))


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


# ---- shared rules ------------------------------------------------------------------------------------


def image_problems(where: str, image: str, *, own: bool = False) -> list[str]:
    """A tag that is not `latest`; a variable tag must be required; our own image's tag is a variable."""
    if not image:
        return [f"{where}: no image"]
    masked = _INTERPOLATION.sub(lambda m: "v" * len(m.group(0)), image)  # colons inside ${…} don't split
    cut = masked.rfind(":")
    name_part, tag = (image[:cut], image[cut + 1 :]) if cut >= 0 else ("", "")
    if not name_part or "/" in tag or not tag:
        return [f"{where}: image {image!r} has no tag"]
    if tag == "latest":
        return [f"{where}: image {image!r} uses the latest tag"]
    if own and "${" not in tag:
        return [f"{where}: our image {image!r} must take its tag from a required variable"]
    if "${" in tag and any(not mod.startswith(":?") for _, mod in interpolations(tag)):
        return [f"{where}: image tag {tag!r} must be a required variable (${{VAR:?message}})"]
    return []


def settings_problems(where: str, names: Iterable[str], fields: Iterable[str]) -> list[str]:
    """Every MEMORY_<X> name must be a Settings field."""
    known = {f"MEMORY_{f.upper()}" for f in fields}
    return [
        f"{where}: {n} is not a memory_runtime Settings field"
        for n in sorted(set(names))
        if n.startswith("MEMORY_") and n not in known
    ]


def _secret_value_problems(where: str, name: str, value: Any) -> list[str]:
    """A compose value must not carry a literal secret."""
    text = "" if value is None else str(value)
    problems = []
    if is_secret_name(name) and not interpolations(text):
        problems.append(f"{where}: {name} has a literal value; use a ${{VAR:?…}} interpolation")
    for m in _URI_PASSWORD.finditer(text):
        if not _is_interpolation(m.group(1)):
            problems.append(f"{where}: {name} embeds a literal password in a URI")
    return problems


def _required_secret_interpolations(where: str, text: str) -> list[str]:
    return [
        f"{where}: ${{{var}{mod}}} must be required (${{{var}:?…}}), with no default"
        for var, mod in interpolations(text)
        if is_secret_name(var) and not mod.startswith(":?")
    ]


# ---- docker compose ----------------------------------------------------------------------------------


def load_compose(path: Path = DEPLOY / "docker-compose.yml") -> dict[str, Any]:
    """The compose file as a dict (YAML anchors and merge keys resolved)."""
    return yaml.safe_load(path.read_text())


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def compose_env_names(compose: dict[str, Any]) -> set[str]:
    """Names set in any service's environment plus every interpolated variable."""
    names: set[str] = set()
    for service in (compose.get("services") or {}).values():
        names |= set(_environment(service))
    for text in _strings(compose):
        names |= {var for var, _ in interpolations(text)}
    return names


def compose_interpolated_names(compose: dict[str, Any]) -> set[str]:
    """Variables compose reads from the environment / .env."""
    return {var for text in _strings(compose) for var, _ in interpolations(text)}


def compose_problems(compose: dict[str, Any], settings_fields: Iterable[str]) -> list[str]:
    """Everything wrong with a compose file (empty when it is fine)."""
    services: dict[str, Any] = compose.get("services") or {}
    problems = [f"compose: service {s!r} is missing" for s in REQUIRED_SERVICES if s not in services]
    for name, svc in services.items():
        where = f"compose service {name}"
        problems += image_problems(where, str(svc.get("image", "")), own=name in OWN_IMAGE_SERVICES)
        if svc.get("build"):
            problems.append(f"{where}: builds an image; reference a pinned, pre-built image instead")
        for key, value in _environment(svc).items():
            problems += _secret_value_problems(where, key, value)
        command = svc.get("command") or []
        if isinstance(command, list):
            for flag, arg in zip(command, command[1:], strict=False):
                if flag == "--requirepass" and not _is_interpolation(str(arg)):
                    problems.append(f"{where}: --requirepass takes a literal password")
        problems += _depends_on_problems(where, svc, services)
    for store in STORES:
        test = ((services.get(store) or {}).get("healthcheck") or {}).get("test")
        if not test or test == ["NONE"] or (services.get(store) or {}).get("healthcheck", {}).get("disable"):
            problems.append(f"compose service {store}: no healthcheck")
    for text in _strings(compose):
        problems += _required_secret_interpolations("compose", text)
    problems += settings_problems("compose", compose_env_names(compose), settings_fields)
    return problems


def _depends_on_problems(where: str, svc: dict[str, Any], services: dict[str, Any]) -> list[str]:
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return [f"{where}: depends_on must use the long form with a condition"] if deps else []
    problems = []
    for dep, spec in deps.items():
        condition = (spec or {}).get("condition")
        if dep not in services:
            problems.append(f"{where}: depends on unknown service {dep!r}")
        expected = REQUIRED_CONDITION.get(dep)
        if expected and condition != expected:
            problems.append(f"{where}: depends on {dep} with {condition!r}, expected {expected!r}")
        if condition == "service_healthy" and not (services.get(dep) or {}).get("healthcheck"):
            problems.append(f"{where}: waits for {dep} to be healthy but {dep} has no healthcheck")
        if condition is None:
            problems.append(f"{where}: depends on {dep} without a condition")
    return problems


# ---- .env.example ------------------------------------------------------------------------------------


def dotenv_names(text: str) -> dict[str, str]:
    """Variables assigned in a .env file, including commented-out examples (`# NAME=value`)."""
    out = {}
    for line in text.splitlines():
        m = _ENV_LINE.match(line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def dotenv_problems(text: str, compose: dict[str, Any], settings_fields: Iterable[str]) -> list[str]:
    """Secrets must be empty placeholders; every compose variable must be documented."""
    names = dotenv_names(text)
    problems = [
        f".env.example: {name} must be an empty placeholder, not a value"
        for name, value in names.items()
        if is_secret_name(name) and value
    ]
    problems += [
        f".env.example: compose reads {var} but it is not documented"
        for var in sorted(compose_interpolated_names(compose) - set(names))
    ]
    problems += settings_problems(".env.example", names, settings_fields)
    return problems


# ---- Kubernetes --------------------------------------------------------------------------------------


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """The documents of a multi-document YAML file (empty documents dropped)."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc.get("kind") in {"StatefulSet", "Deployment", "Job", "DaemonSet"}:
        return doc["spec"]["template"]["spec"]
    return None


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _pod_spec(doc)
    return [] if spec is None else [*spec.get("initContainers", []), *spec.get("containers", [])]


def manifest_env_names(docs: Iterable[dict[str, Any]]) -> set[str]:
    """Env var names set by containers, ConfigMaps and Secrets."""
    names: set[str] = set()
    for doc in docs:
        for c in _containers(doc):
            names |= {e["name"] for e in c.get("env", [])}
        if doc.get("kind") in {"ConfigMap", "Secret"}:
            names |= set(doc.get("data") or {}) | set(doc.get("stringData") or {})
    return names


def manifest_problems(docs: list[dict[str, Any]], settings_fields: Iterable[str], where: str) -> list[str]:
    """Probes, resources, PVCs, pinned images and secretKeyRef-only secrets."""
    problems = []
    for doc in docs:
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
        here = f"{where} {kind}/{name}"
        if kind == "Secret":
            problems.append(f"{here}: Secrets belong in secrets.example.yaml (placeholders) or your secret store")
        if kind == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if is_secret_name(key) or _URI_PASSWORD.search(str(value)):
                    problems.append(f"{here}: {key} looks like a secret; put it in a Secret")
        for c in _containers(doc):
            cwhere = f"{here} container {c.get('name')}"
            problems += image_problems(cwhere, str(c.get("image", "")))
            for env in c.get("env", []):
                if "value" in env and (is_secret_name(env["name"]) or _URI_PASSWORD.search(str(env["value"]))):
                    problems.append(f"{cwhere}: {env['name']} is inlined; use valueFrom.secretKeyRef")
                ref = env.get("valueFrom") or {}
                if is_secret_name(env["name"]) and "value" not in env and "secretKeyRef" not in ref:
                    problems.append(f"{cwhere}: {env['name']} must come from a secretKeyRef")
            args = [*(c.get("command") or []), *(c.get("args") or [])]
            for flag, arg in zip(args, args[1:], strict=False):
                if flag == "--requirepass" and not re.fullmatch(r"\$\([A-Z_][A-Z0-9_]*\)", str(arg)):
                    problems.append(f"{cwhere}: --requirepass takes a literal password; use $(VAR)")
            if kind == "StatefulSet":
                for probe in ("readinessProbe", "livenessProbe"):
                    if not c.get(probe):
                        problems.append(f"{cwhere}: no {probe}")
                resources = c.get("resources") or {}
                for part in ("requests", "limits"):
                    if not resources.get(part):
                        problems.append(f"{cwhere}: no resources.{part}")
        if kind == "StatefulSet" and not doc["spec"].get("volumeClaimTemplates"):
            problems.append(f"{here}: no volumeClaimTemplates")
    problems += settings_problems(where, manifest_env_names(docs), settings_fields)
    return problems


def example_secret_problems(docs: list[dict[str, Any]], settings_fields: Iterable[str]) -> list[str]:
    """The example Secrets hold placeholders only."""
    problems = []
    for doc in docs:
        if doc.get("kind") != "Secret":
            problems.append(f"secrets.example.yaml: unexpected {doc.get('kind')}")
            continue
        if doc.get("data"):
            problems.append(f"secrets.example.yaml {doc['metadata']['name']}: use stringData placeholders")
        for key, value in (doc.get("stringData") or {}).items():
            if "CHANGE_ME" not in str(value):
                problems.append(f"secrets.example.yaml {doc['metadata']['name']}: {key} is not a placeholder")
    problems += settings_problems("secrets.example.yaml", manifest_env_names(docs), settings_fields)
    return problems


# ---- Helm values -------------------------------------------------------------------------------------


def helm_values_problems(values: dict[str, Any], settings_fields: Iterable[str]) -> list[str]:
    """Dagster chart values: K8sRunLauncher, our code location, external Postgres with a Secret."""
    problems = []
    launcher = values.get("runLauncher") or {}
    if launcher.get("type") != "K8sRunLauncher":
        problems.append(f"helm: runLauncher.type is {launcher.get('type')!r}, expected 'K8sRunLauncher'")
    k8s = (launcher.get("config") or {}).get("k8sRunLauncher") or {}
    if not k8s.get("envSecrets"):
        problems.append("helm: runLauncher.config.k8sRunLauncher.envSecrets is empty")
    user = values.get("dagster-user-deployments") or {}
    deployments = user.get("deployments") or []
    if not user.get("enabled") or not deployments:
        problems.append("helm: dagster-user-deployments is not enabled")
    for d in deployments:
        where = f"helm user deployment {d.get('name')}"
        if d.get("dagsterApiGrpcArgs") != GRPC_ARGS:
            problems.append(f"{where}: dagsterApiGrpcArgs is {d.get('dagsterApiGrpcArgs')}, expected {GRPC_ARGS}")
        image = d.get("image") or {}
        problems += image_problems(where, f"{image.get('repository')}:{image.get('tag', '')}")
        if not d.get("envSecrets"):
            problems.append(f"{where}: no envSecrets")
        env = d.get("env") or {}
        for key, value in env.items() if isinstance(env, dict) else []:
            if is_secret_name(key) or _URI_PASSWORD.search(str(value)):
                problems.append(f"{where}: env {key} is a secret; use envSecrets")
    pg = values.get("postgresql") or {}
    if pg.get("enabled") is not False or not pg.get("postgresqlHost"):
        problems.append("helm: postgresql must be external (enabled: false with postgresqlHost)")
    if pg.get("postgresqlPassword"):
        problems.append("helm: postgresql.postgresqlPassword is inlined; use global.postgresqlSecretName")
    if values.get("generatePostgresqlPasswordSecret") is not False:
        problems.append("helm: generatePostgresqlPasswordSecret must be false (the Secret is ours)")
    names = {n for d in deployments if isinstance(d.get("env"), dict) for n in d["env"]}
    problems += settings_problems("helm", names, settings_fields)
    return problems
