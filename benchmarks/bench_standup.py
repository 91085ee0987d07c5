"""How long memory/ takes on a big journal, against just reading that journal.

Builds a sprint of N tasks (default 2,000; `--full`: 10,000) whose journal holds claims,
heartbeats, submits, accepts, blocks and decisions (~6 events per task), then times, with
interleaved repeats and medians:

  baseline   LocalBoard.events(): read + verify the journal
  fold       the journal folded with per-task history (memory.history)
  standup    the whole standup text (render_standup: fold, facts, graph, markdown)
  sprintlog  SPRINT_LOG.md written from scratch
  burndown   burndown + velocity + lead times (numbers only, no PNG)

and prints each median with its ratio to the baseline.

    .venv/bin/python benchmarks/bench_standup.py [--full] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from result_line import result

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import CounterIds, FrozenClock, format_ts
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.memory.burndown import compute_burndown
from sprintboard.memory.history import fold_history
from sprintboard.memory.sprint_log import update_sprint_log
from sprintboard.memory.standup import render_standup

__all__: list[str] = []

_BATCH = 2000


def build(root: Path, n: int) -> LocalBoard:
    clock = FrozenClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    board = LocalBoard(
        root,
        host="alpha",
        policy=BoardPolicy(owner="alpha", open_claims=True),
        clock=clock,
        ids=CounterIds(),
    )
    board.start_sprint("S1", goal="benchmark")
    tasks = []
    for i in range(n):
        deps = [f"T{i - 1:05d}"] if i % 7 else []
        est = {"low": 30 + i % 60, "high": 60 + i % 90}
        tasks.append(
            {
                "id": f"T{i:05d}",
                "title": f"task {i}",
                "status": "ready",
                "priority": 1 + i % 4,
                "estimate": est,
                "dependencies": deps,
            }
        )
    for start in range(0, n, _BATCH):
        board.create_tasks(tasks[start : start + _BATCH], actor="planner-1@alpha")
    # Work the first 80% (in dependency order) through claim -> 2 heartbeats -> submit -> done, in big batches.
    worked = [f"T{i:05d}" for i in range(int(n * 0.8))]
    fence = 0
    drafts: list[EventDraft] = []
    for tid in worked:
        fence += 1
        agent, host = f"builder-{fence % 4}", "alpha" if fence % 2 else "beta"
        actor = f"{agent}@{host}"
        expires = format_ts(clock.now() + timedelta(days=30))
        drafts += [
            EventDraft(
                "lease.grant",
                tid,
                {"agent": agent, "host": host, "ttl": 900, "expires": expires, "fence": fence},
                actor,
            ),
            EventDraft("lease.heartbeat", tid, {"expires": expires}, actor, fence=fence),
            EventDraft("lease.heartbeat", tid, {"expires": expires}, actor, fence=fence),
            EventDraft(
                "task.move", tid, {"to": "awaiting_test", "reason": "submitted"}, actor, fence
            ),
            EventDraft("task.move", tid, {"to": "done"}, "auditor-1@alpha"),
        ]
        if fence % 10 == 0:
            drafts.append(EventDraft("decision.add", tid, {"text": f"decided {tid}"}, "human:ana"))
        if len(drafts) >= _BATCH:
            board.apply(drafts)
            drafts = []
            clock.advance(3600)
    board.apply(drafts)
    clock.advance(3600)
    return board


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--full", action="store_true", help="10,000 tasks instead of 2,000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 tasks, 3 repeats (make bench)")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 3
    n = 10_000 if args.full else 1_000 if args.quick else 2_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        t0 = time.perf_counter()
        board = build(root, n)
        events = board.events()
        print(f"{n} tasks, {len(events)} events, built in {time.perf_counter() - t0:.1f}s")

        def sprintlog() -> None:
            shutil.rmtree(root / "sprints" / "S1", ignore_errors=True)
            (root / "sprints" / "SPRINT_LOG.md").unlink(missing_ok=True)
            update_sprint_log(root, board.events())

        cases: dict[str, Callable[[], object]] = {
            "baseline": board.events,
            "fold": lambda: fold_history(board.events()),
            "standup": lambda: render_standup(board),
            "sprintlog": sprintlog,
            "burndown": lambda: compute_burndown(board.events(), board.clock.now()),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, fn in cases.items():  # interleaved: drift hits every case alike
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["baseline"])
        print(f"{'case':<10} {'median ms':>10} {'x baseline':>11}  (min..max ms)")
        for name, values in times.items():
            med = statistics.median(values)
            print(
                f"{name:<10} {med * 1000:>10.1f} {med / base:>11.2f}  "
                f"({min(values) * 1000:.1f}..{max(values) * 1000:.1f})"
            )
            if name != "baseline":
                result(f"{name}, {n} tasks", med * 1000, "ms", baseline=base * 1000, better="lower")


if __name__ == "__main__":
    main()
