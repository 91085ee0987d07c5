"""Fault 3: the disk fills up during a journal append and during a message delivery.

The board and both hosts' A2A folders live on a small tmpfs (when the test runs as root and
may mount; otherwise `os.write` answers ENOSPC for files there). Each write that fails
fails whole: it raises `OSError(ENOSPC)` naming the file, the journal, snapshot and inbox
are as they were, and once space returns the same work goes through exactly once.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

import pytest

from sprintboard.a2a import messages
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.postbox import Postbox
from sprintboard.board import store
from sprintboard.workspace import open_board


def _board_files(ws: Path) -> dict[str, bytes]:
    return {n: (ws / "sprints" / n).read_bytes() for n in ("events.jsonl", "SPRINT_QUEUE.json")}


def _notes(ws: Path) -> list[str]:
    return [n.text for n in open_board(ws, host="alpha").snapshot().notes]


def test_disk_full_during_journal_append(disk_hosts: Any) -> None:
    hosts, disk = disk_hosts
    ws = hosts.alpha_ws
    board = open_board(ws, host="alpha")
    board.create_tasks([{"id": "T1", "title": "t", "status": "ready"}])
    lease = board.claim("T1", "builder-alpha", "alpha", 600)

    disk.fill()
    # Writes may still fit in the journal's last block for a while; each one either
    # commits whole (and returns) or fails whole (and raises). Go on until one fails.
    returned: list[str] = []
    failure: OSError | None = None
    for i in range(2000):
        before = _board_files(ws)
        try:
            board.add_note(f"full {i}")
        except OSError as exc:
            failure = exc
            break
        returned.append(f"full {i}")
    assert failure is not None, "the disk never filled up"
    assert failure.errno == errno.ENOSPC
    assert failure.filename is not None and str(ws / "sprints") in str(failure.filename)
    assert _board_files(ws) == before  # the failed write left no trace, torn line included
    assert not (ws / ".sprintboard" / "torn").exists()
    assert [n.text for n in board.snapshot().notes] == returned  # the process state too
    with pytest.raises(OSError):
        board.submit("T1", lease.fence, [], {"rows": 1.0})  # still full: still refused
    assert board.snapshot().tasks["T1"].status == "in_progress"

    disk.free()
    board.add_note("after the disk was freed")
    board.submit("T1", lease.fence, [], {"rows": 1.0})
    assert board.verify() == board.snapshot().seq
    assert _notes(ws) == [*returned, "after the disk was freed"]  # each note exactly once
    assert open_board(ws, host="alpha").snapshot().tasks["T1"].status == "awaiting_test"


def test_snapshot_write_failing_after_the_append_is_not_a_failed_commit(
    hosts: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The journal line is durable before the snapshot is replaced; the snapshot is derived.

    Raising here would tell the caller "not written" about a committed event, and a retry
    would then do it twice.
    """
    ws = hosts.alpha_ws
    board = open_board(ws, host="alpha")

    def no_space(path: Path, data: bytes, *, durable: bool = True) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as patch:
        patch.setattr(store, "atomic_write", no_space)
        with caplog.at_level(logging.WARNING):
            board.add_note("committed while the snapshot could not be written")
    snapshot = ws / "sprints" / "SPRINT_QUEUE.json"
    why = OSError(errno.ENOSPC, "No space left on device", str(snapshot))
    assert (
        f"{snapshot} not updated after seq {board.snapshot().seq} ({why}); it is rebuilt "
        "from the journal on the next write or load" in [r.getMessage() for r in caplog.records]
    )
    assert _notes(ws) == ["committed while the snapshot could not be written"]
    board.add_note("next")
    assert _notes(ws) == ["committed while the snapshot could not be written", "next"]


def _entries(inbox: Path) -> list[str]:
    return sorted(f"{d}/{p.name}" for d in ("tmp", "new", "cur") for p in (inbox / d).iterdir())


def _note_request(beta: Postbox, text: str, fence: int) -> Any:
    # A remote host writes only about a task it holds, with the lease's fence.
    event = {"op": "note.add", "task": "T1", "fields": {"text": text}, "fence": fence}
    return beta.seal(
        "alpha", "request", lambda m: messages.request(m, "apply", {"events": [event]})
    )


def test_disk_full_during_message_delivery(disk_hosts: Any) -> None:
    hosts, disk = disk_hosts
    owner = open_owner(hosts.alpha_ws)
    owner.board.create_tasks([{"id": "T1", "title": "train", "status": "ready", "caps": ["mlx"]}])
    fence = owner.board.claim("T1", "builder-beta", "beta", 3600).fence
    beta = open_postbox(hosts.beta_ws, "beta", keys=hosts.beta_keys)
    inbox = hosts.a2a / "alpha" / "inbox"

    disk.fill()
    first = _note_request(beta, "sent while the disk was full", fence)
    with pytest.raises(OSError) as failed:
        beta.post([first])
    assert failed.value.errno == errno.ENOSPC
    assert _entries(inbox) == []  # no half message anywhere
    assert beta.ledger is not None and not beta.ledger.lines()  # not logged as sent
    disk.free()
    beta.post([first])  # the sender retries the same sealed message once there is space
    assert owner.postbox.process(owner) == 1

    # Full again while the owner handles a delivered message: the board append fails, the
    # message stays claimed in cur/, and the next pass after space returns handles it once.
    second = _note_request(beta, "handled after the disk was freed", fence)
    beta.post([second])
    disk.fill()
    with pytest.raises(OSError):
        owner.postbox.process(owner)
    assert _entries(inbox) == [f"cur/{second.id}.json"]
    disk.free()
    assert owner.postbox.process(owner) == 1
    assert owner.postbox.process(owner) == 0
    assert _notes(hosts.alpha_ws) == [
        "sent while the disk was full",
        "handled after the disk was freed",
    ]
    assert _entries(inbox) == []
    assert not list((hosts.a2a / "alpha" / "quarantine").iterdir())
