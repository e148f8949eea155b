"""Typed errors of the memory runtime. Every message says what went wrong and what to do."""


class AgentMemoryError(Exception):
    """Base class of every error the runtime raises on purpose."""


class ConfigurationError(AgentMemoryError):
    """A setting is missing or invalid; the message names the environment variable to fix."""


class StoreUnavailableError(AgentMemoryError):
    """A store cannot be reached or rejected our credentials; names the store and the setting."""

    def __init__(self, store: str, setting: str, detail: str) -> None:
        self.store = store
        self.setting = setting
        super().__init__(f"{store} is unavailable ({detail}). Check {setting} and that the server is running.")


class IndexUnavailableError(StoreUnavailableError):
    """A search index of a reachable store is missing or not online yet (a rebuild in progress): callers that
    degrade on an unavailable store (remember() skips facts and entities, turn search falls back to PostgreSQL)
    do so here too."""

    def __init__(self, store: str, detail: str) -> None:
        self.store = store
        self.setting = "agent-memory reindex"
        AgentMemoryError.__init__(
            self,
            f"a {store} search index is not available ({detail}); it is being rebuilt, or run `agent-memory "
            "migrate` to create it",
        )


class SchemaError(AgentMemoryError):
    """The database schema is missing, outdated or incompatible with the settings."""


class EmbeddingDimensionMismatch(SchemaError):
    """The configured embedding dimension differs from the dimension of the existing indexes."""

    def __init__(self, configured: int, existing: int, where: str) -> None:
        self.configured = configured
        self.existing = existing
        super().__init__(
            f"MEMORY_EMBEDDING_DIMENSIONS={configured} but the {where} was built for {existing} dimensions. "
            f"Set MEMORY_EMBEDDING_DIMENSIONS={existing} (an embedder of that dimension), or use a new database: "
            f"`agent-memory reembed` keeps the dimension, and changing it needs a new database or a "
            f"dimension-changing migration."
        )


class ValidationError(AgentMemoryError, ValueError):
    """Input rejected before anything was written (empty or oversized content, bad vectors, ...)."""


class InvalidEmbedding(ValidationError):
    """A vector with the wrong dimension or non-finite values."""


class InvalidRelationshipType(ValidationError):
    """A relationship type that is not on the whitelist."""


class InvalidLabel(ValidationError):
    """A node label or entity type that is not on the whitelist."""


class NotFoundError(AgentMemoryError, KeyError):
    """An id that does not exist for this user."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "not found"


class TurnConflictError(AgentMemoryError):
    """A turn index that already holds different content in this conversation."""

    def __init__(self, conversation_id: str, index: int) -> None:
        self.conversation_id = conversation_id
        self.index = index
        super().__init__(
            f"turn {index} of conversation {conversation_id!r} already exists with different content; "
            f"turns are append-only — store the new content under a new index."
        )


class TurnIdConflictError(AgentMemoryError):
    """A caller-chosen turn id (`Turn.id`) that this user already gave another turn."""

    def __init__(self, turn_id: str, conversation_id: str, index: int) -> None:
        self.turn_id = turn_id
        self.conversation_id = conversation_id
        self.index = index
        super().__init__(
            f"turn id {turn_id!r} already names another turn of this user; it cannot also name turn {index} "
            f"of conversation {conversation_id!r} — turn ids are unique per user"
        )


class ConversationOwnershipError(AgentMemoryError):
    """A conversation id that belongs to another user."""


class ProjectionError(AgentMemoryError):
    """The turns are durable in Postgres but a derived store (graph or Redis) was not updated.

    Nothing is lost: the `episodic_graph` asset (or `AgentMemory.reproject`) re-projects them.
    """

    def __init__(self, store: str, turn_ids: list[str], detail: str) -> None:
        self.store = store
        self.turn_ids = turn_ids
        super().__init__(
            f"{len(turn_ids)} turn(s) are stored durably in PostgreSQL but the {store} update failed "
            f"({detail}); they will be re-projected by the episodic_graph asset or AgentMemory.reproject()."
        )


class RateLimited(AgentMemoryError):
    """A per-user rate limit was hit; `retry_after_s` says when to try again."""

    def __init__(self, operation: str, retry_after_s: float) -> None:
        self.operation = operation
        self.retry_after_s = retry_after_s
        super().__init__(f"rate limit for {operation} exceeded; retry after {retry_after_s:.2f} s")


class GraphQueryError(AgentMemoryError):
    """The graph backend rejected a statement (a bug or a violated constraint); carries the statement."""

    def __init__(self, detail: str, statement: str) -> None:
        self.statement = statement
        super().__init__(f"graph query failed: {detail}")


class ToolProjectionError(ProjectionError):
    """A tool invocation is audited in PostgreSQL but the graph's Tool statistics were not updated.

    `invocation_ids` (also `turn_ids`, as for every ProjectionError) name the durable audit rows;
    `ProceduralMemory.reproject_tools()` rebuilds the Tool statistics from `tool_invocations`.
    """

    def __init__(self, store: str, invocation_ids: list[str], detail: str) -> None:
        self.store = store
        self.turn_ids = invocation_ids
        self.invocation_ids = invocation_ids
        AgentMemoryError.__init__(
            self,
            f"{len(invocation_ids)} tool invocation(s) are recorded durably in PostgreSQL (tool_invocations) "
            f"but the {store} update failed ({detail}); ProceduralMemory.reproject_tools() rebuilds the Tool "
            f"statistics from the audit log.",
        )


class ImportFormatError(ValidationError):
    """A conversation file that cannot be imported; nothing of that file was written.

    The message names the file, where in it (`line` for line-based files, `record` for JSON documents)
    and what is wrong: truncated JSON, a missing field, a bad timestamp, non-UTF-8 bytes, an unknown role.
    """

    def __init__(self, path: str, reason: str, *, line: int | None = None, record: str | None = None) -> None:
        self.path = path
        self.line = line
        self.record = record
        self.reason = reason
        where = "".join([f": line {line}" if line is not None else "", f": {record}" if record is not None else ""])
        super().__init__(f"{path}{where}: {reason}")


class ReembedInterrupted(AgentMemoryError):
    """A re-embedding stopped part-way (embedder or store failure); its progress is saved and a rerun resumes.

    The recorded embedder stays the old one until a run finishes, so start-up keeps warning until then.
    """

    def __init__(self, stage: str, done: int, recorded: str | None, detail: str) -> None:
        self.stage = stage
        self.done = done
        super().__init__(
            f"re-embedding stopped {stage} after {done} vector(s) in this run ({detail}). Progress "
            f"is saved: fix the cause and run `agent-memory reembed` again to resume; the recorded embedder stays "
            f"{recorded or 'unrecorded'} until a run finishes."
        )


class BackupError(AgentMemoryError):
    """A backup could not be written or restored; the message says which part and what to do."""


class BackupCorruptError(BackupError):
    """A backup directory whose manifest is unreadable or whose files do not match their recorded checksums.

    Nothing was restored: the check runs before anything is written.
    """


class BackupVersionError(BackupError):
    """A backup this version cannot restore: not an agent-memory backup, another format version, or a newer schema."""


class RestoreTargetNotEmpty(BackupError):
    """The store to restore into already holds memories; restore refuses unless forced (which replaces them)."""

    def __init__(self, contents: dict[str, int]) -> None:
        self.contents = contents
        held = ", ".join(f"{n:,} {what}" for what, n in sorted(contents.items()) if n)
        super().__init__(
            f"the target store is not empty ({held}). Restore into an empty store, or pass --force to replace "
            f"everything in it with the backup."
        )
