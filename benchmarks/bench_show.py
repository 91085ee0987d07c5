"""`sprintboard show` speed on a 10,000-task board with 1,000 notes and 200 questions.

Baseline: `sprintboard next --json` on the same board (it too loads the snapshot and answers
about one task), run interleaved with `show TASK --json` and `prime`; medians, ratios and
differences against it. Then in process: `task_document` (a pure function over the state)
and `render_task_page`, against `scheduling.next_tasks` on the same state. Goal: `show`
within 1.5x of `next`, the document in process under 5 ms.

    python benchmarks/bench_show.py            # 7 rounds
    python benchmarks/bench_show.py --quick    # 3 rounds (make bench)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_graph import make_tasks, run_cmd, timed
from result_line import result

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.document import render_task_page, task_document
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy, next_tasks
from sprintboard.workspace import init_workspace

__all__: list[str] = []

TASK = "T05000"


def build(root: Path, n: int) -> Path:
    ws = init_workspace(root / "ws", git=False)
    board = LocalBoard(ws, host="alpha", clock=FrozenClock(), ids=CounterIds())
    board.create_tasks(make_tasks(n))
    notes = [
        EventDraft("note.add", f"T{i * 7 % n:05d}", {"text": f"note {i}"}, "human:bench")
        for i in range(1000)
    ]
    asks = [
        EventDraft("question.ask", f"T{i * 11 % n:05d}", {"text": f"q {i}?"}, "human:bench")
        for i in range(200)
    ]
    board.apply([*notes, *asks])
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds (make bench)")
    rounds = 3 if parser.parse_args().quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        ws = build(Path(tmp), 10_000)
        exe = str(Path(sys.executable).parent / "sprintboard")
        base = "sprintboard next --json (baseline)"
        commands = {
            base: [exe, "next", "--json"],
            f"sprintboard show {TASK} --json": [exe, "show", TASK, "--json"],
            f"sprintboard show {TASK}": [exe, "show", TASK],
            "sprintboard prime": [exe, "prime", "--agent", "builder-alpha"],
        }
        for argv in commands.values():
            run_cmd(argv, ws)  # warm the page cache and .pyc files
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, argv in commands.items():
                walls[name].append(run_cmd(argv, ws)[0])
        base_ms = statistics.median(walls[base])
        print(f"10,000 tasks, 1,000 notes, 200 questions; {rounds} rounds")
        print(f"  {'whole process (median)':<36} {'wall ms':>9} {'ratio':>7} {'+ms':>7}")
        for name, values in walls.items():
            ms = statistics.median(values)
            print(f"  {name:<36} {ms:9.1f} {ms / base_ms:7.2f} {ms - base_ms:7.1f}")

        policy = BoardPolicy(owner="alpha", open_claims=True)
        state = LocalBoard(ws, host="alpha", policy=policy).snapshot()
        gc.collect()
        gc.freeze()
        inproc: dict[str, Callable[[], object]] = {
            "next_tasks (baseline)": lambda: next_tasks(state, policy, role="builder"),
            "task_document": lambda: task_document(state, TASK),
            "task_document + render_task_page": lambda: render_task_page(
                task_document(state, TASK)
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in inproc}
        for _ in range(rounds * 5):
            for name, fn in inproc.items():
                times[name].append(timed(fn))
        gc.unfreeze()
        inbase = statistics.median(times["next_tasks (baseline)"])
        print(f"  {'in process (median cpu ms)':<36}")
        for name, values in times.items():
            ms = statistics.median(values)
            print(f"  {name:<36} {ms:9.2f} x{ms / inbase:5.2f} of next_tasks")
        show_ms = statistics.median(walls[f"sprintboard show {TASK} --json"])
        # ratio = baseline / ours: 0.67 or more is "show within 1.5x of next"
        result("show --json vs next --json, 10k tasks (whole process)", show_ms, "ms",
               baseline=base_ms, better="lower", goal=0.67)  # fmt: skip
        doc_ms = statistics.median(times["task_document"])
        result("task_document in process, 10k tasks", doc_ms, "ms", better="lower", goal=5,
               goal_on="value")  # fmt: skip
        started = time.perf_counter()
        render_task_page(task_document(state, TASK))
        print(f"  one page rendered in {(time.perf_counter() - started) * 1000:.2f} ms wall")


if __name__ == "__main__":
    main()
