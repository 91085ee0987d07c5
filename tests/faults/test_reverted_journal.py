"""Fault 6: the journal is restored from an old copy ("the queue reverted to an old sprint").

The `prev` hash chain plus the head this machine recorded in `.sprintboard/head.json`
detect it; every writer refuses with a message that says how to get out (restore the newer
journal, or `sprintboard validate --adopt`), and nothing is written until a person decides.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sprintboard.cli import main
from sprintboard.errors import JournalRolledBack
from sprintboard.workspace import open_board


def _files(ws: Path) -> dict[str, bytes]:
    names = ("sprints/events.jsonl", "sprints/SPRINT_QUEUE.json", "KANBAN.md")
    return {n: (ws / n).read_bytes() for n in names}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:
        code = 0
    out = capsys.readouterr()
    return code, out.out + out.err


def test_journal_restored_from_an_old_sprint_is_refused_with_instructions(
    hosts: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = hosts.alpha_ws
    board = open_board(ws, host="alpha")
    board.start_sprint("S1", "old sprint")
    board.create_tasks([{"id": "T1", "title": "old work", "status": "ready"}])
    old_copy = tmp_path / "old-sprints"
    shutil.copytree(ws / "sprints", old_copy)  # the copy someone keeps (a backup, a branch)

    lease = board.claim("T1", "builder-alpha", "alpha", 60)
    board.submit("T1", lease.fence, [], {"rows": 3})
    board.move("T1", "done", actor="auditor-1@alpha")
    board.close_sprint()
    board.start_sprint("S2", "new sprint")
    board.create_tasks([{"id": "T2", "title": "new work", "status": "ready"}])
    newer = board.verify()

    # The fault: the old copy is put back over the live one (journal and snapshot both).
    shutil.rmtree(ws / "sprints")
    shutil.copytree(old_copy, ws / "sprints")
    before = _files(ws)

    # A process that was already running refuses its next write...
    with pytest.raises(JournalRolledBack) as running:
        board.add_note("written on top of the old journal?")
    # ...and so does a fresh one (the daemon or a CLI after a restart).
    with pytest.raises(JournalRolledBack) as fresh:
        open_board(ws, host="alpha")
    for exc in (running.value, fresh.value):
        message = str(exc)
        assert "events.jsonl" in message and "reverted or replaced" in message
        assert "sprintboard validate --adopt" in message
    assert f"seq {newer}" in str(fresh.value)  # names the head this machine had seen
    assert _files(ws) == before  # nothing was written on top of the old copy

    # The CLI says the same in one line and exits 1.
    code, output = _cli(capsys, "validate", "-w", str(ws))
    assert code == 1
    assert output.startswith("error: ") and output.count("\n") == 1
    assert "sprintboard validate --adopt" in output
    assert _files(ws)["sprints/events.jsonl"] == before["sprints/events.jsonl"]

    # A person who wants the old journal adopts it; work goes on from there.
    code, output = _cli(capsys, "validate", "--adopt", "-w", str(ws))
    assert code == 0, output
    adopted = open_board(ws, host="alpha")
    state = adopted.snapshot()
    assert state.sprint is not None and state.sprint.id == "S1"
    assert set(state.tasks) == {"T1"} and state.tasks["T1"].status == "ready"
    adopted.add_note("adopted the restored journal")
    assert adopted.verify() == state.seq + 1


def test_a_journal_cut_short_by_a_restore_is_refused(hosts: Any) -> None:
    """The copy kept the first lines byte for byte (a truncation, not an edit)."""
    ws = hosts.alpha_ws
    board = open_board(ws, host="alpha")
    for i in range(5):
        board.add_note(f"n{i}")
    journal = ws / "sprints" / "events.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:3]))
    with pytest.raises(JournalRolledBack, match="validate --adopt"):
        open_board(ws, host="alpha")
    with pytest.raises(JournalRolledBack):
        board.snapshot()
    assert journal.read_bytes() == b"".join(lines[:3])
