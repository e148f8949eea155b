"""`agent-memory backfill`: consolidate a range of days through Dagster's own machinery.

Two ways, both recorded in the Postgres-backed Dagster instance and visible in `agent-memory dev`'s UI:

* **Dagster CLI (default).** Runs ``dagster job execute -m memory_assets.definitions -j <job>`` in the
  repository root with the partition-range tags (``dagster/asset_partition_range_start`` / ``_end``), the
  same single run that ``dagster asset materialize --partition-range`` launches: every asset of the code
  location has ``BackfillPolicy.single_run()``, so the whole range is one run and each asset sees the
  range as its ``partition_time_window``. With ``--select`` the run is ``dagster asset materialize
  --select … --partition-range START...END`` instead. The run executes here, synchronously, in one
  process (the in-process executor; ``--multiprocess`` keeps Dagster's default of a process per step),
  against the instance in ``DAGSTER_HOME`` — so no daemon or webserver is needed. ``DAGSTER_HOME`` and
  ``DAGSTER_PG_URL`` come from the environment (``eval "$(agent-memory up)"``) or from the embedded stack.
* **A running webserver (``--url``).** Sends the ``launchPartitionBackfill`` GraphQL mutation (what the
  UI's "Materialize → partition range" sends) for the job's assets; the daemon runs the backfill (one
  run, by the same policy) and it is listed under the UI's backfills.

memory_runtime imports no Dagster module (docs/architecture.md): the CLI is a child process and GraphQL is plain
HTTP (httpx), so this module works with nothing but the runtime's own dependencies loaded.
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from memory_runtime.domain.errors import AgentMemoryError, ConfigurationError, ValidationError

CODE_LOCATION_MODULE = "memory_assets.definitions"
DEFAULT_JOB = "nightly_consolidation_job"  # everything derived from a day's turns (memory_assets/jobs.py)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
REQUEST_TAG = "memory/backfill"
DEFAULT_UI = "http://127.0.0.1:3000"
PARTITIONS_ASSET = "semantic_memory"  # the asset whose Partitions tab the hint points at
IN_PROCESS_CONFIG = {"execution": {"config": {"in_process": {}}}}
if TYPE_CHECKING:
    from memory_runtime.config import Settings

_TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
_EVENT = re.compile(
    r" - (?P<run>[0-9a-f]{8}-[0-9a-f-]{27}) - \d+ - (?:(?P<step>[^ ]+) - )?(?P<event>[A-Z_]+) - (?P<msg>.*)$"
)


_DURATION = re.compile(r" in ([\d.]+ ?[mµ]?s)\.?$")


class BackfillError(AgentMemoryError):
    """A backfill did not start or did not succeed; the message says where its log is."""


def parse_day(value: str, what: str) -> date:
    """A YYYY-MM-DD day (ValidationError naming the option otherwise)."""
    try:
        return date.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        raise ValidationError(f"{what} must be a day like 2024-03-01, got {value!r}") from None


@dataclass(frozen=True)
class BackfillRequest:
    """A day range to consolidate with one job (or an asset selection)."""

    start: date
    end: date
    job: str = DEFAULT_JOB
    select: str | None = None

    @classmethod
    def plan(
        cls,
        start: date,
        end: date,
        settings: "Settings",
        *,
        job: str | None = None,
        select: str | None = None,
        today: date | None = None,
    ) -> "BackfillRequest":
        """A request checked against the partitions: from ≤ to, not before the first day, not after today."""
        today = today or datetime.now(UTC).date()
        first = parse_day(settings.partitions_start_date, "MEMORY_PARTITIONS_START_DATE")
        if start > end:
            raise ValidationError(f"--from {start} is after --to {end}")
        if end > today:
            raise ValidationError(f"--to {end} is in the future; the newest day partition is today ({today}, UTC)")
        if start < first:
            raise ValidationError(
                f"--from {start} is before the first day partition {first}; set MEMORY_PARTITIONS_START_DATE "
                "(read when the code location loads) to an earlier day to backfill it"
            )
        if job and select:
            raise ValidationError("pass --job or --select, not both")
        return cls(start, end, job or DEFAULT_JOB, select)

    @property
    def days(self) -> int:
        """Number of day partitions in the range."""
        return (self.end - self.start).days + 1

    def partition_keys(self) -> list[str]:
        """Every day partition key of the range."""
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.days)]

    def tags(self) -> dict[str, str]:
        """Run tags: the partition range (read by single-run backfills) and our request label."""
        return {
            RANGE_START_TAG: self.start.isoformat(),
            RANGE_END_TAG: self.end.isoformat(),
            REQUEST_TAG: f"{self.start}...{self.end}",
        }

    @property
    def target(self) -> str:
        """'job nightly_consolidation_job' or 'assets a,b'."""
        return f"assets {self.select}" if self.select else f"job {self.job}"


@dataclass
class BackfillOutcome:
    """What a backfill did: its run (CLI) or backfill (GraphQL) id, status and where its log is."""

    ok: bool
    status: str
    run_id: str | None = None
    backfill_id: str | None = None
    log_path: Path | None = None
    run_ids: list[str] = field(default_factory=list)


# ---- environment ------------------------------------------------------------------------------------


def settings_env(settings: "Settings") -> dict[str, str]:
    """MEMORY_* variables reproducing `settings` for a child process (the code location reads them)."""
    out: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        out[f"MEMORY_{name.upper()}"] = str(value)
    return out


def dagster_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` checked for a persistent Dagster instance (DAGSTER_HOME with dagster.yaml, DAGSTER_PG_URL)."""
    out = dict(env)
    home = out.get("DAGSTER_HOME")
    if not home:
        raise ConfigurationError(
            "DAGSTER_HOME is not set, so Dagster would record the backfill in a throw-away instance. Run "
            '`eval "$(agent-memory up)"` first, or set DAGSTER_HOME to the directory holding dagster.yaml'
        )
    home_dir = Path(home)
    if not home_dir.is_absolute():
        raise ConfigurationError(f"DAGSTER_HOME must be an absolute path, got {home!r}")
    config = home_dir / "dagster.yaml"
    if not config.is_file():
        raise ConfigurationError(
            f"{config} does not exist; `agent-memory up` writes it (or copy the repository's dagster.yaml there)"
        )
    if "DAGSTER_PG_URL" in config.read_text("utf-8"):
        url = out.get("DAGSTER_PG_URL")
        if not url:
            raise ConfigurationError(
                f'{config} reads DAGSTER_PG_URL, which is not set; run `eval "$(agent-memory up)"` or set it'
            )
        scheme, sep, rest = url.partition("://")
        if sep and scheme in ("postgresql", "postgres"):  # P-D1: psycopg 3 would be picked under SQLAlchemy 2
            out["DAGSTER_PG_URL"] = f"postgresql+psycopg2://{rest}"
    return out


# ---- the dagster CLI --------------------------------------------------------------------------------


def dagster_command(request: BackfillRequest, *, root: Path, config_file: Path | None) -> list[str]:
    """The `dagster` command line that runs `request` as one run over its partition range."""
    base = [sys.executable, "-m", "dagster"]
    pointer = ["-m", CODE_LOCATION_MODULE, "-d", str(root)]
    if request.select:
        cmd = [*base, "asset", "materialize", *pointer, "--select", request.select]
        cmd += ["--partition-range", f"{request.start}...{request.end}"]
        if config_file is not None:
            cmd += ["--config-json", json.dumps(IN_PROCESS_CONFIG)]
        return cmd
    cmd = [*base, "job", "execute", *pointer, "-j", request.job, "--tags", json.dumps(request.tags())]
    if config_file is not None:
        cmd += ["-c", str(config_file)]
    return cmd


def _event_summary(line: str, state: dict[str, Any]) -> str | None:
    """Track run id and status from a Dagster log line; a short text for the events worth showing."""
    match = _EVENT.search(line)
    if not match:
        return None
    event, step, msg = match["event"], match["step"], match["msg"].strip()
    if event == "RUN_START":
        state["run_id"] = match["run"]
        return f"  run {match['run']} started"
    if event in ("STEP_SUCCESS", "STEP_FAILURE"):
        took = _DURATION.search(msg)
        detail = took.group(1) if took and event == "STEP_SUCCESS" else msg
        return f"  {'ok    ' if event == 'STEP_SUCCESS' else 'FAILED'} {step} ({detail})"
    if event in ("RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED"):
        state["status"] = event
        return f"  {event.lower().replace('_', ' ')}"
    return None


def run_backfill(
    request: BackfillRequest,
    env: Mapping[str, str],
    *,
    root: Path | None = None,
    multiprocess: bool = False,
    verbose: bool = False,
    out: TextIO | None = None,
) -> BackfillOutcome:
    """Run the backfill with the dagster CLI against DAGSTER_HOME's instance; waits for the run to end."""
    from memory_ops.devserver import repo_root

    out = out if out is not None else sys.stderr
    root = root or repo_root()
    child_env = dagster_env(env)
    log_dir = Path(child_env["DAGSTER_HOME"]) / "agent-memory-backfills"
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = log_dir / f"{stamp}-{request.start}_{request.end}.log"
    state: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        config_file: Path | None = None
        if not multiprocess:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="agent-memory-backfill-"))
            config_file = Path(tmp) / "in_process.json"  # YAML is a superset of JSON
            config_file.write_text(json.dumps(IN_PROCESS_CONFIG), "utf-8")
        cmd = dagster_command(request, root=root, config_file=config_file)
        print(
            f"backfill {request.start}...{request.end} ({request.days} day partition(s)) of {request.target}; "
            f"log: {log_path}",
            file=out,
            flush=True,
        )
        log = stack.enter_context(open(log_path, "w", encoding="utf-8"))
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = stack.enter_context(
            subprocess.Popen(
                cmd,
                cwd=root,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                log.write(line)
                short = _event_summary(line, state)
                if verbose:
                    print(line, end="", file=out, flush=True)
                elif short:
                    print(short, file=out, flush=True)
            code = proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    ok = code == 0 and state.get("status") == "RUN_SUCCESS"
    outcome = BackfillOutcome(ok, state.get("status", f"exit {code}"), run_id=state.get("run_id"), log_path=log_path)
    if state.get("run_id"):
        outcome.run_ids.append(state["run_id"])
    if not ok:
        tail = "\n".join(log_path.read_text("utf-8", "replace").splitlines()[-15:])
        raise BackfillError(
            f"the backfill {request.start}...{request.end} of {request.target} did not succeed ({outcome.status}); "
            f"full log {log_path}; last lines:\n{tail}"
        )
    return outcome


# ---- a running webserver (GraphQL) ------------------------------------------------------------------

_JOBS_QUERY = """
query AgentMemoryJobs {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name jobs { name } } }
          ... on Error { message }
        }
      }
    }
    ... on Error { message }
  }
}
"""
_JOB_ASSETS_QUERY = """
query AgentMemoryJobAssets($pipeline: PipelineSelector!) {
  assetNodes(pipeline: $pipeline) { assetKey { path } }
}
"""
_LAUNCH_MUTATION = """
mutation AgentMemoryBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on Error { message }
  }
}
"""
_STATUS_QUERY = """
query AgentMemoryBackfillStatus($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status runs(limit: 100) { runId status } }
    ... on Error { message }
  }
}
"""


class GraphQLClient:
    """Minimal Dagster GraphQL over HTTP (httpx), for a webserver at `url` (e.g. http://127.0.0.1:3000)."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a GraphQL response; BackfillError on transport or GraphQL errors."""
        import httpx

        try:
            response = httpx.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise BackfillError(
                f"cannot reach the Dagster webserver at {self.url} ({exc}); is `agent-memory dev` running?"
            ) from exc
        if response.status_code != 200:
            raise BackfillError(f"{self.url}/graphql answered HTTP {response.status_code}: {response.text[:300]}")
        body = response.json()
        if body.get("errors"):
            raise BackfillError(f"Dagster GraphQL error: {'; '.join(e.get('message', '') for e in body['errors'])}")
        return body["data"]

    def find_job(self, job: str) -> dict[str, str]:
        """The PipelineSelector of `job` (its code location and repository)."""
        data = self.execute(_JOBS_QUERY)["workspaceOrError"]
        if data["__typename"] != "Workspace":
            raise BackfillError(f"the Dagster workspace did not load: {data.get('message')}")
        names = []
        for entry in data["locationEntries"]:
            location = entry.get("locationOrLoadError") or {}
            if location.get("__typename") != "RepositoryLocation":
                continue
            for repo in location["repositories"]:
                for candidate in repo["jobs"]:
                    names.append(candidate["name"])
                    if candidate["name"] == job:
                        return {
                            "repositoryLocationName": location["name"],
                            "repositoryName": repo["name"],
                            "pipelineName": job,
                        }
        known = ", ".join(sorted(n for n in names if not n.startswith("__"))) or "none"
        raise BackfillError(f"no job {job!r} in the webserver's workspace (jobs: {known})")

    def job_assets(self, selector: dict[str, str]) -> list[list[str]]:
        """Asset keys (as paths) of a job."""
        nodes = self.execute(_JOB_ASSETS_QUERY, {"pipeline": selector})["assetNodes"]
        return [n["assetKey"]["path"] for n in nodes]

    def launch(self, request: BackfillRequest, asset_keys: list[list[str]]) -> str:
        """Launch an asset backfill of `asset_keys` over the request's days; returns the backfill id."""
        params = {
            "assetSelection": [{"path": key} for key in asset_keys],
            "partitionNames": request.partition_keys(),
            "title": f"agent-memory backfill {request.start}...{request.end}",
            "description": f"{request.target}, launched by `agent-memory backfill`",
            "tags": [{"key": REQUEST_TAG, "value": f"{request.start}...{request.end}"}],
        }
        result = self.execute(_LAUNCH_MUTATION, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            detail = result.get("message") or json.dumps(result)
            raise BackfillError(f"Dagster refused the backfill ({result['__typename']}): {detail}")
        return str(result["backfillId"])

    def status(self, backfill_id: str) -> dict[str, Any]:
        """The backfill's status and runs."""
        result = self.execute(_STATUS_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise BackfillError(f"backfill {backfill_id}: {result.get('message')}")
        return result


def launch_via_webserver(
    request: BackfillRequest,
    url: str,
    *,
    wait: bool = False,
    timeout_s: float = 3600.0,
    poll_s: float = 2.0,
    out: TextIO | None = None,
) -> BackfillOutcome:
    """Launch the backfill on a running webserver + daemon; optionally wait until it finishes."""
    out = out if out is not None else sys.stderr
    client = GraphQLClient(url)
    if request.select:
        keys = [part.strip().split("/") for part in request.select.split(",") if part.strip()]
    else:
        keys = client.job_assets(client.find_job(request.job))
    if not keys:
        raise BackfillError(f"{request.target} selects no assets")
    backfill_id = client.launch(request, keys)
    print(
        f"backfill {backfill_id} launched on {client.url}: {request.start}...{request.end} "
        f"({request.days} day partition(s)) of {', '.join('/'.join(k) for k in keys)}",
        file=out,
        flush=True,
    )
    outcome = BackfillOutcome(True, "REQUESTED", backfill_id=backfill_id)
    if not wait:
        return outcome
    deadline = time.monotonic() + timeout_s
    while True:
        state = client.status(backfill_id)
        outcome.status = state["status"]
        outcome.run_ids = [r["runId"] for r in state.get("runs") or []]
        if outcome.status in _TERMINAL:
            break
        if time.monotonic() > deadline:
            raise BackfillError(f"backfill {backfill_id} still {outcome.status} after {timeout_s:.0f} s")
        time.sleep(poll_s)
    failed = [r for r in state.get("runs") or [] if r["status"] != "SUCCESS"]
    outcome.ok = outcome.status in ("COMPLETED", "COMPLETED_SUCCESS") and not failed
    print(f"  backfill {backfill_id}: {outcome.status} ({len(outcome.run_ids)} run(s))", file=out, flush=True)
    if not outcome.ok:
        raise BackfillError(f"backfill {backfill_id} ended {outcome.status}; see {client.url}/runs/b/{backfill_id}")
    return outcome


def watch_hint(request: BackfillRequest, outcome: BackfillOutcome, url: str | None = None) -> str:
    """Where to watch the backfill in the Dagster UI."""
    ui = (url or DEFAULT_UI).rstrip("/")
    asset = request.select.split(",")[0].strip() if request.select else PARTITIONS_ASSET
    lines = ["watch it in the Dagster UI" + ("" if url else " (`agent-memory dev`, then open):")]
    if outcome.backfill_id:
        lines.append(f"  backfill:   {ui}/runs/b/{outcome.backfill_id}?tab=runs")
    lines.append(f"  runs:       {ui}/runs")
    for run_id in outcome.run_ids[:5]:
        lines.append(f"  this run:   {ui}/runs/{run_id}")
    lines.append(f"  partitions: {ui}/assets/{asset}?view=partitions  (each asset's Partitions tab)")
    return "\n".join(lines)


def child_environment(settings: "Settings", base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the dagster child: `base` (default os.environ) plus `settings` as MEMORY_*."""
    return {**(dict(os.environ) if base is None else dict(base)), **settings_env(settings)}
