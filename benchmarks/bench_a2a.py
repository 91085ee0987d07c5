"""A2A speed: the durable-step floor, one-way throughput, and round-trip latency.

- floor: one durable step (write tmp + fsync + rename + fsync dir): the baseline.
- throughput: `beta` sends N signed, fsynced messages (group commit per batch) to `alpha`;
  a second process handles them (claim, verify signature + hash + expiry, parse with the
  A2A SDK, remember the id durably, ledger, archive). Ends when alpha reports all handled.
- round trip: beta sends a request, alpha's process (woken by inotify) replies, beta
  (woken by inotify) handles the reply; p50 and p95.

Repeats are interleaved (floor, throughput, rtt, floor, ...) and medians reported, each as
a ratio to the floor. `--full` uses bigger sizes.

usage: python benchmarks/bench_a2a.py [--full]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sprintboard.a2a import messages
from sprintboard.a2a.keys import keygen, pair
from sprintboard.a2a.node import open_postbox
from sprintboard.a2a.postbox import Outcome, Postbox, Received
from sprintboard.files import fsync_dir
from sprintboard.workspace import init_workspace


def floor_step(folder: Path, n: int) -> float:
    """Median seconds of one durable write + rename + directory fsync."""
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        tmp, final = folder / f".f{i}.tmp", folder / f"f{i}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x" * 600)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, final)
        fsync_dir(folder)
        times.append(time.perf_counter() - t0)
    for i in range(n):
        (folder / f"f{i}").unlink()
    return statistics.median(times)


class Watcher:
    """Wakes when something lands in a host's `inbox/new/` (inotify via watchdog)."""

    def __init__(self, host_dir: Path) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        self.wake = threading.Event()
        wake = self.wake

        class _H(FileSystemEventHandler):
            def on_any_event(self, event: object) -> None:
                wake.set()

        self.observer = Observer()
        self.observer.schedule(_H(), str(host_dir), recursive=True)
        self.observer.start()

    def wait(self, timeout: float) -> None:
        self.wake.wait(timeout)
        self.wake.clear()


def serve(ws: Path, keys: Path, seconds: float) -> None:
    """The second process: alpha handles everything; answers each request with its count."""
    box = open_postbox(ws, "alpha", keys=keys)
    watcher = Watcher(ws / ".a2a" / "alpha")
    count = 0

    def handle(got: Received) -> Outcome:
        nonlocal count
        count += 1
        if got.env.kind == "request":
            env = got.env
            box.send(
                env.sender,
                "reply",
                lambda m: messages.reply(m, True, count),
                reply_to=env.id,
            )
            return Outcome("answer", str(count))
        return Outcome("progress", "")

    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < deadline:
        if box.process(handle) == 0:
            watcher.wait(0.5)


def ask(beta: Postbox, watcher: Watcher) -> int:
    """One round trip: request, then wait for and handle the reply; returns alpha's count."""
    env = beta.send("alpha", "request", lambda m: messages.request(m, "count", {}))
    answer: list[int] = []

    def take(got: Received) -> Outcome:
        if got.env.reply_to == env.id:
            answer.append(int(got.parsed.data["value"]))
        return Outcome("answer")

    while not answer:
        if beta.process(take) == 0:
            watcher.wait(0.05)
    return answer[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="bigger sizes")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (make bench)")
    parser.add_argument(
        "--serve", nargs=3, metavar=("WS", "KEYS", "SECONDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]), float(args.serve[2]))
        return
    n_msgs, n_rtt, repeats, batch = (5000, 400, 5, 100) if args.full else (1000, 100, 3, 50)
    if args.quick:
        n_msgs, n_rtt, repeats = 500, 60, 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = init_workspace(
            root / "ws", owner="alpha", hosts=[("alpha", []), ("beta", [])], git=False
        )
        alpha_keys, beta_keys = ws / ".sprintboard" / "keys", root / "beta-keys"
        pair(beta_keys, "alpha", "beta", keygen(alpha_keys, "alpha", "beta"))
        server = subprocess.Popen(
            [sys.executable, "-P", __file__, "--serve", str(ws), str(alpha_keys), "600"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            beta = open_postbox(ws, "beta", keys=beta_keys)
            watcher = Watcher(ws / ".a2a" / "beta")
            ask(beta, watcher)  # warm up both sides
            floors, rates, p50s, p95s = [], [], [], []
            scratch = root / "floor"
            scratch.mkdir()
            for _ in range(repeats):
                floors.append(floor_step(scratch, 200))

                start_count = ask(beta, watcher)
                t0 = time.perf_counter()
                for i in range(0, n_msgs, batch):
                    envs = [
                        beta.seal(
                            "alpha",
                            "progress",
                            lambda m: messages.progress(m, "T1", "S1", "step"),
                            task="T1",
                        )
                        for _ in range(min(batch, n_msgs - i))
                    ]
                    beta.post(envs)  # one fsync per file, one directory fsync per batch
                while ask(beta, watcher) < start_count + n_msgs + 1:
                    pass
                rates.append(n_msgs / (time.perf_counter() - t0))

                rtts = []
                for _ in range(n_rtt):
                    t1 = time.perf_counter()
                    ask(beta, watcher)
                    rtts.append(time.perf_counter() - t1)
                rtts.sort()
                p50s.append(rtts[len(rtts) // 2])
                p95s.append(rtts[int(len(rtts) * 0.95) - 1])
        finally:
            server.terminate()
            server.wait(10)
    floor = statistics.median(floors)
    rate = statistics.median(rates)
    p50, p95 = statistics.median(p50s), statistics.median(p95s)
    print(f"floor (durable step)     {floor * 1e3:8.3f} ms                 ratio 1.00 (baseline)")
    print(
        f"one-way throughput       {rate:8.0f} msg/s  ({1e3 / rate:6.3f} ms/msg)"
        f"  ratio {(1 / rate) / floor:5.2f} x floor  (goal >= 1000 msg/s)"
    )
    print(
        f"round trip p50           {p50 * 1e3:8.3f} ms  ratio {p50 / floor:6.1f} x floor  (goal < 20 ms)"
    )
    print(
        f"round trip p95           {p95 * 1e3:8.3f} ms  ratio {p95 / floor:6.1f} x floor  (goal < 100 ms)"
    )
    print(
        f"({n_msgs} messages, batches of {batch}, {n_rtt} round trips, {repeats} interleaved repeats)"
    )
    from result_line import result  # here: the --serve child runs with -P, off this folder

    result("one-way throughput", rate, "msg/s", goal=1000, goal_on="value")
    result(
        "round trip p50",
        p50 * 1e3,
        "ms",
        baseline=floor * 1e3,
        better="lower",
        goal=20,
        goal_on="value",
    )
    result(
        "round trip p95",
        p95 * 1e3,
        "ms",
        baseline=floor * 1e3,
        better="lower",
        goal=100,
        goal_on="value",
    )


if __name__ == "__main__":
    main()
