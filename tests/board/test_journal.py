"""The journal: replay, idempotent re-apply, torn tails, broken chains, rollbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.board.client import EventDraft
from sprintboard.board.repair import RepairReport, repair_journal
from sprintboard.errors import JournalCorrupt, JournalRolledBack


def _journal(root: Path) -> Path:
    return root / "sprints" / "events.jsonl"


def _snapshot(root: Path) -> Path:
    return root / "sprints" / "SPRINT_QUEUE.json"


def test_events_follow_the_contract(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    lines = _journal(tmp_path).read_bytes().splitlines()
    first = orjson.loads(lines[0])
    assert list(first) == ["v", "seq", "id", "ts", "actor", "op", "task", "fields", "fence", "prev"]
    assert first["seq"] == 1 and first["prev"] is None and first["id"].startswith("alpha:")
    assert [orjson.loads(raw)["seq"] for raw in lines] == list(range(1, len(lines) + 1))


def test_replay_rebuilds_a_byte_identical_snapshot(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    original = _snapshot(tmp_path).read_bytes()
    _snapshot(tmp_path).unlink()
    open_local()
    assert _snapshot(tmp_path).read_bytes() == original


def test_damaged_snapshot_is_rebuilt(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    original = _snapshot(tmp_path).read_bytes()
    _snapshot(tmp_path).write_bytes(b'{"format": "sprintboard.queue/1", "tasks": [')
    board = open_local()
    assert board.snapshot().tasks["T1"].status == "awaiting_test"
    assert _snapshot(tmp_path).read_bytes() == original


def test_stale_snapshot_catches_up(tmp_path: Path, open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    old = _snapshot(tmp_path).read_bytes()
    board.create_tasks([task("T2")])
    _snapshot(tmp_path).write_bytes(old)  # e.g. a sync tool restored an older copy
    assert set(open_local().snapshot().tasks) == {"T1", "T2"}


def test_known_event_id_is_a_no_op(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    draft = EventDraft("decision.add", None, {"text": "use MLX"}, "human:ana", id="msg:42")
    assert len(board.apply([draft])) == 1
    assert board.apply([draft]) == []
    assert open_local(ids_start=100).apply([draft]) == []  # also after a restart
    assert [d.text for d in board.snapshot().decisions] == ["use MLX"]


def test_torn_last_line_is_set_aside(tmp_path: Path, open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    with _journal(tmp_path).open("ab") as fh:
        fh.write(b'{"v":1,"seq":2,"id":"alpha:x","ts":"2026-')  # crash mid-append
    board = open_local(ids_start=10)
    board.create_tasks([task("T2")])
    assert set(board.snapshot().tasks) == {"T1", "T2"}
    kept = list((tmp_path / ".sprintboard" / "torn").iterdir())
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b'{"v":1,"seq":2')
    assert board.verify() == 2


def test_damage_in_the_middle_names_the_line(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    lines = _journal(tmp_path).read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"ttl":60', b'"ttl":61')  # edited by hand: chain breaks after it
    _journal(tmp_path).write_bytes(b"".join(lines))
    before = _journal(tmp_path).read_bytes()
    (tmp_path / ".sprintboard" / "head.json").unlink()
    _snapshot(tmp_path).unlink()
    with pytest.raises(JournalCorrupt) as err:
        open_local()
    assert err.value.line == 4 and "hash chain" in err.value.reason
    assert "events.jsonl:4" in str(err.value)
    assert _journal(tmp_path).read_bytes() == before  # nothing rewritten


def test_invalid_json_line_is_refused(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    lines = _journal(tmp_path).read_bytes().splitlines(keepends=True)
    lines[1] = b"<<<<<<< HEAD\n"
    _journal(tmp_path).write_bytes(b"".join(lines))
    (tmp_path / ".sprintboard" / "head.json").unlink()
    with pytest.raises(JournalCorrupt, match=r"events.jsonl:2: not valid JSON"):
        open_local()


def test_journal_restored_from_an_old_copy_is_refused(
    tmp_path: Path, open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    old_journal, old_snapshot = _journal(tmp_path).read_bytes(), _snapshot(tmp_path).read_bytes()
    board.create_tasks([task("T2"), task("T3")])
    _journal(tmp_path).write_bytes(old_journal)  # "the queue was reverted to an old sprint"
    _snapshot(tmp_path).write_bytes(old_snapshot)
    with pytest.raises(JournalRolledBack, match="reverted"):
        open_local()
    with pytest.raises(JournalRolledBack):
        board.create_tasks([task("T4")])  # an open board notices too, and writes nothing
    assert _journal(tmp_path).read_bytes() == old_journal


def test_same_length_rewrite_is_refused(tmp_path: Path, open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    data = _journal(tmp_path).read_bytes()
    _journal(tmp_path).write_bytes(data.replace(b"task T1", b"task X1"))
    with pytest.raises(JournalRolledBack):
        open_local()


# -- issue 16: a bad line never bricks the board; the snapshot and the prefix are checked ---


def _rewrite_line(root: Path, index: int, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)  # same length: the recorded head's offset still fits
    lines = _journal(root).read_bytes().splitlines(keepends=True)
    assert old in lines[index]
    lines[index] = lines[index].replace(old, new, 1)
    _journal(root).write_bytes(b"".join(lines))


def _repair(root: Path) -> RepairReport:
    local = root / ".sprintboard"
    return repair_journal(
        _journal(root), local / "head.json", _snapshot(root), local / "repair", "t"
    )


def _rechain(root: Path) -> None:
    """Recompute every `prev`, as if the journal had been written this way."""
    from sprintboard.board.journal import line_hash

    out, prev = [], None
    for raw in _journal(root).read_bytes().splitlines():
        doc = orjson.loads(raw)
        doc["prev"] = prev
        out.append(orjson.dumps(doc))
        prev = line_hash(out[-1])
    _journal(root).write_bytes(b"".join(line + b"\n" for line in out))


def test_a_line_the_reducer_cannot_fold_is_named_and_repairable(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    board = open_local(ids_start=50)
    board.add_decision("after the bad line")
    # what an older version wrote for `-m loss=nan`: orjson stores NaN as null
    _rewrite_line(tmp_path, 4, b'"value":1.25', b'"value":null')
    _rechain(tmp_path)
    (tmp_path / ".sprintboard" / "head.json").unlink()
    _snapshot(tmp_path).unlink()
    with pytest.raises(JournalCorrupt) as err:
        open_local(ids_start=60)
    assert err.value.line == 5 and "metric.set has a bad value" in err.value.reason
    assert "--repair" in str(err.value)  # the way out that keeps newer events
    report = _repair(tmp_path)
    assert [line for line, _ in report.set_aside] == [5]
    assert report.backup is not None and report.backup.exists()
    state = open_local(ids_start=70).snapshot()
    assert state.tasks["T1"].status == "awaiting_test" and state.tasks["T1"].metrics == {}
    assert [d.text for d in state.decisions] == ["ship it", "after the bad line"]


def test_a_line_with_a_hostile_header_is_refused_on_load(
    tmp_path: Path, open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    board.add_note("hello", task="T1")
    _rewrite_line(tmp_path, 1, b'"fence":null', b'"fence":"zz"')
    (tmp_path / ".sprintboard" / "head.json").unlink()
    with pytest.raises(JournalCorrupt, match=r"events.jsonl:2: fence is 'zz', of the wrong type"):
        open_local()


def test_a_hand_edited_snapshot_is_not_trusted(tmp_path: Path, open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1"), task("T2", dependencies=["T1"], status="blocked")])
    data = orjson.loads(_snapshot(tmp_path).read_bytes())
    data["tasks"][0]["status"] = "done"  # same recorded head, so it still "matches"
    _snapshot(tmp_path).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    reopened = open_local(ids_start=10)
    assert reopened.snapshot().tasks["T1"].status == "ready"
    assert reopened.ready() == [reopened.snapshot().tasks["T1"]]  # T2 still waits on T1
    found = reopened.validate()
    assert found.snapshot == "differs"
    assert found.detail == "T1.status is 'done' in the snapshot, 'ready' in the journal"
    assert orjson.loads(_snapshot(tmp_path).read_bytes())["tasks"][0]["status"] == "ready"
    assert open_local(ids_start=20).validate().snapshot == "in step"  # it was rebuilt


def test_a_missing_snapshot_is_rebuilt_and_validates(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    _snapshot(tmp_path).unlink()
    found = open_local(ids_start=10).validate()
    assert (found.snapshot, found.events) == ("rebuilt", 7) and "missing" in found.detail
    assert _snapshot(tmp_path).exists()


def test_a_same_length_edit_of_a_middle_line_is_refused_on_open(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    board = open_local(ids_start=50)
    board.add_decision("newer work")
    _rewrite_line(tmp_path, 2, b'"ttl":60', b'"ttl":61')  # head.json is still there
    with pytest.raises(JournalCorrupt) as err:
        open_local(ids_start=60)
    assert err.value.line == 4 and "line 3 was changed" in err.value.reason
    with pytest.raises(JournalCorrupt):
        board.add_decision("an open board does not append after it either")
    report = _repair(tmp_path)
    assert report.set_aside == [] and report.rechained == 5
    state = open_local(ids_start=70).snapshot()
    assert state.tasks["T1"].lease is None and state.decisions[-1].text == "newer work"


def _replace_line(root: Path, index: int, change: Any) -> None:
    """Replace line `index` (0-based) with `change(parsed)`, re-chaining nothing."""
    lines = _journal(root).read_bytes().splitlines(keepends=True)
    lines[index] = orjson.dumps(change(orjson.loads(lines[index]))) + b"\n"
    _journal(root).write_bytes(b"".join(lines))
    (root / ".sprintboard" / "head.json").unlink()
    _snapshot(root).unlink()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: [d], "a line must be a JSON object"),
        (lambda d: {**d, "seq": 7}, "seq is 7, expected 1"),
        (lambda d: {k: v for k, v in d.items() if k != "seq"}, "seq is None, expected 1"),
        (lambda d: {**d, "prev": "0" * 16}, "hash chain broken: prev is '0000000000000000', "
                                            "but line 0 hashes to None"),
        (lambda d: {**d, "op": "task.delete"}, "unknown op 'task.delete'"),
        (lambda d: {k: v for k, v in d.items() if k != "actor"},
         "actor is 'None', of the wrong type"),
        (lambda d: {k: v for k, v in d.items() if k != "fields"},
         "fields is 'None', of the wrong type"),
        (lambda d: {**d, "fields": {}},
         "event does not apply: task.create has a bad value (KeyError: 'task')"),
        (lambda d: {**d, "fields": {"task": {"id": "T1", "title": "t", "status": "nope"}}},
         "event does not apply: T1: unknown status 'nope'"),
    ],
)  # fmt: skip
def test_a_bad_first_line_is_named_with_its_reason(
    tmp_path: Path, open_local: Any, task: Any, change: Any, reason: str
) -> None:
    open_local().create_tasks([task("T1")])
    _replace_line(tmp_path, 0, change)
    with pytest.raises(JournalCorrupt) as err:
        open_local()
    assert (err.value.line, err.value.path) == (1, _journal(tmp_path))
    assert err.value.reason.startswith(reason)
    assert str(err.value).startswith(f"{_journal(tmp_path)}:1: {reason}")


def test_lines_longer_than_the_read_window_are_verified(
    tmp_path: Path, open_local: Any, task: Any
) -> None:
    """The head check reads the last line backwards in growing windows (4 KiB first)."""
    board = open_local()
    board.create_tasks([task("T1", description="x" * 20_000)])
    board.update_task("T1", {"description": "y" * 9000})
    assert open_local().snapshot().tasks["T1"].description == "y" * 9000
    data = _journal(tmp_path).read_bytes()
    _journal(tmp_path).write_bytes(data.replace(b"y" * 9000, b"z" * 9000))
    with pytest.raises(JournalRolledBack, match="line hash"):
        open_local()


def test_a_journal_shorter_than_the_recorded_head_is_refused(
    tmp_path: Path, open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    board.create_tasks([task("T2")])
    head = _head(tmp_path)
    data = _journal(tmp_path).read_bytes()
    assert head["offset"] == len(data)
    _journal(tmp_path).write_bytes(data[:-1])
    with pytest.raises(JournalRolledBack) as err:
        open_local()
    assert (err.value.expected, err.value.found) == (
        f"seq 2 ({head['hash']})",
        f"a journal of {len(data) - 1} bytes (< {len(data)})",
    )


def _head(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((root / ".sprintboard" / "head.json").read_bytes())
    return data


def test_an_unreadable_head_means_the_whole_journal_is_verified(
    tmp_path: Path, open_local: Any, task: Any, caplog: pytest.LogCaptureFixture, busy_board: Any
) -> None:
    busy_board()
    (tmp_path / ".sprintboard" / "head.json").write_bytes(b"{not json")
    assert open_local().verify() == 7
    assert "head.json is unreadable; verifying the whole journal instead" in caplog.text
    head = _head(tmp_path)
    assert (head["seq"], head["offset"]) == (7, len(_journal(tmp_path).read_bytes()))


def test_event_ids_are_read_from_every_line(tmp_path: Path, open_local: Any, task: Any) -> None:
    from sprintboard.board.journal import Journal

    board = open_local()
    board.create_tasks([task("T1")])
    board.apply([EventDraft("note.add", None, {"text": '"id":"fake"'}, "human:a", id="msg:1")])
    journal = Journal(_journal(tmp_path), tmp_path / "head.json")
    assert journal.event_ids() == {"alpha:00000000000000000000000001", "msg:1"}
    assert Journal(tmp_path / "none.jsonl", tmp_path / "h.json").event_ids() == set()
    assert Journal(tmp_path / "none.jsonl", tmp_path / "h.json").read().lines == []
