"""Dependency-graph speed: `sprintboard next --json` / `graph --json` on a 10,000-task board.

Baseline: `python -c "import sprintboard"` (the bare import). Whole-process commands are
run interleaved with the baseline, medians reported with the ratio and the difference
against it; then in-process ready-set and full-analysis times. Goals (issue #4): bare
import < 150 ms, `next` within 150 ms of it, ready set < 20 ms, full analysis < 50 ms.
Reference points on the same kind of graph: Backlog.md `task list --ready` ~2.8 s,
task-master `next` ~1.8 s per call (ours should be at least 8x faster).

    python benchmarks/bench_graph.py            # 10k tasks, 7 rounds
    python benchmarks/bench_graph.py --full     # also 50k tasks, 11 rounds
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from processes import interleaved
from result_line import result

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy, claimable, next_tasks
from sprintboard.sprints.graph import analyze
from sprintboard.workspace import init_workspace

__all__: list[str] = []

STATUSES = ("done", "ready", "blocked", "in_progress")


def make_tasks(n: int, seed: int = 4) -> list[dict[str, object]]:
    """`n` tasks, each depending on up to 3 of the 200 tasks before it; the first 30% done."""
    rng = random.Random(seed)
    tasks: list[dict[str, object]] = []
    for i in range(n):
        deps = (
            sorted({f"T{rng.randrange(max(0, i - 200), i):05d}" for _ in range(rng.randint(0, 3))})
            if i
            else []
        )
        low = rng.randint(30, 240)
        status = (
            "done" if i < n * 0.3 else ("ready" if not deps or rng.random() < 0.3 else "blocked")
        )
        tasks.append(
            {
                "id": f"T{i:05d}",
                "title": f"task {i}",
                "status": status,
                "priority": rng.randint(0, 4),
                "dependencies": deps,
                "estimate": {"low": low, "high": low + rng.randint(0, 120)},
                "role": "builder",
                "caps": ["mlx"] if rng.random() < 0.1 else [],
            }
        )
    return tasks


def build_workspace(root: Path, n: int) -> Path:
    ws = init_workspace(root / f"ws{n}", git=False)
    board = LocalBoard(ws, host="alpha", clock=FrozenClock(), ids=CounterIds())
    board.create_tasks(make_tasks(n))
    return ws


def timed(fn: Callable[[], object]) -> float:
    """CPU milliseconds of an in-process call (steady under a loaded machine, unlike wall)."""
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


def bench_size(root: Path, n: int, rounds: int) -> None:
    t0 = time.perf_counter()
    ws = build_workspace(root, n)
    print(f"\n{n:,} tasks (board built in {time.perf_counter() - t0:.1f} s), {rounds} rounds")
    exe = str(Path(sys.executable).parent / "sprintboard")
    base_name = "import sprintboard (baseline)"
    commands: dict[str, list[str]] = {
        base_name: [sys.executable, "-P", "-c", "import sprintboard"],
        "sprintboard next --json": [exe, "next", "--json"],
        "sprintboard graph --json": [exe, "graph", "--json"],
    }
    walls, cpus = interleaved(commands, ws, rounds)
    base_wall, base_cpu = statistics.median(walls[base_name]), statistics.median(cpus[base_name])
    print(
        f"  {'whole process (median)':<32} {'wall ms':>9} {'ratio':>7} {'+ms':>7} | {'cpu ms':>8} {'+ms':>7}"
    )
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"  {name:<32} {wall:9.1f} {wall / base_wall:7.2f} {wall - base_wall:7.1f} |"
            f" {cpu:8.1f} {cpu - base_cpu:7.1f}"
        )

    policy = BoardPolicy(owner="alpha", open_claims=True)
    board = LocalBoard(ws, host="alpha", policy=policy)
    state = board.snapshot()
    # In a long-running owner process the board state is old-generation and rarely scanned;
    # freezing it keeps one full collection from landing inside whichever call is timed.
    gc.collect()
    gc.freeze()
    inproc: dict[str, Callable[[], object]] = {
        "ready set (scheduling.claimable)": lambda: claimable(state, policy),
        "LocalBoard.ready (ranked)": lambda: board.ready(),
        "full analysis (graph.analyze)": lambda: analyze(state.tasks.values()),
        "next_tasks (ready + slack rank)": lambda: next_tasks(state, policy, role="builder"),
    }
    itimes: dict[str, list[float]] = {name: [] for name in inproc}
    for _ in range(rounds * 3):
        for name, fn in inproc.items():
            itimes[name].append(timed(fn))
    gc.unfreeze()
    ready_base = statistics.median(itimes["ready set (scheduling.claimable)"])
    print(f"  {'in process (median cpu ms)':<32}")
    for name, values in itimes.items():
        med = statistics.median(values)
        print(f"  {name:<32} {med:9.2f} x{med / ready_base:5.2f} of the ready set")
    nxt = statistics.median(walls["sprintboard next --json"])
    print(
        f"  vs references (wall): Backlog.md ready 2800 ms -> {2800 / nxt:.1f}x faster; "
        f"task-master next 1800 ms -> {1800 / nxt:.1f}x faster"
    )
    tag = f"{n // 1000}k tasks"
    result(
        f"next --json, {tag} (whole process)", nxt, "ms", better="lower", goal=150, goal_on="value"
    )
    result(
        f"next --json vs task-master next, {tag}", nxt, "ms", baseline=1800, better="lower", goal=12
    )
    result(
        f"next --json vs Backlog.md ready, {tag}", nxt, "ms", baseline=2800, better="lower", goal=18
    )
    graph_ms = statistics.median(walls["sprintboard graph --json"])
    result(
        f"graph --json, {tag} (whole process)", graph_ms, "ms", baseline=base_wall, better="lower"
    )
    ready_ms = statistics.median(itimes["ready set (scheduling.claimable)"])
    result(f"ready set in process, {tag}", ready_ms, "ms", better="lower", goal=20, goal_on="value")
    full_ms = statistics.median(itimes["full analysis (graph.analyze)"])
    result(
        f"full analysis in process, {tag}", full_ms, "ms", better="lower", goal=50, goal_on="value"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 50,000 tasks, more rounds")
    parser.add_argument("--quick", action="store_true", help="3 rounds (make bench)")
    args = parser.parse_args()
    sizes, rounds = ([10_000, 50_000], 11) if args.full else ([10_000], 3 if args.quick else 7)
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            bench_size(Path(tmp), n, rounds)


if __name__ == "__main__":
    main()
