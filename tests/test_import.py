"""Importing historical conversations (jsonl, openai, chatgpt, sessions) and backfilling their days.

Every test writes real files and imports them into the test's namespace on the embedded stores; the
backfill tests run the `dagster` CLI against a Postgres-backed Dagster instance of their own.
"""

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from memory_ops.backfill import (
    DEFAULT_JOB,
    BackfillRequest,
    child_environment,
    launch_via_webserver,
    run_backfill,
)
from memory_ops.importer import Importer, import_paths
from memory_ops.importers import detect_format, parse_file
from memory_ops.importers.base import SourceFile
from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import (
    ConversationOwnershipError,
    ImportFormatError,
    TurnConflictError,
    ValidationError,
)
from memory_runtime.stores.bundle import Stores

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
USER = "maya"


# ---- files ------------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def jsonl_records(conv: str = "c1", n: int = 4, start: datetime = T0, step: timedelta = timedelta(minutes=1)):
    return [
        {"conversation_id": conv, "index": i, "role": "user" if i % 2 == 0 else "assistant",
         "content": f"{conv} message {i} about the Lisbon office", "timestamp": iso(start + i * step)}
        for i in range(n)
    ]  # fmt: skip


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def openai_file(path: Path) -> Path:
    messages = [
        {"role": "system", "content": "You are a helpful travel assistant."},
        {"role": "user", "content": "Plan a weekend in Porto", "timestamp": "2024-03-02T10:00:00Z"},
        {"role": "assistant", "content": None, "created_at": 1709373605,
         "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "sunny, 18C"},
        {"role": "assistant", "content": [{"type": "text", "text": "Walk along the Douro on Saturday."}]},
    ]  # fmt: skip
    path.write_text(json.dumps(messages), "utf-8")
    return path


def chatgpt_export(path: Path) -> Path:
    """One conversation with a regenerated answer: the kept branch ends at current_node n5."""

    def node(nid, parent, children, role=None, text=None, ts=None, hidden=False, kind="text"):
        msg = None
        if role is not None:
            msg = {
                "id": nid,
                "author": {"role": role},
                "create_time": ts,
                "content": {"content_type": kind, "parts": [text]},
                "metadata": {"is_visually_hidden_from_conversation": True} if hidden else {},
            }
        return {"id": nid, "parent": parent, "children": children, "message": msg}

    base = T0.timestamp()
    mapping = {
        "root": node("root", None, ["sys"]),
        "sys": node("sys", "root", ["n1"], "system", "", None, hidden=True),
        "n1": node("n1", "sys", ["n2", "n3"], "user", "Which laptop should I buy?", base + 10),
        "n2": node("n2", "n1", [], "assistant", "OLD ANSWER: buy a ThinkPad", base + 20),
        "n3": node("n3", "n1", ["n4"], "assistant", "A MacBook Air fits your travel plans.", base + 30),
        "n4": node("n4", "n3", ["n5"], "user", "And for gaming?", base + 40),
        "n5": node("n5", "n4", [], "assistant", "Then a desktop with a recent GPU.", None),
    }  # fmt: skip
    conv = {"id": "chatgpt-c1", "title": "Laptop advice", "create_time": base, "update_time": base + 60,
            "mapping": mapping, "current_node": "n5"}  # fmt: skip
    path.write_text(json.dumps([conv]), "utf-8")
    return path


def sessions_file(path: Path) -> Path:
    dialogue = {
        "sample_id": "conv-7",
        "conversation": {
            "speaker_a": "Caroline", "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2024",
            "session_1": [{"speaker": "Caroline", "dia_id": "D1:1", "text": "I started pottery classes!"},
                          {"speaker": "Melanie", "dia_id": "D1:2", "text": "That sounds relaxing."}],
            "session_2_date_time": "10:00 am on 15 May, 2024",
            "session_2": [{"speaker": "Melanie", "dia_id": "D2:1", "text": "How was the second class?"},
                          {"speaker": "Caroline", "dia_id": "D2:2", "text": "I made a bowl.",
                           "blip_caption": "a photo of a clay bowl"}],
        },
        "qa": [{"question": "What did Caroline make?", "answer": "a bowl"}],
    }  # fmt: skip
    path.write_text(json.dumps([dialogue]), "utf-8")
    return path


# ---- store helpers ----------------------------------------------------------------------------------


def row_count(stores: Stores) -> int:
    return stores.pg.fetch("SELECT count(*) AS n FROM conversation_logs")[0]["n"]


def stored(stores: Stores, conv: str) -> list[dict]:
    return stores.pg.fetch(
        "SELECT turn_index, role, content, created_at, user_id FROM conversation_logs "
        "WHERE conversation_id = %s ORDER BY turn_index",
        (conv,),
    )


def run_import(stores: Stores, *paths: Path, user: str | None = USER, **options):
    return import_paths(stores, list(paths), user, progress=False, fail_fast=options.pop("fail_fast", True), **options)


# ---- formats ----------------------------------------------------------------------------------------


def test_jsonl_turns_are_stored_with_their_original_timestamps(stores, tmp_path):
    records = jsonl_records("c1", 4, step=timedelta(hours=7))
    summary = run_import(stores, write_jsonl(tmp_path / "turns.jsonl", records))
    assert (summary.conversations, summary.turns, summary.inserted, summary.duplicates) == (1, 4, 4, 0)
    rows = stored(stores, "c1")
    assert [r["created_at"] for r in rows] == [T0 + i * timedelta(hours=7) for i in range(4)]
    assert [r["role"] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert {r["user_id"] for r in rows} == {USER}
    assert summary.date_range() == (date(2024, 3, 1), date(2024, 3, 2))  # 09:00 + 21 h


def test_openai_messages_become_one_conversation_named_after_the_file(stores, tmp_path):
    summary = run_import(stores, openai_file(tmp_path / "porto-trip.json"))
    rows = stored(stores, "porto-trip")
    assert summary.formats == {"openai": 1}
    assert [r["role"] for r in rows] == ["system", "user", "assistant", "tool", "assistant"]
    assert rows[2]["content"] == "[tool call] weather({})"
    assert rows[4]["content"] == "Walk along the Douro on Saturday."
    # undated messages sit one second after the previous one (the system prompt one second before the first)
    assert rows[0]["created_at"] == datetime(2024, 3, 2, 9, 59, 59, tzinfo=UTC)
    assert rows[2]["created_at"] == datetime.fromtimestamp(1709373605, UTC)
    assert rows[3]["created_at"] == rows[2]["created_at"] + timedelta(seconds=1)


def test_openai_fine_tuning_jsonl_is_one_conversation_per_line(stores, tmp_path):
    path = tmp_path / "ft.jsonl"
    lines = [{"messages": [{"role": "user", "content": f"question {i}", "timestamp": iso(T0)},
                           {"role": "assistant", "content": f"answer {i}"}]} for i in range(3)]  # fmt: skip
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", "utf-8")
    summary = run_import(stores, path)
    assert summary.formats == {"openai": 1} and summary.conversations == 3
    assert [r["content"] for r in stored(stores, "ft-2")] == ["question 1", "answer 1"]


def test_chatgpt_export_keeps_the_branch_that_ends_at_current_node(stores, tmp_path):
    summary = run_import(stores, chatgpt_export(tmp_path / "conversations.json"))
    rows = stored(stores, "chatgpt-c1")
    assert summary.formats == {"chatgpt": 1}
    assert [r["content"] for r in rows] == [
        "Which laptop should I buy?",
        "A MacBook Air fits your travel plans.",
        "And for gaming?",
        "Then a desktop with a recent GPU.",
    ]  # the regenerated-away answer and the hidden system node are not there
    assert [r["created_at"] for r in rows[:3]] == [T0 + timedelta(seconds=s) for s in (10, 30, 40)]
    assert rows[3]["created_at"] == T0 + timedelta(seconds=41)  # no create_time: one second after the previous


def test_sessions_map_the_first_speaker_to_user_and_number_turns_across_sessions(stores, tmp_path):
    run_import(stores, sessions_file(tmp_path / "locomo.json"))
    rows = stored(stores, "conv-7")
    assert [(r["turn_index"], r["role"]) for r in rows] == [
        (0, "user"),
        (1, "assistant"),
        (2, "assistant"),
        (3, "user"),
    ]
    first = datetime(2024, 5, 8, 13, 56, tzinfo=UTC)
    second = datetime(2024, 5, 15, 10, 0, tzinfo=UTC)
    assert [r["created_at"] for r in rows] == [
        first,
        first + timedelta(seconds=30),
        second,
        second + timedelta(seconds=30),
    ]
    assert rows[3]["content"] == "I made a bowl. [image: a photo of a clay bowl]"


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (lambda p: write_jsonl(p, jsonl_records()), "a.data", "jsonl"),
        (openai_file, "b.data", "openai"),
        (chatgpt_export, "c.data", "chatgpt"),
        (sessions_file, "d.data", "sessions"),
    ],
)
def test_the_format_is_detected_from_the_content_not_the_file_name(tmp_path, make, name, expected):
    path = make(tmp_path / name)
    assert detect_format(SourceFile(path)) == expected
    assert parse_file(path).format == expected


# ---- malformed files: a typed error naming the file and place, and nothing written ------------------


def _good_then(tmp_path: Path, bad_line: str) -> Path:
    """A jsonl file whose first three turns are fine and whose fourth line is `bad_line`."""
    path = tmp_path / "history.jsonl"
    good = "".join(json.dumps(r) + "\n" for r in jsonl_records("c1", 3))
    path.write_text(good + bad_line + "\n", "utf-8")
    return path


def _record(**changes) -> str:
    record = jsonl_records("c1", 4)[3]
    record.update(changes)
    return json.dumps({k: v for k, v in record.items() if v is not None})


MALFORMED = {
    "truncated JSON line": (lambda: _record()[:-9], r"history\.jsonl: line 4: truncated JSON"),
    "missing field": (lambda: _record(timestamp=None), r"history\.jsonl: line 4: missing field 'timestamp'"),
    "bad timestamp": (lambda: _record(timestamp="last Tuesday"), r"line 4: bad timestamp 'last Tuesday'"),
    "timestamp in the future": (lambda: _record(timestamp="2999-01-01T00:00:00Z"), r"line 4: .*is in the future"),
    "unknown role": (lambda: _record(role="narrator"), r"history\.jsonl: line 4: unknown role 'narrator'"),
    "blank content": (lambda: _record(content="  "), r"line 4: content: text must be a non-empty string"),
    "index not a number": (lambda: _record(index="3"), r"line 4: index must be a whole number"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_jsonl_line_names_file_and_line_and_writes_nothing(stores, tmp_path, case):
    make_line, message = MALFORMED[case]
    path = _good_then(tmp_path, make_line())
    before = row_count(stores)
    with pytest.raises(ImportFormatError, match=message) as info:
        run_import(stores, path)
    assert info.value.path == str(path) and info.value.line == 4
    assert row_count(stores) == before


def test_non_utf8_bytes_name_the_line_and_write_nothing(stores, tmp_path):
    path = tmp_path / "latin1.jsonl"
    good = "".join(json.dumps(r) + "\n" for r in jsonl_records("c1", 2)).encode()
    latin1 = json.dumps(dict(jsonl_records("c1", 3)[2], content="café au lait"), ensure_ascii=False).encode("latin-1")
    path.write_bytes(good + latin1 + b"\n")
    with pytest.raises(ImportFormatError, match=r"latin1\.jsonl: line 3: not valid UTF-8 \(byte 0xe9"):
        run_import(stores, path)
    assert row_count(stores) == 0


def test_a_truncated_json_document_names_the_line_where_it_ends(stores, tmp_path):
    path = chatgpt_export(tmp_path / "conversations.json")
    text = json.dumps(json.loads(path.read_text()), indent=1)
    path.write_text(text[: len(text) // 2], "utf-8")
    lines = path.read_text().count("\n") + 1
    with pytest.raises(ImportFormatError, match=rf"conversations\.json: line {lines}: truncated JSON"):
        run_import(stores, path)
    assert row_count(stores) == 0


@pytest.mark.parametrize(
    ("make", "mutate", "message"),
    [
        (chatgpt_export, lambda d: d[0]["mapping"]["n4"]["message"]["author"].update(role="robot"),
         r"conversation 0 \(chatgpt-c1\), node n4: unknown role 'robot'"),
        (chatgpt_export, lambda d: d[0].update(current_node="nope"), r"current_node 'nope' is not in the mapping"),
        (chatgpt_export, lambda d: d[0]["mapping"]["n3"]["message"].update(create_time="soon"),
         r"node n3: bad timestamp 'soon'"),
        (sessions_file, lambda d: d[0]["conversation"].pop("session_2_date_time"),
         r"dialogue 0 \(conv-7\), session_2: missing session time"),
        (openai_file, lambda d: d[3].pop("role"), r"porto\.json: message 3: missing field 'role'"),
    ],
)  # fmt: skip
def test_a_malformed_record_in_a_json_document_is_named_and_nothing_is_written(stores, tmp_path, make, mutate, message):
    path = make(tmp_path / ("porto.json" if make is openai_file else "export.json"))
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(ImportFormatError, match=message):
        run_import(stores, path)
    assert row_count(stores) == 0


def test_a_bad_file_is_reported_and_the_other_files_are_still_imported(stores, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", jsonl_records("c1", 3))
    bad = _good_then(tmp_path, _record(role="narrator"))
    bad = bad.rename(tmp_path / "bad.jsonl")
    summary = run_import(stores, good, bad, fail_fast=False)
    assert not summary.ok and summary.files == 1 and summary.files_failed == 1
    assert len(summary.errors) == 1 and "bad.jsonl: line 4: unknown role" in summary.errors[0]
    assert row_count(stores) == 3  # good.jsonl only


# ---- idempotency, conflicts, ownership --------------------------------------------------------------


def test_reimporting_a_file_inserts_nothing_and_counts_every_turn_as_a_duplicate(stores, tmp_path):
    path = write_jsonl(tmp_path / "turns.jsonl", jsonl_records("c1", 5) + jsonl_records("c2", 3))
    first = run_import(stores, path)
    second = run_import(stores, path)
    assert (first.inserted, first.duplicates) == (8, 0)
    assert (second.inserted, second.duplicates, second.turns) == (0, 8, 8)
    assert row_count(stores) == 8


def test_a_file_that_extends_a_conversation_imports_only_the_new_turns(stores, tmp_path):
    run_import(stores, write_jsonl(tmp_path / "a.jsonl", jsonl_records("c1", 3)))
    summary = run_import(stores, write_jsonl(tmp_path / "b.jsonl", jsonl_records("c1", 6)))
    assert (summary.inserted, summary.duplicates) == (3, 3)


def test_other_content_at_a_stored_index_rejects_the_whole_file(stores, tmp_path):
    run_import(stores, write_jsonl(tmp_path / "a.jsonl", jsonl_records("c1", 2)))
    changed = jsonl_records("c2", 3) + jsonl_records("c1", 3)
    changed[-2]["content"] = "rewritten history"
    with pytest.raises(TurnConflictError, match=r"b\.jsonl: turn 1 of conversation 'c1'.*Nothing of this file"):
        run_import(stores, write_jsonl(tmp_path / "b.jsonl", changed))
    assert row_count(stores) == 2  # not even c2, which comes first in the file


def test_a_conversation_of_another_user_rejects_the_whole_file(stores, tmp_path):
    run_import(stores, write_jsonl(tmp_path / "a.jsonl", jsonl_records("shared", 2)), user="sam")
    path = write_jsonl(tmp_path / "b.jsonl", jsonl_records("mine", 2) + jsonl_records("shared", 2))
    with pytest.raises(ConversationOwnershipError, match=r"b\.jsonl: conversation\(s\) 'shared'"):
        run_import(stores, path)
    assert row_count(stores) == 2


def test_a_record_user_id_must_match_user_unless_users_come_from_the_records(stores, tmp_path):
    records = [dict(r, user_id="sam") for r in jsonl_records("c1", 2)] + jsonl_records("c2", 2)
    path = write_jsonl(tmp_path / "two-users.jsonl", records)
    with pytest.raises(ImportFormatError, match=r"belongs to user_id 'sam', not --user 'maya'"):
        run_import(stores, path)
    summary = run_import(stores, path, users_from_records=True)
    assert summary.users == {"sam", "maya"}
    assert {r["user_id"] for r in stored(stores, "c1")} == {"sam"}
    assert {r["user_id"] for r in stored(stores, "c2")} == {"maya"}


def test_small_batches_write_every_turn_of_every_conversation(stores, tmp_path):
    records = jsonl_records("c1", 7) + jsonl_records("c2", 2) + jsonl_records("c3", 4)
    summary = run_import(stores, write_jsonl(tmp_path / "t.jsonl", records), batch_size=3)
    assert summary.inserted == 13 and row_count(stores) == 13


def test_a_malformed_line_after_several_batches_still_writes_nothing(stores, tmp_path):
    # The file is written in batches of 2 in a second pass; the first pass reads it to the end before that.
    good = "".join(json.dumps(r) + "\n" for r in jsonl_records("c1", 6) + jsonl_records("c2", 3))
    path = tmp_path / "late.jsonl"
    path.write_text(good + _record(role="narrator") + "\n", "utf-8")
    with pytest.raises(ImportFormatError, match=r"late\.jsonl: line 10: unknown role"):
        run_import(stores, path, batch_size=2)
    assert row_count(stores) == 0


def test_interleaved_jsonl_conversations_are_stored_once_per_turn_and_linked_in_order(stores, tmp_path):
    c1, c2 = jsonl_records("c1", 5), jsonl_records("c2", 4)
    records = [c1[3], c2[0], c1[0], c2[2], c1[1], c1[3], c2[1], c1[4], c2[3], c1[2], c2[0]]  # c1[3], c2[0] twice
    summary = run_import(stores, write_jsonl(tmp_path / "mixed.jsonl", records), batch_size=3)
    assert (summary.conversations, summary.turns, summary.inserted) == (2, 9, 9)
    assert [r["turn_index"] for r in stored(stores, "c1")] == [0, 1, 2, 3, 4]
    chain = stores.graph.read(
        "MATCH (a:Turn)-[:FOLLOWED_BY]->(b:Turn) WHERE a.user_id = $u "
        "RETURN a.conversation_id AS c, a.index AS i, b.index AS j ORDER BY c, i",
        {"u": USER},
    )
    assert [(r["c"], r["i"], r["j"]) for r in chain] == [("c1", i, i + 1) for i in range(4)] + [
        ("c2", i, i + 1) for i in range(3)
    ]


def test_a_file_changed_between_the_two_passes_stops_with_an_error_and_a_rerun_finishes(stores, tmp_path):
    path = write_jsonl(tmp_path / "moving.jsonl", jsonl_records("c1", 6))
    importer = Importer(stores, USER, batch_size=2, progress=False)
    checked = importer._plan

    def edit_after_the_check(*args):  # another program rewrites the file after the first pass validated it
        plan = checked(*args)
        changed = jsonl_records("c1", 6)
        changed[4]["content"] = "rewritten while importing"
        write_jsonl(path, changed)
        return plan

    importer._plan = edit_after_the_check  # type: ignore[method-assign]
    summary = importer.run([path])
    assert not summary.ok and "the file changed while it was imported" in summary.errors[0]
    assert row_count(stores) == 4  # the batches before the changed turn
    again = run_import(stores, path)  # the file as it is now: the stored turns are skipped, the rest written
    assert (again.inserted, again.duplicates) == (2, 4)
    assert stored(stores, "c1")[4]["content"] == "rewritten while importing"


def test_import_memory_does_not_grow_with_the_file(stores, tmp_path):
    import tracemalloc

    filler = " ".join(["lisbon"] * 300)  # about 2 KB of text per turn, 5 MB for the file's 2,400 turns
    records = [dict(r, content=f"{r['content']} {filler}") for c in range(48) for r in jsonl_records(f"m{c}", 50)]
    path = write_jsonl(tmp_path / "big.jsonl", records)
    text_bytes = sum(len(r["content"]) for r in records)
    tracemalloc.start()
    try:
        summary = run_import(stores, path, batch_size=20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.inserted == 2400
    # Holding the file's turns would take more than its text; the importer holds two batches and the hashes.
    assert peak < text_bytes / 3, (peak, text_bytes)


def test_imported_turns_are_projected_into_the_graph(stores, tmp_path):
    run_import(stores, write_jsonl(tmp_path / "t.jsonl", jsonl_records("c1", 3)))
    rows = stores.graph.read("MATCH (t:Turn) WHERE t.user_id = $u RETURN t.timestamp AS ts ORDER BY ts", {"u": USER})
    assert [r["ts"] for r in rows] == [int((T0 + timedelta(minutes=i)).timestamp() * 1000) for i in range(3)]


def test_dry_run_validates_and_writes_nothing(stores, tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", jsonl_records("c1", 4))
    summary = Importer(None, USER, dry_run=True, progress=False).run([path])
    assert summary.dry_run and summary.turns == 4 and summary.inserted == 0
    assert row_count(stores) == 0
    bad = _good_then(tmp_path, _record(role="narrator"))
    assert "unknown role" in Importer(None, USER, dry_run=True).run([bad]).errors[0]


def test_an_import_needs_a_user(stores, tmp_path):
    with pytest.raises(ValidationError, match="no user"):
        Importer(stores, None)


# ---- original timestamps drive recall windows -------------------------------------------------------


def test_remember_with_a_time_window_finds_only_imported_turns_inside_it(stores, tmp_path):
    records = [
        {"conversation_id": f"day-{d}", "index": 0, "role": "user", "timestamp": iso(T0 + timedelta(days=d)),
         "content": f"Standup notes for day {d}: the Kafka consumer lag is still high"}
        for d in range(5)
    ]  # fmt: skip
    run_import(stores, write_jsonl(tmp_path / "standups.jsonl", records))
    as_of = T0 + timedelta(days=2, hours=6)
    with AgentMemory(USER, stores=stores) as memory:
        everything = memory.remember("Kafka consumer lag standup", top_k=10, include_semantic=False)
        window = memory.remember(
            "Kafka consumer lag standup", top_k=10, time_window_hours=30, as_of=as_of, include_semantic=False
        )
    assert {t["conversation_id"] for t in everything.relevant_turns} == {f"day-{d}" for d in range(5)}
    assert {t["conversation_id"] for t in window.relevant_turns} == {"day-1", "day-2"}
    assert all(as_of - timedelta(hours=30) <= t["timestamp"] <= as_of for t in window.relevant_turns)


# ---- CLI --------------------------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORY_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "memory_ops.cli", *args], env=base | env, cwd=REPO,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_cli_import_prints_the_summary_and_fails_on_a_bad_file(settings, stores, tmp_path):
    env = {k: v for k, v in child_environment(settings, {}).items() if k != "MEMORY_DATA_DIR"}
    path = write_jsonl(tmp_path / "t.jsonl", jsonl_records("c1", 4, step=timedelta(days=1)))
    dry = cli("import", str(path), "--user", USER, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing written" in dry.stdout and row_count(stores) == 0
    ok = cli("import", str(path), "--user", USER, "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert (summary["inserted"], summary["first_day"], summary["last_day"]) == (4, "2024-03-01", "2024-03-04")
    bad = _good_then(tmp_path, _record(timestamp="yesterday"))
    failed = cli("import", str(bad), "--user", USER, env=env)
    assert failed.returncode == 1
    assert f"{bad}: line 4: bad timestamp 'yesterday'" in failed.stdout


def test_cli_format_choices_match_the_parsers():
    from memory_ops.cli import IMPORT_FORMATS
    from memory_ops.importers import FORMATS

    assert tuple(IMPORT_FORMATS) == tuple(FORMATS)


# ---- backfill ---------------------------------------------------------------------------------------


def test_a_backfill_range_must_be_existing_day_partitions(settings):
    today = date(2024, 3, 10)
    plan = BackfillRequest.plan(date(2024, 3, 1), date(2024, 3, 2), settings, today=today)
    assert plan.partition_keys() == ["2024-03-01", "2024-03-02"] and plan.job == DEFAULT_JOB
    with pytest.raises(ValidationError, match="after --to"):
        BackfillRequest.plan(date(2024, 3, 2), date(2024, 3, 1), settings, today=today)
    with pytest.raises(ValidationError, match="in the future"):
        BackfillRequest.plan(date(2024, 3, 1), date(2024, 3, 11), settings, today=today)
    with pytest.raises(ValidationError, match="before the first day partition 2024-01-01"):
        BackfillRequest.plan(date(2023, 12, 31), date(2024, 3, 1), settings, today=today)


def test_the_graphql_documents_are_valid_for_the_installed_dagster():
    from graphql import parse, validate

    from memory_ops import backfill

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from dagster_graphql.schema import create_schema

        schema = create_schema().graphql_schema
    for doc in (backfill._JOBS_QUERY, backfill._JOB_ASSETS_QUERY, backfill._LAUNCH_MUTATION, backfill._STATUS_QUERY):
        assert validate(schema, parse(doc)) == []


@pytest.fixture
def dagster_home(stack, tmp_path, monkeypatch):
    """A DAGSTER_HOME whose instance lives in a fresh database on the session's PostgreSQL."""
    import psycopg
    from psycopg import sql

    db = "dagster_" + uuid.uuid4().hex[:10]
    with psycopg.connect(stack.postgres_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    url = stack.dagster_pg_url.replace("/dagster?", f"/{db}?")
    assert url != stack.dagster_pg_url
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "memory_ops" / "dagster_instance.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    try:
        yield {"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": url}
    finally:
        with psycopg.connect(stack.postgres_uri, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


def _instance():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dagster as dg

        return dg.DagsterInstance.get()


def test_backfill_consolidates_the_imported_days_in_one_recorded_run(settings, stores, tmp_path, dagster_home):
    import dagster as dg

    records = jsonl_records("c1", 2, start=T0) + jsonl_records("c2", 2, start=T0 + timedelta(days=1))
    records[0]["content"] = "I live in Berlin and I work at Acme Corp."
    run_import(stores, write_jsonl(tmp_path / "two-days.jsonl", records))
    request = BackfillRequest.plan(date(2024, 3, 1), date(2024, 3, 2), settings)
    env = child_environment(settings, {**os.environ, **dagster_home})
    outcome = run_backfill(request, env, out=io.StringIO())
    assert outcome.ok and outcome.run_id and outcome.log_path.is_file()

    instance = _instance()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        run = instance.get_run_by_id(outcome.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS and run.job_name == DEFAULT_JOB
        assert run.tags["dagster/asset_partition_range_start"] == "2024-03-01"
        assert run.tags["dagster/asset_partition_range_end"] == "2024-03-02"
        for asset in ("conversation_turns", "episodic_graph", "semantic_memory", "memory_timeline"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {"2024-03-01", "2024-03-02"}
    finally:
        instance.dispose()
    facts = stores.graph.read("MATCH (f:Fact) WHERE f.user_id = $u RETURN f.claim AS c", {"u": USER})
    assert {"User lives in Berlin", "User works at Acme Corp"} <= {f["c"] for f in facts}


def test_backfill_without_dagster_home_refuses_to_use_a_throwaway_instance(settings):
    from memory_runtime.domain.errors import ConfigurationError

    request = BackfillRequest.plan(date(2024, 3, 1), date(2024, 3, 1), settings)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    with pytest.raises(ConfigurationError, match="DAGSTER_HOME is not set"):
        run_backfill(request, env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backfill_on_a_webserver_launches_a_dagster_backfill_of_the_jobs_assets(settings, dagster_home):
    port = _free_port()
    env = child_environment(settings, {**os.environ, **dagster_home})
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        import httpx

        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "dagster-webserver did not start"
            time.sleep(0.3)
        request = BackfillRequest.plan(date(2024, 3, 1), date(2024, 3, 3), settings)
        outcome = launch_via_webserver(request, url, out=io.StringIO())
    finally:
        server.terminate()
        server.wait(timeout=30)
    import dagster as dg

    instance = _instance()
    try:
        backfill = instance.get_backfill(outcome.backfill_id)
        job_assets = ("conversation_turns", "episodic_graph", "semantic_memory", "procedural_strategies",
                      "memory_timeline", "user_profiles")  # fmt: skip
        assert set(backfill.asset_selection) == {dg.AssetKey(k) for k in job_assets}
        subset = backfill.asset_backfill_data.target_subset.get_partitions_subset(dg.AssetKey("semantic_memory"))
        assert sorted(subset.get_partition_keys()) == ["2024-03-01", "2024-03-02", "2024-03-03"]
    finally:
        instance.dispose()


def test_a_conversation_imported_in_many_small_batches_is_one_linked_chain_on_every_graph(backend_stores, tmp_path):
    """Batches are projected while the next ones are committed (on FalkorDB two at a time): every neighbour
    pair across a batch boundary is still linked, once."""
    records = jsonl_records("long", 40)
    summary = run_import(backend_stores, write_jsonl(tmp_path / "long.jsonl", records), batch_size=3)
    assert summary.ok and summary.inserted == 40
    chain = backend_stores.graph.read(
        "MATCH (a:Turn)-[:FOLLOWED_BY]->(b:Turn) WHERE a.conversation_id = 'long' "
        "RETURN a.index AS i, b.index AS j ORDER BY i",
    )
    assert [(r["i"], r["j"]) for r in chain] == [(i, i + 1) for i in range(39)]
