"""Real processes against one board: interleaved writers, a claim race, kill -9 mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy

WORKER = Path(__file__).with_name("board_worker.py")


def _spawn(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(root), *args], stdout=subprocess.PIPE, text=True
    )


def _board(root: Path) -> LocalBoard:
    return LocalBoard(root, host="alpha", policy=BoardPolicy(owner="alpha", open_claims=True))


@pytest.mark.slow
def test_two_writers_with_1000_updates_each_lose_nothing(tmp_path: Path) -> None:
    _board(tmp_path)
    procs = [_spawn(tmp_path, "notes", "1000", name) for name in ("w1", "w2")]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    board = _board(tmp_path)
    assert board.verify() == 2000
    texts = [n.text for n in board.snapshot().notes]
    for name in ("w1", "w2"):
        mine = [t for t in texts if t.startswith(name + " ")]
        assert mine == [f"{name} {i}" for i in range(1000)]  # all there, in order
    seqs = [int(s) for out in outs for s in out.split()]
    assert len(set(seqs)) == 2000  # every commit got its own seq


@pytest.mark.slow
def test_twenty_processes_claiming_one_task_get_exactly_one_lease(tmp_path: Path) -> None:
    _board(tmp_path).create_tasks([{"id": "T1", "title": "contested", "status": "ready"}])
    procs = [_spawn(tmp_path, "claim", "T1", f"agent-{i}") for i in range(20)]
    time.sleep(0.5)  # let the processes start and wait at the barrier
    (tmp_path / "go").touch()
    results = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(results) == ["lost"] * 19 + ["won"]
    board = _board(tmp_path)
    grants = [e for e in board.events() if e.op == "lease.grant"]
    assert len(grants) == 1
    assert board.snapshot().tasks["T1"].lease is not None


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.4, 0.7, 1.0])
def test_kill_9_mid_write_loses_no_committed_event(tmp_path: Path, delay: float) -> None:
    _board(tmp_path)
    proc = _spawn(tmp_path, "notes", "100000", "k")
    assert proc.stdout is not None
    first = proc.stdout.readline()  # it is writing
    assert first.strip()
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait()
    acknowledged = [int(s) for s in (first + rest).split()]
    board = _board(tmp_path)
    count = board.verify()
    assert count >= max(acknowledged)  # everything acknowledged is in the journal
    notes = [n.text for n in board.snapshot().notes]
    assert notes == [f"k {i}" for i in range(len(notes))]
    board.add_note("after the crash")  # and the board takes writes again
    assert board.verify() == count + 1
