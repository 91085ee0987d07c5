"""Fault 1: kill -9 of each process at random points, over 20 seeded runs.

Two hosts as separate processes: alpha's owner daemon (`a2a serve`), alpha's agents runner
(Negotiator, Builders, Auditor), a KANBAN.md watcher (`sprintboard watch`), and beta's
agents runner (the worker: its Builders reach the board only by A2A message). Each run
adds a few fast tasks (some need beta's `mlx`) and a person's KANBAN.md edit, kills one
process with SIGKILL after a seeded random delay, restarts it, and waits for the run's
tasks to be done. Victims rotate so each process dies five times. At the end: every task
is done exactly once, every artifact is recorded exactly once and is on disk with its
hash, every person's decision is in the journal once, and the journal verifies.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from sprintboard.board.models import Criterion, Step, Task
from sprintboard.workspace import open_board

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("host_worker.py")
RUNS = 20
VICTIMS = ("owner", "runner", "watcher", "worker")
NOTES_HEADING = "## 📝 Notes"
# A process asked for SIGUSR1 prints every thread's stack: what a stuck process was doing.
DUMPABLE = "import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1)"
TTL = 6  # short leases: a killed holder's task is back within seconds


def _task(ws: Path, tid: str, caps: list[str], deps: list[str]) -> Task:
    config = {"name": tid, "log": str(ws / "steps.log"), "out": f"{{run:{tid}}}"}
    return Task(
        id=tid,
        title=f"fast step {tid}",
        status="blocked" if deps else "ready",
        dependencies=deps,
        caps=caps,
        steps=[Step("touchstep", config)],
        criteria=[Criterion("output written", check=f"file_exists {{run:{tid}}}/{tid}.txt")],
    )


def _round(ws: Path, n: int) -> list[Task]:
    a, b, c = (f"R{n:02d}{x}" for x in "ABC")
    return [_task(ws, a, [], []), _task(ws, b, ["mlx"], []), _task(ws, c, [], [a])]


def _decide(kanban: Path, text: str) -> None:
    """A person adds a decision line to KANBAN.md and saves."""
    doc = kanban.read_text(encoding="utf-8")
    head, tail = doc.split(NOTES_HEADING, 1)
    kanban.write_text(
        head.rstrip("\n") + f"\n- {text}\n\n" + NOTES_HEADING + tail, encoding="utf-8"
    )


class Processes:
    """The four processes of the two-host setup, each restartable after a kill."""

    def __init__(self, hosts: Any) -> None:
        self.hosts = hosts
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.kills: Counter[str] = Counter()

    def start(self, name: str) -> None:
        h = self.hosts
        cli = ("-c", f"{DUMPABLE}; from sprintboard.cli import main; main(sys.argv[1:])")
        if name == "owner":
            args: tuple[str | Path, ...] = (
                *cli, "a2a", "serve", "--host", "alpha", "-w", h.alpha_ws, "--rescan", "0.2",
            )  # fmt: skip
        elif name == "watcher":
            args = (*cli, "watch", "-w", h.alpha_ws)
        elif name == "runner":
            args = (WORKER, "runner", h.alpha_ws, "alpha")
        else:
            args = (WORKER, "runner", h.beta_ws, "beta")
        self.procs[name] = h.spawn(*args, log=h.tmp / f"{name}.log")

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.kills[name] += 1

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs.values())

    def logs(self) -> str:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGUSR1)
        time.sleep(0.5)
        return "\n".join(
            f"--- {n}\n" + (self.hosts.tmp / f"{n}.log").read_text(encoding="utf-8")[-6000:]
            for n in VICTIMS
        )


def _set_ttl(ws: Path) -> None:
    cfg = ws / "sprintboard.toml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("default_ttl = 900", f"default_ttl = {TTL}"),
        encoding="utf-8",
    )


def test_kill_nine_of_each_process_over_20_seeded_runs(
    hosts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = hosts.alpha_ws
    for root in (hosts.alpha_ws, hosts.beta_ws):
        _set_ttl(root)
    monkeypatch.setenv("SPRINTBOARD_KEYS", str(hosts.beta_keys))  # beta's runner finds its keys
    mid_run = 0
    board = open_board(ws, host="alpha")
    board.start_sprint("S1", "every artifact exactly once, whatever dies")
    procs = Processes(hosts)
    for name in VICTIMS:
        procs.start(name)
    kanban = ws / "KANBAN.md"
    try:
        for n in range(RUNS):
            rng = random.Random(n)
            victim = VICTIMS[n % len(VICTIMS)]
            tasks = _round(ws, n)
            board.create_tasks(tasks)
            _decide(kanban, f"run {n}: keep going")
            ids = [t.id for t in tasks]
            # a random point in the run: while claiming, building, submitting or auditing
            delay = rng.uniform(0.0, 1.2)
            _wait_or_until(delay, partial(_done, board, ids))
            mid_run += not _done(board, ids)
            procs.kill(victim)
            procs.start(victim)
            finished = partial(_run_over, board, ids, f"run {n}: keep going")
            try:
                hosts.wait_for(finished, 60, f"run {n} (killed {victim} after {delay:.2f}s)")
            except AssertionError as exc:
                tasks_now = board.snapshot().tasks
                where = {t: (tasks_now[t].status, tasks_now[t].lease) for t in ids}
                history = "\n".join(
                    f"{e.seq} {e.op} {e.task} {e.actor} {e.fields}"
                    for e in board.events()
                    if e.task in ids
                )
                raise AssertionError(f"{exc}: {where}\n{history}\n{procs.logs()}") from None
            assert procs.alive(), procs.logs()
    finally:
        hosts.stop_all()

    assert procs.kills == dict.fromkeys(VICTIMS, RUNS // len(VICTIMS))
    assert mid_run >= RUNS // 4, f"only {mid_run} kills landed while tasks were in flight"
    board.close_sprint()
    state = board.snapshot()
    assert state.sprint is not None and state.sprint.status == "closed"
    events = board.events()
    assert len({e.id for e in events}) == len(events)  # no event twice
    assert board.verify() == len(events)  # the whole chain checks
    for tid, task in state.tasks.items():
        assert task.status == "done", tid
        moves = [e.fields["to"] for e in events if e.op == "task.move" and e.task == tid]
        assert moves.count("done") == 1, (tid, moves)  # never done twice
        paths = [a.path for a in task.artifacts]
        assert len(paths) == len(set(paths)), (tid, paths)  # each artifact once
        main = [a for a in task.artifacts if a.path.endswith(f"/{tid}.txt")]
        assert len(main) == 1, (tid, paths)
        data = (ws / main[0].path).read_bytes()
        grants = [e.fields["host"] for e in events if e.op == "lease.grant" and e.task == tid]
        if task.caps:  # only beta has mlx: its work came back by message and blob
            assert set(grants) == {"beta"}, (tid, grants)
        assert hashlib.sha256(data).hexdigest() == main[0].sha256 and data == f"{tid}\n".encode()
    decisions = Counter(d.text for d in state.decisions)
    assert all(decisions[f"run {n}: keep going"] == 1 for n in range(RUNS)), decisions


def _done(board: Any, ids: list[str]) -> bool:
    tasks = board.snapshot().tasks
    return all(tasks[t].status == "done" for t in ids)


def _run_over(board: Any, ids: list[str], decision: str) -> bool:
    state = board.snapshot()
    return _done(board, ids) and decision in {d.text for d in state.decisions}


def _wait_or_until(seconds: float, stop: Any) -> None:
    """Let the run go on for `seconds` (or until it is already over)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop():
        time.sleep(0.02)  # pacing the kill point while the processes work
