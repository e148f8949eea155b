"""`MemoryStore`: agent memory as LangGraph's long-term store (`graph.compile(store=MemoryStore(...))`).

How LangGraph's model maps onto this memory:

* **Users.** Every namespace belongs to one user: the label at `user_position` (default 0, so
  `("u1", "memories")` is user `u1`'s; LangMem's default `("memories", "{langgraph_user_id}")` wants
  `user_position=1`), or the store's fixed `user_id` when one is given (then every namespace is that user's).
  A get or put whose namespace is too short to name its user is an `InvalidNamespaceError`. A search or
  `list_namespaces` whose prefix names the user reads only that user's items; one that does not (an empty
  prefix, a wildcard there, a suffix only) reads every user of the store: a store without `user_id` is the
  application's, like LangGraph's own PostgresStore. Give `user_id=` to confine a store to one user.
* **Items are documents** in PostgreSQL (`store_items`, migration 0004): the value exactly as put, the
  namespace and key, `created_at` (kept on overwrite) and `updated_at`, and vectors of the indexed fields
  computed by the memory's own embedder (`fields`, default the whole value as LangGraph's `"$"`; a put's
  `index=False` or `index=[paths]` as in LangGraph). `forget_user` erases them with the rest of the user.
* **An item whose value has a text `content`** (LangMem's memories, `{"content": "User prefers tea"}`;
  `fact_field` names another field, None turns this off) is also learned as a **fact** of its user, so
  `AgentMemory.remember()` finds it with the user's other facts. The fact is `user_stated` with the
  extractor version `langgraph-store`, and the item keeps its id. Overwriting the item with another text
  invalidates that fact and learns the new one; deleting the item invalidates it (kept for `as_of` recall),
  unless another item still holds the same claim.
* **Search** is LangGraph's: the namespace prefix, then the filter with InMemoryStore's semantics
  (`memory_runtime.integrations.store_filters`); with a `query`, items are ranked by the cosine similarity of
  their best vector (`SearchItem.score`), and items without vectors follow. Without one, items come in the
  order InMemoryStore returns them: by namespace (in the order namespaces began to hold items), then in the
  order keys were first put. A batch reads before it writes and applies only the last put of a key, as
  LangGraph's stores do. The store scans the items under the prefix of the user (sized for agent memories).
* **Failures.** A batch's PostgreSQL writes are one transaction. Facts are learned after it commits: if the
  graph fails then, the items are durable, the error is raised, and the next put of such an item learns it.
"""

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from memory_runtime.config import Settings, load_settings
from memory_runtime.domain import ids, validation
from memory_runtime.domain.errors import ValidationError
from memory_runtime.domain.models import now
from memory_runtime.integrations import require
from memory_runtime.integrations import store_filters as filters
from memory_runtime.memory.semantic import SemanticMemory
from memory_runtime.stores import bridge
from memory_runtime.stores.async_bundle import AsyncStores
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.postgres import store_items as repo

require("langgraph.store.base", "langgraph")

from langgraph.store.base import (  # noqa: E402
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    validate_op_namespace,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path  # noqa: E402

EXTRACTOR_VERSION = "langgraph-store"
Address = tuple[str, tuple[str, ...], str]  # (user, namespace, key)


@dataclass
class _Plan:
    """A batch's writes: the last put of each (user, namespace, key), in the order keys first appear."""

    puts: dict[Address, PutOp] = field(default_factory=dict)

    @property
    def writes(self) -> list[tuple[Address, dict[str, Any]]]:
        return [(a, dict(op.value)) for a, op in self.puts.items() if op.value is not None]

    @property
    def deletes(self) -> list[Address]:
        return [a for a, op in self.puts.items() if op.value is None]


class MemoryStore(BaseStore):
    """A LangGraph `BaseStore` over agent memory; see the module docstring for the mapping.

    On `Stores`, `batch` runs on the sync drivers and `abatch` runs it on a worker thread. On `AsyncStores`
    (`await MemoryStore.aopen()`, or `MemoryStore(async_stores)` inside the event loop), `abatch` runs on the
    asyncio drivers (the same logic, through `memory_runtime.stores.bridge`), and `batch` from another thread
    (a sync node of an async graph) hands its ops to that loop, as LangGraph's AsyncPostgresStore does.
    `MemoryStore()` opens its own Stores from `settings` (default: the environment); stores it opened are
    closed by `close()` / `aclose()` or its `with` block, stores it was given are not.
    """

    supports_ttl = False

    def __init__(
        self,
        stores: Stores | None = None,
        *,
        settings: Settings | None = None,
        user_id: str | None = None,
        user_position: int = 0,
        fields: Sequence[str] = ("$",),
        fact_field: str | None = "content",
    ) -> None:
        if user_position < 0:
            raise ValueError(f"user_position must be >= 0, got {user_position}")
        self.user_id = None if user_id is None else validation.key(user_id, "user_id")
        self.user_position = user_position
        self.fields = [(path, tokenize_path(path) if path != "$" else path) for path in fields]
        self.fact_field = fact_field
        self._owns_stores = stores is None
        self.stores = stores or Stores.open(settings or load_settings())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checked = False
        if isinstance(self.stores, AsyncStores):
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = None  # set by the first abatch
        else:
            try:
                self._check_schema()
            except BaseException:
                self.close()
                raise

    @classmethod
    async def aopen(cls, *, settings: Settings | None = None, **options: Any) -> "MemoryStore":
        """A MemoryStore on its own AsyncStores (closed by `aclose()` / `async with`); options as the constructor's."""
        stores = await AsyncStores.aopen(settings or load_settings())
        try:
            store = cls(stores, **options)
            await bridge.run(store._check_schema)
        except BaseException:
            await stores.aclose()
            raise
        store._owns_stores = True
        return store

    def _check_schema(self) -> None:
        from memory_runtime.stores.migrations import check_schema

        check_schema(self.stores.pg, self.stores.settings.embedding_dimensions, self.stores.embedder.model_id)
        self._checked = True

    # ---- scope -----------------------------------------------------------------------------------
    def _owner(self, namespace: tuple[str, ...]) -> str:
        """The user a namespace belongs to."""
        if self.user_id is not None:
            return self.user_id
        if len(namespace) <= self.user_position:
            raise InvalidNamespaceError(
                f"namespace {namespace} has no label at user_position {self.user_position} to name its user"
            )
        return validation.key(namespace[self.user_position], f"user id (label {self.user_position} of {namespace})")

    def _scope(self, labels: Sequence[str | None]) -> str | None:
        """The user a read with these leading labels is confined to; None: every user of the store."""
        if self.user_id is not None:
            return self.user_id
        if len(labels) > self.user_position and labels[self.user_position] is not None:
            return labels[self.user_position]
        return None

    # ---- batch -----------------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the ops: every read sees the store as before the batch, then the puts are applied."""
        if not isinstance(self.stores, AsyncStores):
            return self._batch(list(ops))
        loop = self._loop
        if loop is None or not loop.is_running():
            raise RuntimeError("this MemoryStore runs on AsyncStores: use abatch (or the a* methods) in its event loop")
        try:
            same_thread = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_thread = False
        if same_thread:
            raise RuntimeError(
                "synchronous MemoryStore calls would block the event loop its AsyncStores run on: use the a* methods"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(list(ops)), loop).result()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """`batch` as a coroutine: on the asyncio drivers on AsyncStores, else on a worker thread."""
        ops = list(ops)
        if not isinstance(self.stores, AsyncStores):
            return await asyncio.to_thread(self._batch, ops)
        self._loop = self._loop or asyncio.get_running_loop()
        async with bridge.task_scope(self.stores.executor):
            if not self._checked:
                await bridge.run(self._check_schema)
            return await bridge.run(self._batch, ops)

    def _batch(self, ops: list[Op]) -> list[Result]:
        plan = self._plan(ops)
        results: list[Result] = [None] * len(ops)
        if any(not isinstance(op, PutOp) for op in ops):
            results = self._read(ops)
        if plan.puts:
            self._write(plan)
        return results

    def _plan(self, ops: Sequence[Op]) -> _Plan:
        """Validate every op before anything is read or written; collect the puts."""
        plan = _Plan()
        for op in ops:
            if not isinstance(op, GetOp | SearchOp | PutOp | ListNamespacesOp):
                raise ValueError(f"unknown store operation: {type(op).__name__}")
            validate_op_namespace(op)
            if isinstance(op, GetOp | PutOp):
                if not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
                if not isinstance(op.key, str) or "\x00" in op.key:
                    raise ValidationError(f"a store key must be a str without NUL characters, got {op.key!r}")
            if isinstance(op, GetOp):
                self._owner(op.namespace)
            elif isinstance(op, SearchOp):
                filters.check(op.filter)
            elif isinstance(op, PutOp):
                if op.ttl is not None:
                    raise NotImplementedError("MemoryStore does not support TTLs (supports_ttl is False)")
                if op.namespace[0] == "langgraph":
                    raise InvalidNamespaceError(f'Root label for namespace cannot be "langgraph". Got: {op.namespace}')
                if op.value is not None:
                    validation.json_text(dict(op.value), f"value of store item {op.key!r}")
                plan.puts[(self._owner(op.namespace), tuple(op.namespace), op.key)] = op
        return plan

    def _read(self, ops: Sequence[Op]) -> list[Result]:
        queries = sorted({op.query for op in ops if isinstance(op, SearchOp) and op.query})
        vectors = dict(zip(queries, self.stores.embedder.embed(queries), strict=True)) if queries else {}
        results: list[Result] = []
        with self.stores.pg.connection() as conn:
            for op in ops:
                if isinstance(op, GetOp):
                    row = repo.get_item(conn, self._owner(op.namespace), tuple(op.namespace), op.key)
                    results.append(None if row is None else _item(row))
                elif isinstance(op, SearchOp):
                    prefix = tuple(op.namespace_prefix)
                    rows = repo.search_items(
                        conn,
                        self._scope(prefix),
                        repo.NamespaceMatch(prefix),
                        filters.string_equalities(op.filter),
                        vectors.get(op.query) if op.query else None,
                        filters.numeric_bounds(op.filter),
                    )
                    with closing(rows):
                        results.append(_page((r for r in rows if filters.matches(r["value"], op.filter)), op))
                elif isinstance(op, ListNamespacesOp):
                    matches = [
                        repo.NamespaceMatch(tuple(None if p == "*" else p for p in c.path), c.match_type == "suffix")
                        for c in op.match_conditions or ()
                    ]
                    prefixes = [m.labels for m in matches if not m.at_end]
                    results.append(
                        repo.list_namespaces(
                            conn,
                            self._scope(prefixes[0] if prefixes else ()),
                            matches,
                            op.max_depth,
                            op.limit,
                            op.offset,
                        )
                    )
                else:
                    results.append(None)
        return results

    def _texts(self, op: PutOp) -> dict[str, str]:
        """The texts of a put to embed, by path (as LangGraph names them: `path`, or `path.i` for several)."""
        if op.value is None or op.index is False:
            return {}
        paths = self.fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
        texts: dict[str, str] = {}
        for path, tokens in paths:
            found = get_text_at_path(dict(op.value), tokens)
            if len(found) == 1:
                texts[path] = found[0]
            else:
                texts.update({f"{path}.{i}": text for i, text in enumerate(found)})
        return texts

    def _claim(self, value: dict[str, Any]) -> str | None:
        """The fact an item's value states, if it states one."""
        text = value.get(self.fact_field) if self.fact_field else None
        if not isinstance(text, str) or not ids.normalize_name(text):
            return None
        if len(text) > self.stores.settings.max_content_chars:
            return None  # too long for a fact: kept as a document only
        return text

    def _write(self, plan: _Plan) -> None:
        texts = {a: self._texts(op) for a, op in plan.puts.items()}
        flat = [t for by_path in texts.values() for t in by_path.values()]
        vectors = iter(self.stores.embedder.embed(flat)) if flat else iter(())
        writes = [
            repo.ItemWrite(a[0], a[1], a[2], value, {path: next(vectors) for path in texts[a]})
            for a, value in plan.writes
        ]
        with self.stores.pg.connection() as conn:
            before = {a: repo.get_item(conn, *a) for a in plan.puts}
            repo.put_items(conn, writes, now())
            repo.delete_items(conn, plan.deletes)
        self._sync_facts(plan, before)

    def _sync_facts(self, plan: _Plan, before: dict[Address, Any]) -> None:
        """Learn the facts the written items state and retire those no item states any more."""
        links: list[tuple[str, tuple[str, ...], str, str | None]] = []
        retired: dict[str, set[str]] = {}
        for address, op in plan.puts.items():
            old = before[address]
            old_fact = old["fact_id"] if old is not None else None
            claim = self._claim(dict(op.value)) if op.value is not None else None
            if claim is not None and old_fact and self._claim(old["value"]) == claim:
                continue  # the same claim: the same fact
            fact_id = None
            if claim is not None:
                fact_id = (
                    SemanticMemory(self.stores, address[0])
                    .learn_fact(claim, source="user_stated", extractor_version=EXTRACTOR_VERSION)
                    .id
                )
            if op.value is not None and (fact_id or old_fact):
                links.append((*address, fact_id))
            if old_fact and old_fact != fact_id:
                retired.setdefault(address[0], set()).add(old_fact)
        if not links and not retired:
            return
        with self.stores.pg.connection() as conn:
            repo.set_fact_ids(conn, links)
            in_use = {user: repo.facts_in_use(conn, user, sorted(facts)) for user, facts in retired.items()}
        for user, facts in retired.items():
            semantic = SemanticMemory(self.stores, user)
            for fact_id in sorted(facts - in_use[user]):
                semantic.invalidate_fact(fact_id)

    # ---- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the (sync) stores this object opened."""
        if self._owns_stores and getattr(self, "stores", None) is not None:
            self.stores.close()

    async def aclose(self) -> None:
        """Close the stores this object opened (AsyncStores or Stores)."""
        if self._owns_stores and isinstance(self.stores, AsyncStores):
            await self.stores.aclose()
        else:
            self.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "MemoryStore":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _fields(row: Any) -> dict[str, Any]:
    """The Item fields of a store row."""
    return {
        "value": row["value"],
        "key": row["key"],
        "namespace": tuple(row["namespace"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _item(row: Any) -> Item:
    return Item(**_fields(row))


def _search_item(row: Any) -> SearchItem:
    return SearchItem(**_fields(row), score=row["score"])


def _page(rows: Iterator[Any], op: SearchOp) -> list[SearchItem]:
    """The requested page of the matching rows, which come in the store's order (best first with a query).

    As InMemoryStore pages: with a query, `offset` skips scored items and items without vectors fill what is
    left of the page; without one, the page is a slice of the matches.
    """
    if op.offset < 0 or op.limit < 0:  # a slice counts these from the end: it needs every match
        everything = list(rows)
        if op.query:
            scored = [r for r in everything if r["score"] is not None][op.offset : op.offset + op.limit]
            fill = [r for r in everything if r["score"] is None][: max(op.limit - len(scored), 0)]
            return [_search_item(r) for r in scored + fill]
        return [_search_item(r) for r in everything[op.offset : op.offset + op.limit]]
    if not op.query:
        return [_search_item(r) for r in islice(rows, op.offset, op.offset + op.limit)]
    page: list[Any] = []
    skipped = 0
    for row in rows:
        if len(page) >= op.limit:
            break
        if row["score"] is not None and skipped < op.offset:
            skipped += 1
        else:
            page.append(row)
    return [_search_item(r) for r in page]
