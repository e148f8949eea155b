"""A local Neo4j Community server, started by the project itself on the installed Java (no Docker).

The server is the small launcher in `tools/neo4j/` (a Maven project around Neo4j's embedded
`DatabaseManagementServiceBuilder`): Bolt on 127.0.0.1 only, no HTTP, authentication on, a bounded page
cache and a bounded JVM heap. The first `up()` builds it with Maven into a project-local repository
(`.stack/m2`, about 170 MB, downloaded once from Maven Central); later starts run `java -cp` on the
recorded classpath and need no network and no Maven.

Layout of the data directory::

    db/                      the Neo4j home: databases, transaction logs, logs/debug.log
    credentials              the generated password of the user `neo4j` (mode 0600)
    neo4j.json               pid, port and version of the last start
    neo4j.log                the launcher's stdout and stderr (READY line, JVM errors)
    .neo4j.lock              serialises `up` and `down` across processes

Typical use::

    env = EmbeddedNeo4j(Path(".stack/neo4j")).up()     # Neo4jEnv(uri="bolt://127.0.0.1:PORT", user, password, version)
    ...
    EmbeddedNeo4j(Path(".stack/neo4j")).down()

`check_server()` checks an external server instead (reachable, credentials, version 5.13+).
"""

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory_ops.stack.processes import cmdline as _cmdline
from memory_ops.stack.processes import file_lock
from memory_runtime.errors import AgentMemoryError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER_SOURCES = PROJECT_ROOT / "tools" / "neo4j"
DEFAULT_MAVEN_REPO = PROJECT_ROOT / ".stack" / "m2"
MAIN_CLASS = "memory.neo4j.Main"
USER = "neo4j"
MIN_VERSION = (5, 13)  # the first release with vector indexes out of beta (db.index.vector.queryNodes)
MIN_JAVA = 17

DEFAULT_HEAP = "1g"
DEFAULT_PAGECACHE = "256m"
# Lucene segments of one size a vector index collects before merging them (Neo4j's own default is 50, which
# leaves one segment per transaction until 50 pile up; each query searches every segment): see Main.java.
DEFAULT_VECTOR_MERGE_FACTOR = 10
_START_TIMEOUT_S = 180.0  # a cold JVM on 2 busy cores, plus store recovery after a crash
_STOP_TIMEOUT_S = 60.0
_LOCK_TIMEOUT_S = 600.0  # a first build downloads ~170 MB while another process waits
_PROBE_TIMEOUT_S = 5.0
_PORT_WAIT_S = 10.0  # a restart waits this long for the last start's port to be released
_LOG_TAIL_LINES = 30
_JVM_OPTIONS = (
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",  # the page cache's direct buffers, as neo4j's own script
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
)
_OFFLINE_HINTS = (
    "Could not transfer artifact",
    "UnknownHostException",
    "Unknown host",
    "Connection refused",
    "Network is unreachable",
    "connect timed out",
    "Connect to repo",
    "Could not resolve host",
    "No route to host",
)

# Launchers started by this process: polled (and so reaped) through their Popen objects, never zombies.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class Neo4jStackError(AgentMemoryError):
    """The local Neo4j could not be built, started, stopped or reached; the message says what to do."""


class JavaMissing(Neo4jStackError):
    """No Java 17+ runtime was found (JAVA_HOME, then PATH)."""


class MavenMissing(Neo4jStackError):
    """The launcher must be built but no `mvn` was found (MAVEN_HOME, then PATH)."""


class MavenCentralUnreachable(Neo4jStackError):
    """Maven could not download Neo4j (no network, proxy, or a blocked repository)."""


class PortInUse(Neo4jStackError):
    """The Bolt port is taken by another process."""


class Neo4jStartFailed(Neo4jStackError):
    """The server exited or never answered during start-up; the message carries the tail of its log."""


class Neo4jVersionError(Neo4jStackError):
    """The server is older than 5.13, which has no vector indexes."""


@dataclass(frozen=True)
class Neo4jEnv:
    """How to reach one Neo4j server."""

    uri: str
    user: str
    password: str = field(repr=False)
    version: str

    def exports(self) -> dict[str, str]:
        """The runtime's environment for this server (MEMORY_GRAPH_URI, MEMORY_NEO4J_USER/PASSWORD)."""
        return {"MEMORY_GRAPH_URI": self.uri, "MEMORY_NEO4J_USER": self.user, "MEMORY_NEO4J_PASSWORD": self.password}


@dataclass(frozen=True)
class Neo4jStatus:
    """What `EmbeddedNeo4j.status()` found."""

    running: bool
    pid: int | None
    uri: str | None
    version: str | None
    detail: str


@dataclass(frozen=True)
class Launcher:
    """The built launcher: how to start one server."""

    java: str
    classpath: str
    archive: Path | None = None  # class-data archive (CDS) of this classpath: starts ~2-4 s faster

    def command(
        self,
        home: Path,
        port: int,
        password_file: Path,
        *,
        heap: str,
        pagecache: str,
        vector_merge_factor: int = DEFAULT_VECTOR_MERGE_FACTOR,
    ) -> list[str]:
        """The JVM command line of a server in `home` on 127.0.0.1:`port`."""
        share = [f"-XX:SharedArchiveFile={self.archive}"] if self.archive and self.archive.is_file() else []
        return [
            self.java,
            "-Xms256m",
            f"-Xmx{heap}",
            *_JVM_OPTIONS,
            *share,
            "-cp",
            self.classpath,
            MAIN_CLASS,
            "--home",
            str(home),
            "--port",
            str(port),
            "--password-file",
            str(password_file),
            "--pagecache",
            pagecache,
            "--vector-merge-factor",
            str(vector_merge_factor),
        ]


class Neo4jLauncher:
    """Builds `tools/neo4j` with Maven, once, and tells how to run it.

    The build is keyed by a hash of the pom and the Java sources: a changed source rebuilds (offline first,
    so a cached repository needs no network), an unchanged one reuses `target/`. A file lock serialises
    concurrent builds (two test sessions starting at once).
    """

    def __init__(self, sources: Path = LAUNCHER_SOURCES, maven_repo: Path | None = None) -> None:
        self.sources = sources
        self.maven_repo = (maven_repo or DEFAULT_MAVEN_REPO).absolute()
        self.target = sources / "target"
        self._classpath_file = self.target / "classpath.txt"
        self._stamp = self.target / "launcher.stamp"
        self._jar = self.target / "neo4j-launcher-1.jar"
        self._archive = self.target / "launcher.jsa"

    def missing_tools(self) -> list[str]:
        """What is missing to start a server here, as sentences ([] = nothing); Maven only if a build is due."""
        missing = []
        try:
            find_java()
        except JavaMissing as exc:
            missing.append(str(exc))
        if not self.is_built():
            try:
                find_maven()
            except MavenMissing as exc:
                missing.append(str(exc))
        return missing

    def is_built(self) -> bool:
        """True if `target/` holds a build of the current sources whose jars are all present."""
        try:
            if self._stamp.read_text().strip() != self._source_hash():
                return False
            entries = self._classpath_file.read_text().strip().split(os.pathsep)
        except OSError:
            return False
        return self._jar.is_file() and all(Path(e).is_file() for e in entries if e)

    def ensure_built(self) -> Launcher:
        """Build if needed (progress on stderr) and return the launcher."""
        java = find_java()
        if not self.is_built():
            with _file_lock(self.sources / ".build.lock", "the Neo4j launcher build"):
                if not self.is_built():
                    self._build()
                    self._write_archive(self._launcher(java, with_archive=False))
        return self._launcher(java)

    def _launcher(self, java: str, *, with_archive: bool = True) -> Launcher:
        entries = self._classpath_file.read_text().strip()
        # The class-data archive needs jars only (no class directories) in the same order at every start.
        classpath = os.pathsep.join([str(self._jar), entries])
        return Launcher(java=java, classpath=classpath, archive=self._archive if with_archive else None)

    def _write_archive(self, launcher: Launcher) -> None:
        """Start a throw-away server once under -XX:ArchiveClassesAtExit; a failure only costs start-up time."""
        _progress("neo4j: writing a class-data archive for faster starts (once per build) ...")
        started = time.monotonic()
        self._archive.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="neo4j-cds-") as tmp:
            password_file = Path(tmp) / "password"
            password_file.write_text(secrets.token_urlsafe(24))
            command = launcher.command(Path(tmp) / "db", _free_port(), password_file, heap="1g", pagecache="64m")
            command[1:1] = [f"-XX:ArchiveClassesAtExit={self._archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
            command.extend(["--exit-when-ready", "true"])
            try:
                done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
            except (OSError, subprocess.TimeoutExpired) as exc:
                _progress(f"neo4j: no class-data archive ({exc}); starts are a few seconds slower")
                self._archive.unlink(missing_ok=True)
                return
        if done.returncode != 0 or not self._archive.is_file():
            _progress(f"neo4j: no class-data archive (exit {done.returncode}): {_tail_text(done.stderr, 5)}")
            self._archive.unlink(missing_ok=True)
            return
        _progress(f"neo4j: class-data archive written in {time.monotonic() - started:.1f} s")

    def _source_hash(self) -> str:
        digest = hashlib.sha256()
        files = [self.sources / "pom.xml", *sorted((self.sources / "src").rglob("*.java"))]
        for path in files:
            digest.update(path.relative_to(self.sources).as_posix().encode())
            digest.update(path.read_bytes())
        digest.update(str(self.maven_repo).encode())  # the classpath names jars in this repository
        return digest.hexdigest()

    def _build(self) -> None:
        if not (self.sources / "pom.xml").is_file():
            raise Neo4jStackError(f"the Neo4j launcher sources are missing: no {self.sources / 'pom.xml'}")
        mvn = find_maven()
        self.maven_repo.mkdir(parents=True, exist_ok=True)
        self._stamp.unlink(missing_ok=True)
        base = [mvn, "-B", f"-Dmaven.repo.local={self.maven_repo}", "-f", str(self.sources / "pom.xml")]
        goals = ["clean", "package", "dependency:build-classpath"]
        log = self.sources / "target-build.log"
        started = time.monotonic()
        if _has_artifacts(self.maven_repo) and _run_maven([*base, "-o", *goals], log, quiet=True) == 0:
            pass  # everything was in the local repository already
        else:
            _progress(
                f"neo4j: building the launcher in {self.sources} (first use: Maven downloads Neo4j Community, "
                f"about 170 MB, into {self.maven_repo}) ..."
            )
            if _run_maven([*base, *goals], log, quiet=False) != 0:
                text = log.read_text("utf-8", "replace")
                tail = _tail_text(text)
                if any(hint in text for hint in _OFFLINE_HINTS):
                    raise MavenCentralUnreachable(
                        f"Maven could not download Neo4j from Maven Central (is the network or a proxy in the way? "
                        f"Maven reads proxies from ~/.m2/settings.xml). Full log: {log}\n{tail}"
                    )
                raise Neo4jStackError(f"building the Neo4j launcher failed; full log: {log}\n{tail}")
        self._stamp.write_text(self._source_hash() + "\n")
        _progress(f"neo4j: launcher built in {time.monotonic() - started:.1f} s")


class EmbeddedNeo4j:
    """One local Neo4j server whose data lives in `directory`."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        heap: str = DEFAULT_HEAP,
        pagecache: str = DEFAULT_PAGECACHE,
        launcher: Neo4jLauncher | None = None,
        start_timeout_s: float = _START_TIMEOUT_S,
        vector_merge_factor: int = DEFAULT_VECTOR_MERGE_FACTOR,
    ) -> None:
        """`port=None` picks a free port (kept across restarts while it stays free); a fixed port that is
        taken raises `PortInUse`. `heap` bounds the JVM heap (-Xmx) and `pagecache` Neo4j's page cache;
        `vector_merge_factor` how many Lucene segments of one size a vector index keeps before merging them."""
        if vector_merge_factor < 2:
            raise ValueError(f"vector_merge_factor must be 2 or more, not {vector_merge_factor}")
        self.directory = Path(directory).absolute()
        self.port = port
        self.heap = heap
        self.pagecache = pagecache
        self.vector_merge_factor = vector_merge_factor
        self.launcher = launcher or Neo4jLauncher()
        self.start_timeout_s = start_timeout_s
        self.home = self.directory / "db"
        self.log_path = self.directory / "neo4j.log"
        self._state_path = self.directory / "neo4j.json"
        self._credentials_path = self.directory / "credentials"

    def __repr__(self) -> str:
        return f"EmbeddedNeo4j({str(self.directory)!r})"

    # -- public ---------------------------------------------------------------------------------------------

    def up(self) -> Neo4jEnv:
        """Start the server, or reuse it if it is running and answers; restart it if it crashed or hangs."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            password = self._password()
            state = self._read_state()
            pid, port = state.get("pid"), state.get("port")
            if pid and port and self._is_ours(pid):
                version = _probe(_uri(port), USER, password, timeout=_PROBE_TIMEOUT_S)
                if version:
                    return Neo4jEnv(_uri(port), USER, password, version)
                _progress(f"neo4j: the server (pid {pid}) does not answer on port {port}; restarting it")
                self._stop_pid(pid)
            return self._start(password, state)

    def down(self) -> None:
        """Stop the server (SIGTERM, a clean shutdown; SIGKILL after 60 s). Does nothing if it is not running."""
        if not self.directory.is_dir():
            return
        with self._locked():
            pid = self._read_state().get("pid")
            if pid and self._is_ours(pid):
                self._stop_pid(pid)
            self._write_state({**self._read_state(), "pid": None})

    def status(self) -> Neo4jStatus:
        """Whether the server runs and answers, without starting or stopping anything."""
        state = self._read_state()
        pid, port = state.get("pid"), state.get("port")
        if not pid or not self._is_ours(pid):
            return Neo4jStatus(False, None, None, None, f"not running (data in {self.directory})")
        uri = _uri(port)
        try:
            version = _probe(uri, USER, self._credentials_path.read_text().strip(), timeout=_PROBE_TIMEOUT_S)
        except (OSError, Neo4jStackError) as exc:
            return Neo4jStatus(False, pid, uri, None, f"process {pid} runs but Bolt fails: {exc}")
        if not version:
            return Neo4jStatus(False, pid, uri, None, f"process {pid} runs but does not answer on {uri}")
        return Neo4jStatus(True, pid, uri, version, f"Neo4j {version} on {uri} (pid {pid})")

    def env(self) -> Neo4jEnv | None:
        """Where the last start listens and its credentials, without starting anything (None: never started)."""
        port = self._read_state().get("port")
        try:
            password = self._credentials_path.read_text().strip()
        except OSError:
            return None
        if not isinstance(port, int):
            return None
        return Neo4jEnv(_uri(port), USER, password, "")

    def pid(self) -> int | None:
        """The pid of the running server, if any (for tests that crash it on purpose)."""
        pid = self._read_state().get("pid")
        return pid if pid and self._is_ours(pid) else None

    # -- start and stop -------------------------------------------------------------------------------------

    def _start(self, password: str, state: dict[str, Any]) -> Neo4jEnv:
        if self.port is not None:
            self._choose_port(None)  # a taken fixed port fails before any build
        launcher = self.launcher.ensure_built()
        for attempt in range(3):
            port = self._choose_port(state.get("port"))
            try:
                return self._start_on(launcher, port, password)
            except PortInUse:
                if self.port is not None or attempt == 2:
                    raise
                state = {}  # another process took the free port we picked: pick again
        raise AssertionError("unreachable")

    def _start_on(self, launcher: Launcher, port: int, password: str) -> Neo4jEnv:
        started = time.monotonic()
        cold = not self.home.exists()
        command = launcher.command(
            self.home,
            port,
            self._credentials_path,
            heap=self.heap,
            pagecache=self.pagecache,
            vector_merge_factor=self.vector_merge_factor,
        )
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {time.strftime('%Y-%m-%dT%H:%M:%S')} port {port}\n".encode())
            log.flush()
            offset = log.tell()
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # own session: Ctrl-C in the caller's terminal does not reach it
            )
        _CHILDREN[proc.pid] = proc
        self._write_state({"pid": proc.pid, "port": port, "version": None})
        deadline = started + self.start_timeout_s
        version = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._write_state({"pid": None, "port": port, "version": None})
                output = self._log_since(offset)
                if "Address already in use" in output or "BindException" in output:
                    raise PortInUse(f"port {port} on 127.0.0.1 is already in use; choose another port")
                raise Neo4jStartFailed(
                    f"Neo4j exited with status {proc.returncode} during start-up. Its output ({self.log_path}):\n"
                    f"{_tail_text(output)}\n(Neo4j's own log: {self.home / 'logs' / 'debug.log'})"
                )
            if "READY " in self._log_since(offset):
                version = _probe(_uri(port), USER, password, timeout=_PROBE_TIMEOUT_S)
                if version:
                    break
            time.sleep(0.1)
        if version is None:
            self._stop_pid(proc.pid)
            raise Neo4jStartFailed(
                f"Neo4j did not answer on {_uri(port)} within {self.start_timeout_s:.0f} s. Its output "
                f"({self.log_path}):\n{_tail_text(self._log_since(offset))}"
            )
        self._write_state({"pid": proc.pid, "port": port, "version": version})
        _progress(
            f"neo4j: Neo4j {version} ready on {_uri(port)} in {time.monotonic() - started:.1f} s "
            f"({'new' if cold else 'existing'} data in {self.home})"
        )
        return Neo4jEnv(_uri(port), USER, password, version)

    def _stop_pid(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, _STOP_TIMEOUT_S):
            _progress(f"neo4j: pid {pid} ignored SIGTERM for {_STOP_TIMEOUT_S:.0f} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not _wait_gone(pid, 10.0):
                raise Neo4jStackError(f"could not stop the Neo4j server (pid {pid})")

    def _choose_port(self, previous: int | None) -> int:
        """The fixed port; else the port of the last start, so a restarted server keeps its URI (clients that
        hold it reconnect); else a free port below the ephemeral range, where no outgoing connection (the
        driver's own retries while the server is down, say) can take it in the meantime."""
        if self.port is not None:
            if not _port_free(self.port):
                raise PortInUse(f"port {self.port} on 127.0.0.1 is already in use; choose another port")
            return self.port
        if previous:
            deadline = time.monotonic() + _PORT_WAIT_S
            while time.monotonic() < deadline:
                if _port_free(int(previous)):
                    return int(previous)
                time.sleep(0.2)
            _progress(f"neo4j: port {previous} of the last start is taken; moving to another port")
        return _free_port()

    # -- state ----------------------------------------------------------------------------------------------

    def _password(self) -> str:
        """The generated password (created with the data directory, mode 0600; never a default)."""
        try:
            return self._credentials_path.read_text().strip()
        except FileNotFoundError:
            if self.home.exists():
                raise Neo4jStackError(
                    f"{self._credentials_path} is missing but {self.home} holds a database whose password it "
                    f"was: restore the file, or delete {self.directory} to start afresh"
                ) from None
        password = secrets.token_urlsafe(24)
        fd = os.open(self._credentials_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        return password

    def _read_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self._state_path.read_text()))
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self._state_path.with_name(f".{self._state_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state) + "\n")
        os.replace(tmp, self._state_path)

    def _is_ours(self, pid: int) -> bool:
        """True if `pid` is a live launcher for this data directory (pids get reused)."""
        if not _alive(pid):
            return False
        args = _cmdline(pid)
        return MAIN_CLASS in args and str(self.home) in args

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with _file_lock(self.directory / ".neo4j.lock", f"the Neo4j server in {self.directory}"):
            yield


def check_server(uri: str, user: str, password: str, *, timeout: float = _PROBE_TIMEOUT_S) -> str:
    """Check an external Neo4j server: it answers, accepts the credentials and is 5.13+. Returns its version."""
    import neo4j

    try:
        version = _probe(uri, user, password, timeout=timeout, raise_errors=True)
    except neo4j.exceptions.AuthError as exc:
        raise Neo4jStackError(f"Neo4j at {uri} rejected the credentials of {user!r}: {exc.message}") from exc
    if not version:
        raise Neo4jStackError(f"Neo4j at {uri} does not answer within {timeout:.0f} s")
    require_version(version, uri)
    return version


def require_version(version: str, where: str) -> None:
    """Raise Neo4jVersionError if `version` ("5.26.30", "2025.01.0") is older than 5.13."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers < MIN_VERSION:
        raise Neo4jVersionError(
            f"Neo4j {version} at {where} is too old: this project needs Neo4j 5.13 or newer (vector indexes, "
            f"db.index.vector.queryNodes). Upgrade the server, or unset MEMORY_GRAPH_URI to use the embedded one."
        )


def find_java() -> str:
    """The `java` of JAVA_HOME, else of PATH, if it is Java 17+; else JavaMissing says what to install."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    hint = (
        "install a JDK 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`) and put `java` on PATH, "
        "or set JAVA_HOME to its directory"
    )
    if not candidate or not os.access(candidate, os.X_OK):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no `java` on PATH"
        raise JavaMissing(f"Java is missing ({where}): {hint}")
    major = _java_major(candidate)
    if major is None or major < MIN_JAVA:
        raise JavaMissing(f"{candidate} is Java {major or 'of unknown version'}, Neo4j 5.26 needs 17+: {hint}")
    return candidate


def find_maven() -> str:
    """The `mvn` of MAVEN_HOME, else of PATH; else MavenMissing says what to install."""
    maven_home = os.environ.get("MAVEN_HOME")
    candidate = str(Path(maven_home) / "bin" / "mvn") if maven_home else shutil.which("mvn")
    if not candidate or not os.access(candidate, os.X_OK):
        raise MavenMissing(
            "Maven is missing (no `mvn` on PATH): it builds the Neo4j launcher once; install Maven 3.6+ "
            "(e.g. `apt-get install maven`) or set MAVEN_HOME"
        )
    return candidate


# -- helpers ------------------------------------------------------------------------------------------------


def _uri(port: int) -> str:
    return f"bolt://127.0.0.1:{port}"


def _probe(uri: str, user: str, password: str, *, timeout: float, raise_errors: bool = False) -> str | None:
    """The server's version ("5.26.30") if Bolt answers with these credentials, else None (not answering).

    Rejected credentials raise: the driver's AuthError with `raise_errors`, else a Neo4jStackError saying
    the generated password does not match the data directory."""
    import neo4j

    driver = neo4j.GraphDatabase.driver(
        uri, auth=(user, password), connection_timeout=timeout, connection_acquisition_timeout=timeout
    )
    try:
        info = driver.get_server_info()
        return info.agent.split("/", 1)[-1]
    except neo4j.exceptions.AuthError:
        if raise_errors:
            raise
        raise Neo4jStackError(
            f"the Neo4j server on {uri} does not accept the generated password (was its data directory copied?). "
            f"Stop it and delete the data directory to start afresh"
        ) from None
    except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError, OSError):
        return None
    finally:
        driver.close()


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _run_maven(command: list[str], log: Path, *, quiet: bool) -> int:
    """Run Maven with its output in `log`; unless `quiet`, report downloads on stderr every few seconds."""
    downloaded = [0, 0.0]  # files, kB
    units = {"B": 1 / 1024, "kB": 1.0, "KB": 1.0, "MB": 1024.0, "GB": 1024.0 * 1024}
    done = threading.Event()

    def report() -> None:
        while not done.wait(5.0):
            _progress(f"neo4j: ... {downloaded[0]} files downloaded ({downloaded[1] / 1024:.0f} MB)")

    reporter = threading.Thread(target=report, daemon=True)
    if not quiet:
        reporter.start()
    try:
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                match = re.search(r"Downloaded from .*\(([\d.]+) (B|kB|KB|MB|GB)", line)
                if match:
                    downloaded[0] += 1
                    downloaded[1] += float(match.group(1)) * units[match.group(2)]
            return proc.wait()
    except OSError as exc:
        raise Neo4jStackError(f"cannot run Maven ({command[0]}): {exc}") from exc
    finally:
        done.set()


def _has_artifacts(repo: Path) -> bool:
    return (repo / "org" / "neo4j").is_dir()


def _free_port() -> int:
    """A free port below the kernel's ephemeral range (bind(0) would give one inside it)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = secrets.SystemRandom()
    for _ in range(100):
        port = rng.randrange(max(1024, low - 12000), low)
        if _port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded range: any free port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    """True if `pid` runs and is not a zombie; our own exited children are reaped here."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is None:
            return True
        _CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _file_lock(path: Path, what: str) -> contextlib.AbstractContextManager[None]:
    message = f"timed out after {_LOCK_TIMEOUT_S:.0f} s waiting for the lock on {what} ({path})"
    return file_lock(path, _LOCK_TIMEOUT_S, lambda: Neo4jStackError(message))


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _tail_text(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


__all__ = [
    "EmbeddedNeo4j",
    "JavaMissing",
    "MavenCentralUnreachable",
    "MavenMissing",
    "Neo4jEnv",
    "Neo4jLauncher",
    "Neo4jStackError",
    "Neo4jStartFailed",
    "Neo4jStatus",
    "Neo4jVersionError",
    "PortInUse",
    "check_server",
    "find_java",
    "find_maven",
    "require_version",
]
