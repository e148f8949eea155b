"""Tenancy: a tenant is a namespace of users, made by naming the runtime's users and conversations after it.

Decision: the server never filters by tenant itself. The runtime already scopes every read, write, count and
erasure to one `user_id` (every row, node and Redis key carries it), so the server gives the runtime the user
`<tenant>:<user_id>` (`runtime_user_id`, the one place this is done). The same `user_id` under two tenants is
then two runtime users, and every per-user scope of the runtime isolates tenants for free. Conversation ids are
global keys in the runtime (a conversation belongs to one user; turn ids are uuid5 of conversation and index),
so they are namespaced the same way (`runtime_conversation_id`) and stripped again on the way out
(`public_conversation_id`): otherwise tenant B storing conversation "c1" could learn that tenant A has one.
A tenant name cannot contain ':', so the mapping is injective. An id of another tenant's data (a fact, goal,
entity, strategy id) is simply unknown to the caller's runtime user: the answer is the same 404 as for an id
that never existed.
"""

import threading
from collections import OrderedDict

from memory_runtime.api import AgentMemory
from memory_runtime.domain import validation
from memory_runtime.domain.errors import ValidationError
from memory_runtime.stores.bundle import Stores

SEPARATOR = ":"
MAX_PUBLIC_ID_CHARS = validation.MAX_ID_CHARS - 64  # room for "<tenant>:" (a tenant has at most 63 characters)


def _public_key(value: str, what: str) -> str:
    value = validation.key(value, what)
    if len(value) > MAX_PUBLIC_ID_CHARS:
        raise ValidationError(f"{what} is longer than {MAX_PUBLIC_ID_CHARS} characters")
    return value


def runtime_user_id(tenant: str, user_id: str) -> str:
    """The runtime's user for `user_id` of `tenant`: the only place a tenant user is named."""
    return f"{tenant}{SEPARATOR}{_public_key(user_id, 'user_id')}"


def runtime_conversation_id(tenant: str, conversation_id: str) -> str:
    """The runtime's conversation id for a tenant's conversation id."""
    return f"{tenant}{SEPARATOR}{_public_key(conversation_id, 'conversation_id')}"


def public_conversation_id(tenant: str, conversation_id: str | None) -> str | None:
    """A runtime conversation id as the tenant named it."""
    prefix = f"{tenant}{SEPARATOR}"
    if conversation_id is not None and conversation_id.startswith(prefix):
        return conversation_id[len(prefix) :]
    return conversation_id


def public_text(tenant: str, text: str) -> str:
    """A runtime message (an error, a warning) with the tenant's namespace prefix left out of the ids it names."""
    return text.replace(f"{tenant}{SEPARATOR}", "")


class TenantMemories:
    """One AgentMemory per runtime user over the process's shared Stores, the most recently used kept open.

    An AgentMemory holds no per-call state, so requests of one user share it; keeping it spares the schema
    check its constructor makes.
    """

    def __init__(self, stores: Stores, capacity: int = 4096) -> None:
        self.stores = stores
        self._capacity = capacity
        self._open: OrderedDict[str, AgentMemory] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant: str, user_id: str) -> AgentMemory:
        """The AgentMemory of `user_id` in `tenant`."""
        runtime_id = runtime_user_id(tenant, user_id)
        with self._lock:
            memory = self._open.get(runtime_id)
            if memory is not None:
                self._open.move_to_end(runtime_id)
                return memory
        memory = AgentMemory(runtime_id, stores=self.stores)
        with self._lock:
            self._open[runtime_id] = memory
            while len(self._open) > self._capacity:
                self._open.popitem(last=False)
        return memory
