"""Board stores side by side: PostgreSQL (a private, durable local server) vs the file store.

Measured in one run, interleaved (file, pg, file, pg ...): commit latency p50/p95 of one
`add_note` from 1 process and from 8 processes at once, and the commits/s and claims/s
(`claim_next` on a board of ready tasks) those processes reach together. The file store
is the baseline. Workers are this script run again (`--worker`); they open their board,
wait at a barrier, then time each call. PostgreSQL keeps its durable defaults (fsync,
synchronous_commit on) and is reached over loopback TCP; the file store fsyncs each commit.

Goals (issue 24): >= 500 commits/s with 8 processes, and p50 <= 5 ms for one process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from result_line import result

from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy


def _open(kind: str, root: Path, url: str, host: str) -> LocalBoard:
    if kind == "file":
        # 8 processes on a loaded machine can queue longer than the default 30 s
        return LocalBoard(
            root,
            host="alpha",
            policy=BoardPolicy(owner="alpha", open_claims=True),
            lock_timeout=600,
        )
    from sprintboard.board.pg.board import PgBoard
    from sprintboard.board.pg.store import PgStore

    return PgBoard(
        root, store=PgStore(url, pool_size=1), host=host, policy=BoardPolicy(open_claims=True)
    )


def floor_op(kind: str, root: Path, url: str) -> tuple[Any, Any]:
    """The least a durable append can cost on this machine: for the file store, append a
    line + fsync under a file lock; for PostgreSQL, lock a one-row head table, insert a row
    and commit (the design's bound: the lock is held through the commit's WAL flush)."""
    if kind == "filefloor":
        import fcntl
        import os

        path = root / "floor.jsonl"
        lock = os.open(root / "floor.lock", os.O_RDWR | os.O_CREAT, 0o644)

        def append() -> None:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, b'{"v":1,"op":"note.add","fields":{"text":"x"}}\n')
            os.fsync(fd)
            os.close(fd)
            fcntl.flock(lock, fcntl.LOCK_UN)

        return append, lambda: os.close(lock)
    import psycopg

    conn = psycopg.connect(url)

    def insert() -> None:
        conn.execute("SELECT n FROM floor_head FOR UPDATE")
        conn.execute("INSERT INTO floor_rows VALUES (%s)", ["x" * 200])
        conn.commit()

    return insert, conn.close


def worker(kind: str, root: Path, url: str, n: int, what: str, name: str, go: Path) -> None:
    if kind.endswith("floor"):
        op, done = floor_op(kind, root, url)
        while not go.exists():
            time.sleep(0.001)
        lat, start = [], time.time()
        for _ in range(n):
            t0 = time.perf_counter()
            op()
            lat.append(time.perf_counter() - t0)
        print(json.dumps({"lat": lat, "start": start, "end": time.time()}), flush=True)
        done()
        return
    folder = root if kind == "file" else root / name
    board = _open(kind, folder, url, name)
    board.snapshot()
    while not go.exists():
        time.sleep(0.001)
    lat = []
    start = time.time()
    for i in range(n):
        t0 = time.perf_counter()
        if what == "commit":
            board.add_note(f"{name} {i}")
        else:
            got = board.claim_next(f"agent-{name}", ttl=3600, host=name if kind == "pg" else None)
            assert got is not None, "ran out of tasks"
        lat.append(time.perf_counter() - t0)
    print(json.dumps({"lat": lat, "start": start, "end": time.time()}), flush=True)
    board.close()


def run(kind: str, root: Path, url: str, procs: int, n: int, what: str) -> dict[str, float]:
    root.mkdir(parents=True, exist_ok=True)
    go = root / f"go-{time.monotonic_ns()}"
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, str(root), url, str(n), what,
             f"h{i}", str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(procs)
    ]  # fmt: skip
    time.sleep(1.5 + 0.4 * procs)  # let every worker open its board and wait at the barrier
    go.touch()
    outs = []
    for child in children:
        out = child.communicate(timeout=900)[0]
        if child.returncode != 0:
            raise SystemExit(f"a {kind} {what} worker failed (exit {child.returncode}); see above")
        outs.append(json.loads(out))
    lat = sorted(x for o in outs for x in o["lat"])
    wall = max(o["end"] for o in outs) - min(o["start"] for o in outs)
    return {
        "p50": statistics.median(lat) * 1000,
        "p95": lat[int(len(lat) * 0.95) - 1] * 1000,
        "rate": len(lat) / wall,
    }


FLOORS = ("filefloor", "pgfloor")


def _floor_tables(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE floor_head (n int); INSERT INTO floor_head VALUES (0)")
        conn.execute("CREATE TABLE floor_rows (line text)")


def seed(kind: str, root: Path, url: str, tasks: int) -> None:
    board = _open(kind, root, url, "seed")
    board.create_tasks(
        [{"id": f"T{i:05d}", "title": f"task {i}", "status": "ready"} for i in range(tasks)]
    )
    board.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (make bench)")
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="run PostgreSQL with fsync off: the code path's own cost, not a durable number",
    )
    parser.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, root, url, n, what, name, go = args.worker
        worker(kind, Path(root), url, int(n), what, name, Path(go))
        return
    from sprintboard.board.pg.cluster import PrivateCluster

    # a killed run still stops its server (finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    n = 100 if args.quick else 200
    repeats = 1 if args.quick else 2
    cluster = PrivateCluster(durable=not args.no_fsync)
    cluster.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    found: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    try:
        for r in range(repeats):
            for what in ("commit", "claim"):
                for procs in (1, 8):
                    url = cluster.create_database(f"b_{what}_{procs}_{r}")
                    kinds = ("file", "pg") if what == "claim" else FLOORS + ("file", "pg")
                    if what == "commit":
                        _floor_tables(url)
                    for kind in kinds:
                        root = tmp / f"{kind}-{what}-{procs}-{r}"
                        if what == "claim":
                            seed(kind, root, url, n * procs)
                        got = run(kind, root, url, procs, n, what)
                        found.setdefault((kind, what, procs), []).append(got)
                        print(
                            f"{kind:9} {what:6} x{procs}: p50 {got['p50']:.2f} ms, "
                            f"p95 {got['p95']:.2f} ms, {got['rate']:.0f}/s",
                            flush=True,
                        )
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(kind: str, what: str, procs: int, key: str) -> float:
        return statistics.median(x[key] for x in found[(kind, what, procs)])

    print("\nmedians over repeats (file store = baseline):")
    for procs in (1, 8):
        floors = {k: med(k, "commit", procs, "p50") for k in FLOORS}
        rates = {k: med(k, "commit", procs, "rate") for k in FLOORS}
        print(
            f"floors x{procs}: file append+fsync p50 {floors['filefloor']:.2f} ms "
            f"({rates['filefloor']:.0f}/s); pg lock+insert+commit p50 {floors['pgfloor']:.2f} "
            f"ms ({rates['pgfloor']:.0f}/s)"
        )
    for what in ("commit", "claim"):
        for procs in (1, 8):
            pg = {k: med("pg", what, procs, k) for k in ("p50", "p95", "rate")}
            fs = {k: med("file", what, procs, k) for k in ("p50", "p95", "rate")}
            print(
                f"{what} x{procs}: pg p50 {pg['p50']:.2f} / p95 {pg['p95']:.2f} ms, "
                f"{pg['rate']:.0f}/s | file p50 {fs['p50']:.2f} / p95 {fs['p95']:.2f} ms, "
                f"{fs['rate']:.0f}/s"
            )
            unit = "commits/s" if what == "commit" else "claims/s"
            goal: dict[str, Any] = {}
            if (what, procs) == ("commit", 8):
                goal = {"goal": 500, "goal_on": "value"}
            result(
                f"pg {what}s/s, {procs} process(es)", pg["rate"], unit, baseline=fs["rate"], **goal
            )
            p50_goal: dict[str, Any] = {}
            if (what, procs) == ("commit", 1):
                p50_goal = {"goal": 5, "goal_on": "value"}
            result(
                f"pg {what} p50, {procs} process(es)",
                pg["p50"],
                "ms",
                baseline=fs["p50"],
                better="lower",
                **p50_goal,
            )
            result(
                f"pg {what} p95, {procs} process(es)",
                pg["p95"],
                "ms",
                baseline=fs["p95"],
                better="lower",
            )


if __name__ == "__main__":
    main()
