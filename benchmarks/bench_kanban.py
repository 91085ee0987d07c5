"""KANBAN.md speed: a person's save -> events in the journal -> the file rendered back.

- baseline: the same edit merged by calling `KanbanSync.sync` right after the save (merge,
  commit, render; no watcher).
- watcher: the save is noticed by the watchdog observer (inotify), debounced, checked for
  stability, merged and rendered; timed until the re-rendered file is on disk.
- render / parse: one render and one parse of the whole board, for scale.

Rounds interleave the modes (baseline edit, watcher edit, ...); p50 and p95 are reported,
the watcher as a ratio to the baseline. Goal: watcher p95 under 250 ms. `--full` uses a
bigger board and more edits.

usage: python benchmarks/bench_kanban.py [--full] [--polling]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from result_line import result

from sprintboard.board.kanban.parse import parse_kanban
from sprintboard.board.kanban.render import render_kanban
from sprintboard.board.kanban.sync import KanbanSync
from sprintboard.board.kanban.watcher import KanbanWatcher
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy


def _save(path: Path, text: str) -> None:
    tmp = path.with_name(".KANBAN.md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _edit(view: KanbanSync, i: int) -> tuple[str, bytes]:
    text = view.path.read_text(encoding="utf-8")
    marker = f"edit-{i} "
    return text.replace("## 📝 Notes\n", f"## 📝 Notes\n- {marker}\n", 1), f"- {marker}_(".encode()


def _wait_rendered(view: KanbanSync, needle: bytes, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        data = view.path.read_bytes()
        if needle in data and view.is_rendered(data):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the watcher did not merge the edit in time")
        time.sleep(0.0005)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="500 tasks, 400 edits")
    parser.add_argument("--polling", action="store_true", help="polling observer, not inotify")
    parser.add_argument("--quick", action="store_true", help="60 edits (make bench)")
    args = parser.parse_args()
    tasks, edits = (500, 400) if args.full else (60, 60 if args.quick else 200)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        view = KanbanSync(root, actor="human:bench")
        board = LocalBoard(
            root,
            host="alpha",
            policy=BoardPolicy(owner="alpha", open_claims=True),
            observers=[view],
        )
        board.create_tasks(
            [
                {"id": f"T{n:03d}", "title": f"task {n}", "status": "ready", "priority": n % 4}
                for n in range(1, tasks + 1)
            ]
        )
        state = board.snapshot()
        layout = parse_kanban(view.path.read_text(encoding="utf-8"))
        render_s, parse_s = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            text = render_kanban(state, layout)
            t1 = time.perf_counter()
            parse_kanban(text.encode("utf-8"))
            render_s.append(t1 - t0)
            parse_s.append(time.perf_counter() - t1)

        baseline: list[float] = []
        watched: list[float] = []
        watcher = KanbanWatcher(board, view, polling=args.polling, poll_interval=0.05)
        watcher.start()
        try:
            for i in range(edits):
                # Baseline edit: merged by hand, the watcher sees a rendered file and idles.
                text, needle = _edit(view, 2 * i)
                t0 = time.perf_counter()
                _save(view.path, text)
                view.sync(board)
                _wait_rendered(view, needle)
                baseline.append(time.perf_counter() - t0)
                text, needle = _edit(view, 2 * i + 1)
                t0 = time.perf_counter()
                _save(view.path, text)
                _wait_rendered(view, needle)
                watched.append(time.perf_counter() - t0)
        finally:
            watcher.stop()
        notes = len(board.snapshot().notes)
        assert notes == 2 * edits, f"expected {2 * edits} notes in the journal, found {notes}"

    ms = 1000.0
    base50, base95 = _p(baseline, 0.5), _p(baseline, 0.95)
    w50, w95 = _p(watched, 0.5), _p(watched, 0.95)
    mode = "polling" if args.polling else "inotify"
    print(f"board: {tasks} tasks, {edits} edits per mode ({mode})")
    print(f"render: median {statistics.median(render_s) * ms:.2f} ms")
    print(f"parse:  median {statistics.median(parse_s) * ms:.2f} ms")
    print(f"baseline (sync by hand): p50 {base50 * ms:.1f} ms  p95 {base95 * ms:.1f} ms")
    print(
        f"watcher  (save -> journal -> file): p50 {w50 * ms:.1f} ms  p95 {w95 * ms:.1f} ms  "
        f"(x{w50 / base50:.1f} / x{w95 / base95:.1f} the baseline)"
    )
    print(f"goal p95 < 250 ms: {'met' if w95 < 0.25 else 'NOT met'}")
    result(
        "KANBAN.md save -> rendered, p95",
        w95 * ms,
        "ms",
        baseline=base95 * ms,
        better="lower",
        goal=250,
        goal_on="value",
    )


if __name__ == "__main__":
    main()
