"""Board store speed: one committed change against the durable floor.

Baseline (same script, interleaved): append one line + fsync to a plain file — the least
any durable journal can do. Measured: `LocalBoard.add_note` (lock, catch up, validate,
append + fsync, atomic snapshot replace + dir fsync, head) on boards of 10 and 1,000 tasks,
and cold open of a 10,000-task board from its snapshot. Medians of interleaved repeats.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from result_line import result

from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy


def board(root: Path, n: int) -> LocalBoard:
    b = LocalBoard(root, host="alpha", policy=BoardPolicy(owner="alpha", open_claims=True))
    if n:
        b.create_tasks(
            [{"id": f"T{i:05d}", "title": f"task {i}", "status": "ready"} for i in range(n)]
        )
    return b


def floor(path: Path) -> float:
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b'{"v":1,"seq":1,"op":"note.add","fields":{"text":"x"}}\n')
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t0


def timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (make bench)")
    args = parser.parse_args()
    commits = 10 if args.quick else 30
    tmp = Path(tempfile.mkdtemp(prefix="bench-board-"))
    small, medium = board(tmp / "s", 10), board(tmp / "m", 1000)
    board(tmp / "l", 10_000)
    base, s, m, cold = [], [], [], []
    for _ in range(commits):
        base.append(floor(tmp / "floor.jsonl"))
        s.append(timed(lambda: small.add_note("x")))
        m.append(timed(lambda: medium.add_note("x")))
    for _ in range(5):
        cold.append(
            timed(
                lambda: LocalBoard(
                    tmp / "l", host="alpha", policy=BoardPolicy(owner="alpha", open_claims=True)
                )
            )
        )
    f = statistics.median(base)
    print(f"durable floor (append + fsync): {f * 1000:.2f} ms")
    for label, xs in (("commit, 10-task board", s), ("commit, 1,000-task board", m)):
        med = statistics.median(xs)
        print(
            f"{label}: median {med * 1000:.2f} ms = {med / f:.1f}x the floor ({1 / med:.0f} commits/s)"
        )
        result(label, med * 1000, "ms", baseline=f * 1000, better="lower")
    open_ms = statistics.median(cold) * 1000
    print(f"cold open of a 10,000-task board from its snapshot: median {open_ms:.0f} ms")
    result("cold open, 10,000-task board", open_ms, "ms", better="lower")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
