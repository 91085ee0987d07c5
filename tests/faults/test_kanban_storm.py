"""Fault 7: a person saves KANBAN.md every 50 ms for 10 s while the agents run.

The owner's runner (its own process: Negotiator, Builders, Auditor and the KANBAN.md
watcher) works through a chain of fast tasks while this test plays the person: each save
reads the file, adds one decision line and saves (half by atomic rename, half by rewriting
in place, as editors do). Nothing is lost either way: every one of the 200 decisions is in
the journal exactly once, and no agent change is undone by the person's stale copies.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sprintboard.board.models import Criterion, Step, Task
from sprintboard.workspace import open_board

WORKER = Path(__file__).with_name("host_worker.py")
TASKS = 12
SAVES = 200  # every 50 ms for 10 s
NOTES_HEADING = "## 📝 Notes"


def _chain(ws: Path) -> list[Task]:
    tasks = []
    for n in range(1, TASKS + 1):
        tid = f"T{n:03d}"
        step = Step(
            "touchstep", {"name": tid, "log": str(ws / "steps.log"), "out": f"{{run:{tid}}}"}
        )
        tasks.append(
            Task(
                id=tid,
                title=f"step {n}",
                status="ready" if n == 1 else "blocked",
                dependencies=[] if n == 1 else [f"T{n - 1:03d}"],
                steps=[step],
                criteria=[
                    Criterion("output written", check=f"file_exists {{run:{tid}}}/{tid}.txt")
                ],
            )
        )
    return tasks


def _save(path: Path, i: int) -> bool:
    """One save by the person: the current file plus one decision line."""
    text = path.read_text(encoding="utf-8")
    if NOTES_HEADING not in text:
        return False
    head, tail = text.split(NOTES_HEADING, 1)
    edited = head.rstrip("\n") + f"\n- person decision {i}\n\n" + NOTES_HEADING + tail
    if i % 2:
        tmp = path.with_name(".KANBAN.md.swp")
        tmp.write_text(edited, encoding="utf-8")
        os.replace(tmp, path)
    else:
        path.write_text(edited, encoding="utf-8")
    return True


@pytest.mark.slow
def test_saving_kanban_every_50ms_for_10s_loses_nothing(hosts: Any) -> None:
    ws = hosts.alpha_ws
    board = open_board(ws, host="alpha")
    board.start_sprint("S1", "a chain of fast steps")
    board.create_tasks(_chain(ws))
    setup = board.snapshot().seq
    runner = hosts.spawn(WORKER, "runner", ws, "alpha", log=hosts.tmp / "runner.log")
    kanban = ws / "KANBAN.md"

    saved: list[int] = []
    start = time.monotonic()
    for i in range(SAVES):
        if _save(kanban, i):
            saved.append(i)
        time.sleep(max(0.0, start + (i + 1) * 0.05 - time.monotonic()))  # pace: one save per 50 ms
    assert len(saved) >= SAVES - 5  # the file was nearly always there to edit

    def settled() -> bool:
        state = board.snapshot()
        texts = [d.text for d in state.decisions]
        done = all(t.status == "done" for t in state.tasks.values())
        return done and all(f"person decision {i}" in texts for i in saved)

    try:
        hosts.wait_for(settled, 60, "all tasks done and every save merged")
    except AssertionError:
        state = board.snapshot()
        texts = {d.text for d in state.decisions}
        lost = [i for i in saved if f"person decision {i}" not in texts]
        statuses = {t.id: t.status for t in state.tasks.values()}
        log = (hosts.tmp / "runner.log").read_text(encoding="utf-8")[-2000:]
        raise AssertionError(
            f"saves not merged: {lost}; tasks: {statuses}; runner: {log}"
        ) from None
    assert runner.poll() is None, (hosts.tmp / "runner.log").read_text(encoding="utf-8")
    runner.kill()
    runner.wait(timeout=10)

    state = board.snapshot()
    counts = Counter(d.text for d in state.decisions)
    person = {f"person decision {i}" for i in saved}
    assert {t: counts[t] for t in person} == dict.fromkeys(person, 1)  # each once
    assert all(n == 1 for n in counts.values()), counts.most_common(3)  # agents' too

    events = board.events()
    human = [e for e in events if e.actor.startswith("human:") and e.seq > setup]
    assert {e.op for e in human} == {"decision.add"}  # the saves touched no task
    for tid in state.tasks:
        moves = [e.fields["to"] for e in events if e.op == "task.move" and e.task == tid]
        assert moves.count("done") == 1 and moves.count("awaiting_test") == 1, (tid, moves)
        paths = [a.path for a in state.tasks[tid].artifacts]
        assert len(paths) == len(set(paths)) and f"runs/{tid}/1/{tid}.txt" in paths
    log = (ws / "steps.log").read_text(encoding="utf-8").splitlines()
    assert sorted(log) == sorted(
        [f"start T{n:03d}" for n in range(1, TASKS + 1)]
        + [f"end T{n:03d}" for n in range(1, TASKS + 1)]
    )
    assert board.verify() == state.seq
