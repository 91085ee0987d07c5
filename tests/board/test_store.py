"""The board's files on one host: which snapshot is trusted, what `validate` says of it, and
what a reader or another process's lines do to this host's head."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.board.client import EventDraft
from sprintboard.board.journal import content_digest
from sprintboard.board.store import BoardStore, Verification, board_paths
from sprintboard.errors import JournalRolledBack

LOG = "sprintboard.board.store"


def _paths(root: Path) -> dict[str, Path]:
    return board_paths(root)


def _record_snapshot_digest(root: Path) -> None:
    """Make the recorded head vouch for the snapshot as it is now (as if this host wrote it)."""
    head = _paths(root)["head"]
    data = orjson.loads(head.read_bytes())
    data["snapshot"] = content_digest(_paths(root)["snapshot"].read_bytes())
    head.write_bytes(orjson.dumps(data))


def test_the_files_of_a_workspace(tmp_path: Path) -> None:
    assert board_paths(tmp_path) == {
        "journal": tmp_path / "sprints" / "events.jsonl",
        "snapshot": tmp_path / "sprints" / "SPRINT_QUEUE.json",
        "local": tmp_path / ".sprintboard",
        "head": tmp_path / ".sprintboard" / "head.json",
        "lock": tmp_path / ".sprintboard" / "board.lock",
        "torn": tmp_path / ".sprintboard" / "torn",
    }


def test_a_snapshot_in_step_is_loaded_as_it_is(
    tmp_path: Path, open_local: Any, task: Any, monkeypatch: pytest.MonkeyPatch, busy_board: Any
) -> None:
    board = busy_board()
    before = {name: _paths(tmp_path)[name].read_bytes() for name in ("snapshot", "head")}

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an in-step snapshot needs no replay and no rewrite")

    monkeypatch.setattr(BoardStore, "replay", refused)
    monkeypatch.setattr(BoardStore, "persist", refused)
    reopened = open_local(ids_start=10)
    assert reopened.snapshot().seq == 7 and reopened.snapshot().head == board.snapshot().head
    monkeypatch.undo()
    assert reopened.validate() == Verification(7, "in step")
    assert {n: _paths(tmp_path)[n].read_bytes() for n in ("snapshot", "head")} == before


def _missing(root: Path) -> None:
    _paths(root)["snapshot"].unlink()


def _no_digest(root: Path) -> None:
    _paths(root)["head"].unlink()  # a fresh copy: nothing says which snapshot this host wrote


def _reformatted(root: Path) -> None:
    path = _paths(root)["snapshot"]
    path.write_bytes(orjson.dumps(orjson.loads(path.read_bytes())))  # same content, new bytes


def _damaged(root: Path) -> None:
    _paths(root)["snapshot"].write_bytes(b'{"format": "sprintboard.queue/1", "tasks": [')
    _record_snapshot_digest(root)


def _other_head(root: Path) -> None:
    path = _paths(root)["snapshot"]
    data = orjson.loads(path.read_bytes())
    data["journal"]["head"] = "0" * len(data["journal"]["head"])  # vouched for, not the journal's
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    _record_snapshot_digest(root)


NAME = "SPRINT_QUEUE.json"


@pytest.mark.parametrize(
    ("spoil", "detail", "warning"),
    [
        (_missing, f"{NAME} was missing; rebuilt from the journal", None),
        (_no_digest, f"{NAME} was rebuilt from the journal (no digest recorded; it agreed)", None),
        (
            _reformatted,
            f"{NAME} was rebuilt from the journal (its digest differs; it agreed)",
            "{path} is not the snapshot this host wrote last (edited by hand?); rebuilding it "
            "from the journal",
        ),
        (
            _other_head,
            f"{NAME} was rebuilt from the journal (its journal head differs; it agreed)",
            "{path} does not match the journal; rebuilding it",
        ),
    ],
)
def test_a_snapshot_not_in_step_is_rebuilt_and_validate_says_why(
    tmp_path: Path,
    open_local: Any,
    task: Any,
    caplog: pytest.LogCaptureFixture,
    spoil: Any,
    detail: str,
    warning: str | None,
    busy_board: Any,
) -> None:
    original = _paths(tmp_path)["snapshot"]
    board = busy_board()
    rendered = original.read_bytes()
    spoil(tmp_path)
    with caplog.at_level(logging.WARNING, logger=LOG):
        reopened = open_local(ids_start=10)
    assert [r.getMessage() for r in caplog.records if r.name == LOG] == (
        [warning.format(path=original)] if warning else []
    )
    assert reopened.snapshot().head == board.snapshot().head
    assert reopened.validate() == Verification(7, "rebuilt", detail)
    assert original.read_bytes() == rendered


def test_a_damaged_snapshot_this_host_vouched_for_differs(
    tmp_path: Path, open_local: Any, task: Any, caplog: pytest.LogCaptureFixture, busy_board: Any
) -> None:
    busy_board()
    _damaged(tmp_path)
    with caplog.at_level(logging.WARNING, logger=LOG):
        found = open_local(ids_start=10).validate()
    (message,) = [r.getMessage() for r in caplog.records if r.name == LOG]
    path = _paths(tmp_path)["snapshot"]
    assert message.startswith(f"{path}: ") and message.endswith("; rebuilding it from the journal")
    reason = message.removeprefix(f"{path}: ").removesuffix("; rebuilding it from the journal")
    assert reason  # what parse_snapshot said
    assert found == Verification(7, "differs", f"it cannot be read ({reason})")


def test_an_older_snapshot_agrees_with_the_journal_at_its_own_seq(
    tmp_path: Path, open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    old = _paths(tmp_path)["snapshot"].read_bytes()
    board.create_tasks([task("T2")])
    _paths(tmp_path)["snapshot"].write_bytes(old)  # a sync tool restored an older copy
    found = open_local(ids_start=10).validate()
    assert found == Verification(
        2, "rebuilt", f"{NAME} was rebuilt from the journal (its digest differs; it agreed)"
    )


def test_validate_checks_the_recorded_head_again(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    board = busy_board()
    journal = _paths(tmp_path)["journal"]
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-1]))  # cut back behind the head this host recorded
    with pytest.raises(JournalRolledBack):
        board.validate()


def test_a_journal_shorter_than_the_head_or_another_line_at_it_is_refused(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    board = busy_board()
    journal = _paths(tmp_path)["journal"]
    data = journal.read_bytes()
    head = board.snapshot().head
    journal.write_bytes(data[:-10])
    with pytest.raises(JournalRolledBack) as short:
        board.add_note("x")
    assert (short.value.expected, short.value.found) == (
        "seq 7",
        f"a journal of {len(data) - 10} bytes",
    )
    assert str(short.value).startswith(f"{journal}: journal was reverted or replaced")
    last = data.splitlines()[-1]  # longer than the head, but another line ends at it
    journal.write_bytes(data.replace(last, last.replace(b"ship it", b"ship It")) + b"{}\n")
    with pytest.raises(JournalRolledBack) as other:
        board.add_note("x")
    assert (other.value.path, other.value.expected, other.value.found) == (
        journal,
        f"seq 7 ({head})",
        "another line",
    )


def test_a_reader_leaves_a_torn_tail_to_the_next_writer(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    board = busy_board()
    journal = _paths(tmp_path)["journal"]
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"v":1,"seq":8')  # a writer died mid-line
    assert board.refresh().seq == 7
    assert journal.read_bytes() == whole + b'{"v":1,"seq":8'  # a reader cuts nothing
    assert not _paths(tmp_path)["torn"].exists()
    board.add_note("after")  # the writer sets it aside first
    lines = journal.read_bytes().splitlines()
    assert len(lines) == 8 and orjson.loads(lines[-1])["fields"] == {"text": "after"}
    assert [p.read_bytes() for p in _paths(tmp_path)["torn"].iterdir()] == [b'{"v":1,"seq":8']


def test_opening_sets_a_torn_tail_aside(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    busy_board()
    journal = _paths(tmp_path)["journal"]
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"v":1,"seq":8')
    assert open_local(ids_start=10).snapshot().seq == 7
    assert journal.read_bytes() == whole
    assert len(list(_paths(tmp_path)["torn"].iterdir())) == 1


def test_lines_another_process_wrote_are_folded_with_their_ids_and_hashes(
    open_local: Any, task: Any
) -> None:
    a, b = open_local(), open_local(ids_start=100)
    a.create_tasks([task("T1")])
    assert b.apply([EventDraft("note.add", None, {"text": "b"}, "human:bob", id="b-1")])
    a.apply([EventDraft("note.add", None, {"text": "a"}, "human:ana", id="a-1")])
    assert b.snapshot().head == a.snapshot().head  # read up to a's last line
    assert b.apply([EventDraft("note.add", None, {"text": "a"}, "human:ana", id="a-1")]) == []
    b.add_note("b again")  # extends the chain from a's last line
    assert a.validate().events == 4
    assert [n.text for n in a.snapshot().notes] == ["b", "a", "b again"]


def _edited(spoil: Any) -> Any:
    """`spoil`, then T1's status changed by hand in the snapshot."""

    def both(root: Path) -> None:
        path = _paths(root)["snapshot"]
        data = orjson.loads(path.read_bytes())
        data["tasks"][0]["status"] = "done"
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        spoil(root)

    return both


@pytest.mark.parametrize("spoil", [_no_digest, _other_head])
def test_a_snapshot_set_aside_is_compared_with_the_journal(
    tmp_path: Path, open_local: Any, task: Any, spoil: Any, busy_board: Any
) -> None:
    busy_board()
    _edited(spoil)(tmp_path)
    found = open_local(ids_start=10).validate()
    assert found == Verification(
        7, "differs", "T1.status is 'done' in the snapshot, 'awaiting_test' in the journal"
    )


def test_a_reader_refuses_another_line_at_the_head_it_read_up_to(
    tmp_path: Path, open_local: Any, task: Any, busy_board: Any
) -> None:
    writer = busy_board()
    reader = open_local(ids_start=100)
    writer.add_note("one more")
    assert reader.refresh().seq == 8  # read up to the writer's line
    journal = _paths(tmp_path)["journal"]
    data = journal.read_bytes()
    journal.write_bytes(data.replace(b"one more", b"one MORE") + b"{}\n")
    with pytest.raises(JournalRolledBack) as err:
        reader.refresh()
    assert err.value.found == "another line"
