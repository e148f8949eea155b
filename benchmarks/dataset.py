"""The store the scaling and backup benchmarks measure: bench_remember's chat turns, facts and entities, spread
over several users, grown step by step and recorded in `<data dir>/dataset.json` so a later run reuses it.

Turns come from `bench_remember.turn_stream` (LoCoMo-style generated conversations); each generated sample
(a conversation and its sessions) belongs to one user, round robin. Facts and entities are learnt with
`bench_remember.learn`, `facts_per_turn` and `entities_per_turn` of the turns (0.1 and 0.05: 10k facts and 5k
entities at 100k turns, as bench_remember's 100k run), split evenly over the users.
"""

import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_remember import learn, turn_stream
from harness import progress

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Turn
from memory_runtime.stores.bundle import Stores

STATE = "dataset.json"
BATCH = 500


@dataclass
class Dataset:
    """What a data directory's store holds (the builder's parameters and how far it got)."""

    users: int
    seed: int
    facts_per_turn: float = 0.1
    entities_per_turn: float = 0.05
    turns: int = 0
    facts: int = 0
    entities: int = 0

    def user_ids(self) -> list[str]:
        """The users' ids, in round-robin order."""
        return [f"bench-user-{i:03d}" for i in range(self.users)]

    def same_recipe(self, other: "Dataset") -> bool:
        """Whether `other` was built with the same parameters (so this one can grow from it)."""
        keys = ("users", "seed", "facts_per_turn", "entities_per_turn")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


def load(data_dir: Path, wanted: Dataset) -> Dataset:
    """The data set recorded in `data_dir`, or `wanted` empty when there is none; an error for another recipe."""
    path = Path(data_dir) / STATE
    if not path.is_file():
        return wanted
    have = Dataset(**json.loads(path.read_text()))
    if not have.same_recipe(wanted):
        raise SystemExit(f"{data_dir} holds another data set ({have}); use a new --data-dir")
    return have


def save(data_dir: Path, dataset: Dataset) -> None:
    """Record what the store holds."""
    (Path(data_dir) / STATE).write_text(json.dumps(asdict(dataset), indent=2) + "\n")


def _owner(turn: Turn, users: list[str]) -> str:
    sample = int(turn.conversation_id[1:6])  # c<sample:05d>-s<session:02d>
    return users[sample % len(users)]


def grow(stores: Stores, data_dir: Path, dataset: Dataset, target: int, what: str = "") -> Dataset:
    """Store turns (and the facts and entities that go with them) until the store holds `target` turns."""
    if dataset.turns >= target:
        return dataset
    users = dataset.user_ids()
    stream = turn_stream(dataset.seed)
    for _ in range(dataset.turns):  # the stream is deterministic: skip what an earlier run stored
        next(stream)
    memories = {u: AgentMemory(u, stores=stores) for u in users}
    try:
        print(f"{what}storing turns {dataset.turns:,} -> {target:,} over {len(users)} users ...", file=sys.stderr)
        started, done, need = time.perf_counter(), 0, target - dataset.turns
        while done < need:
            by_user: dict[str, list[Turn]] = {}
            for _ in range(min(BATCH, need - done)):
                turn = next(stream)
                by_user.setdefault(_owner(turn, users), []).append(turn)
            for user, turns in by_user.items():
                memories[user].store_turns(turns)
                done += len(turns)
            progress("turns", done, need, started)
        print(file=sys.stderr)
        dataset.turns = target
        facts = round(target * dataset.facts_per_turn) - dataset.facts
        entities = round(target * dataset.entities_per_turn) - dataset.entities
        rng = random.Random(f"{dataset.seed}-{target}")
        print(f"{what}learning {facts:,} facts and {entities:,} entities ...", file=sys.stderr)
        for i, user in enumerate(users):
            share_f = facts // len(users) + (1 if i < facts % len(users) else 0)
            share_e = entities // len(users) + (1 if i < entities % len(users) else 0)
            learn(memories[user], share_f, share_e, rng)
        dataset.facts += facts
        dataset.entities += entities
    finally:
        for memory in memories.values():
            memory.close()
    save(data_dir, dataset)
    return dataset
