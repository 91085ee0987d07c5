"""A remote `claim-next`: its round trip from a host that is not the owner (issue 20).

Three clients take a task with `claim_next` and give it back with `release` (untimed), so
the board stays the same size; only the `claim_next` call is timed:

- local: the owner's own `LocalBoard` in this process: the baseline (the same claim,
  no transport);
- dir: host beta's `RemoteBoard`, in a folder made with `join`, through the shared A2A
  directory; the owner's `sprintboard a2a serve` (its own process, woken by inotify)
  answers;
- http: host gamma's `RemoteBoard`, joined with `--url`, through the owner's
  `sprintboard a2a http` endpoint (its own process).

A remote `claim_next` is: seal + post the request, the owner picks and leases the best
task (journal append + fsync, snapshot, KANBAN.md), seals the assignment, the host reads
and verifies it, then posts its `accept` (one more message; over HTTP one more POST).

Then the whole one-shot command, `sprintboard claim-next --agent ... --json` as its own
process (interpreter start, imports, keys, the round trip), on the owner and on each
host: what a person or an outside agent waits for.

Repeats are interleaved (local, dir, http, local, ...); p50 and p95 are taken per batch
and their medians reported, each as a ratio to the local call.

usage: python benchmarks/bench_remote.py [--quick | --full]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from sprintboard.a2a.keys import keygen, pair
from sprintboard.a2a.node import open_remote_board
from sprintboard.board.client import BoardClient
from sprintboard.join import join_workspace
from sprintboard.workspace import init_workspace, open_board

CLI = "import sys; from sprintboard.cli import main; main(sys.argv[1:])"
HOSTS: list[tuple[str, list[str]]] = [("alpha", []), ("beta", []), ("gamma", [])]
SIDES = ("local", "dir", "http")


def _env() -> dict[str, str]:
    # each folder says which host it is (join writes .sprintboard/host.toml)
    return {k: v for k, v in os.environ.items() if not k.startswith("SPRINTBOARD_")}


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-P", "-c", CLI, *args], stdout=out, stderr=out, env=_env()
    )


def _endpoint(log: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    """The URL `a2a http --port 0` prints once its socket listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("a2a http: host alpha on "):
                return line.split(" on ", 1)[1].split(" ", 1)[0]
        if proc.poll() is not None:
            raise SystemExit(f"a2a http exited early: {log.read_text(encoding='utf-8')}")
        time.sleep(0.05)
    raise SystemExit(f"a2a http did not start within {timeout}s: see {log}")


class Taker:
    """One client: `take` times one claim_next and gives the task back (untimed)."""

    def __init__(self, board: BoardClient, agent: str) -> None:
        self.board, self.agent = board, agent

    def take(self) -> float:
        t0 = time.perf_counter()
        task = self.board.claim_next(self.agent, ttl=600)
        took = time.perf_counter() - t0
        if task is None or task.lease is None:
            raise SystemExit(f"{self.agent}: claim_next took nothing")
        self.board.release(task.id, task.lease.fence, "benchmark: give it back")
        return took


def _one_shot(folder: Path, agent: str, give_back: Taker) -> float:
    """Seconds for one `sprintboard claim-next` process; the task is given back after."""
    argv = [sys.executable, "-P", "-c", CLI, "claim-next", "--agent", agent, "--json"]
    argv += ["-w", str(folder), "--timeout", "30"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=_env(), check=False)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"claim-next in {folder} failed: {done.stderr.decode()[-800:]}")
    lease = orjson.loads(done.stdout)
    give_back.board.release(lease["task"], lease["fence"], "benchmark: give it back")
    return took


def _pcts(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2], ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _batch(run: Callable[[], float], n: int) -> list[float]:
    return [run() for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="bigger sizes")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (make bench)")
    args = parser.parse_args()
    n_calls, n_shots, repeats = (200, 10, 5) if args.full else (60, 4, 3)
    if args.quick:
        n_calls, n_shots, repeats = 25, 1, 3
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        alpha = init_workspace(root / "alpha", owner="alpha", hosts=HOSTS, git=False)
        keys = alpha / ".sprintboard" / "keys"
        secrets = {h: keygen(keys, "alpha", h) for h in ("beta", "gamma")}
        board = open_board(alpha, host="alpha")
        board.create_tasks(
            [
                {"id": f"T{i:03d}", "title": f"task {i}", "status": "ready", "priority": 1 + i % 4}
                for i in range(1, 41)
            ]
        )
        procs: list[subprocess.Popen[bytes]] = []
        try:
            serve = ["a2a", "serve", "--host", "alpha", "-w", str(alpha), "--rescan", "2"]
            procs.append(_start(serve, root / "serve.log"))
            http_log = root / "http.log"
            procs.append(_start(["a2a", "http", "-w", str(alpha), "--port", "0"], http_log))
            url = _endpoint(http_log, procs[-1])
            folders = {
                "dir": Path(join_workspace(alpha, root / "beta", "beta").folder),
                "http": Path(join_workspace(alpha, root / "gamma", "gamma", url=url).folder),
            }
            for side, host in (("dir", "beta"), ("http", "gamma")):
                pair(folders[side] / ".sprintboard" / "keys", "alpha", host, secrets[host])
            takers: dict[str, Taker] = {"local": Taker(board, "builder-alpha")}
            for side, host in (("dir", "beta"), ("http", "gamma")):
                remote: Any = open_remote_board(folders[side], host, timeout=30, reader=False)
                takers[side] = Taker(remote, f"builder-{host}")
            places = {"local": alpha, **folders}
            for side in SIDES:  # warm up: the HTTP client, the daemon's caches, the page cache
                _batch(takers[side].take, 3)

            p50s: dict[str, list[float]] = {s: [] for s in SIDES}
            p95s: dict[str, list[float]] = {s: [] for s in SIDES}
            shots: dict[str, list[float]] = {s: [] for s in SIDES}
            for _ in range(repeats):
                for side in SIDES:
                    p50, p95 = _pcts(_batch(takers[side].take, n_calls))
                    p50s[side].append(p50)
                    p95s[side].append(p95)
                for side in SIDES:
                    agent = takers[side].agent
                    shots[side] += _batch(
                        lambda s=side, a=agent: _one_shot(places[s], a, takers[s]), n_shots
                    )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=20)
        events = len(board.events())

    p50 = {s: statistics.median(v) * 1e3 for s, v in p50s.items()}
    p95 = {s: statistics.median(v) * 1e3 for s, v in p95s.items()}
    shot = {s: statistics.median(v) * 1e3 for s, v in shots.items()}
    print(f"{'claim_next (in process)':28} {'p50 ms':>9} {'p95 ms':>9}   p50 ratio to local")
    for side in SIDES:
        ratio = "1.00 (baseline)" if side == "local" else f"{p50[side] / p50['local']:.2f} x local"
        print(f"  {side:26} {p50[side]:9.2f} {p95[side]:9.2f}   {ratio}")
    print(f"{'sprintboard claim-next (process)':36} {'median ms':>9}")
    for side in SIDES:
        ratio = (
            "1.00 (baseline)" if side == "local" else f"{shot[side] / shot['local']:.2f} x local"
        )
        print(f"  {side:34} {shot[side]:9.1f}   {ratio}")
    print(
        f"({n_calls} calls per batch, {repeats} interleaved repeats, {n_shots * repeats} "
        f"processes per side; 40 tasks, {events} journal events at the end)"
    )
    from result_line import result

    in_process = "baseline: the owner's LocalBoard.claim_next"
    one_shot = "one process; baseline: the same command on the owner"
    for side in ("dir", "http"):
        for measure, values, note in (
            (f"remote claim-next p50 ({side})", p50, in_process),
            (f"remote claim-next p95 ({side})", p95, in_process),
            (f"claim-next command ({side})", shot, one_shot),
        ):
            result(measure, values[side], "ms", baseline=values["local"], better="lower", note=note)


if __name__ == "__main__":
    main()
