"""Board commands where people and agents wait, and how they grow: 1k, 10k, 40k tasks.

The board (issue 23's recipe): N tasks, each depending on one earlier task with probability
0.3, 20 % done, priorities 1-3, written as a SPRINT_QUEUE.json and imported with
`sprintboard import` into a git workspace. Measured as whole processes, interleaved
round by round with the baseline (`python -P -c "import sprintboard"`, the bare start-up):
`next --json`, `status --json`, `show --json` (when the command exists), then the import
itself, one commit (`sprintboard add`) and `standup`. Medians of wall and CPU (user + sys
of the child: steadier than wall on a shared machine).

Goals: `next --json` <= 150 ms wall at 10k (>= 12x task-master's ~1.8 s `next`, >= 18x
Backlog.md's ~2.8 s `task list --ready`); `status --json` and `show --json` <= 200 ms;
import of 10k <= 1 s and of 40k <= 4 s; every command at 40k within 4.5x its 10k time.

The child processes may write .pyc files (PYTHONDONTWRITEBYTECODE is dropped for them), as
an installed sprintboard does; without them every run would compile the sources again.

    python benchmarks/bench_scale.py            # 1k, 10k and 40k tasks, 7 rounds
    python benchmarks/bench_scale.py --quick    # 1k and 10k, 5 rounds (make bench)
    python benchmarks/bench_scale.py --before ../main/.venv   # also an older install, same boards
    python benchmarks/bench_scale.py --sizes 10000 --import-rounds 3   # import: median of 3

`--before VENV` runs that install's `next`/`status`/`show` interleaved with ours on copies of
the same boards (built by ours; each install reads its own copy, see `measure`), and its
import in turn with ours (each into a new workspace), for before/after ratios measured side
by side.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
from processes import ENV, interleaved, run_cmd
from result_line import result

__all__: list[str] = []

PEERS_MS = {"task-master next": 1800.0, "Backlog.md task list --ready": 2800.0}
EXE = str(Path(sys.executable).parent / "sprintboard")


def queue_doc(n: int, seed: int = 23) -> dict[str, object]:
    """The issue's board as a SPRINT_QUEUE.json document."""
    rng = random.Random(seed)
    tasks: list[dict[str, object]] = []
    done: set[int] = set()
    for i in range(n):
        dep = rng.randrange(i) if i and rng.random() < 0.3 else None
        if rng.random() < 0.2:
            status = "done"
            done.add(i)
        else:
            # an unfinished dependency: imported as blocked (waiting on dependencies)
            status = "ready" if dep is None or dep in done else "blocked"
        low = rng.randint(30, 240)
        tasks.append(
            {
                "id": f"T{i:05d}",
                "title": f"task {i}",
                "status": status,
                "priority": rng.randint(1, 3),
                "dependencies": [] if dep is None else [f"T{dep:05d}"],
                "estimated_time": f"{low}-{low + rng.randint(0, 120)} min",
            }
        )
    return {"sprint": 1, "sprint_id": "SPRINT-SCALE", "status": "in_progress", "tasks": tasks}


def has_show(exe: str) -> bool:
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, env=ENV)
    return " show " in out.stdout


def build(
    root: Path, n: int, before: str | None, repeats: int
) -> tuple[Path, dict[str, tuple[float, float]]]:
    """A git workspace with the N-task board imported, and the import's median wall and CPU
    ms over `repeats` fresh workspaces (with `before`'s install in turn, when given)."""
    queue = root / f"queue{n}.json"
    queue.write_bytes(orjson.dumps(queue_doc(n), option=orjson.OPT_INDENT_2))
    installs = {"import": EXE} if before is None else {"import": EXE, "import (before)": before}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in installs}
    for i in range(repeats):
        for name, exe in installs.items():
            ws = root / f"ws{n}-{name.replace(' ', '')}-{i}"
            subprocess.run([exe, "init", str(ws)], check=True, capture_output=True, env=ENV)
            times[name].append(run_cmd([exe, "import", str(queue)], ws))
    medians = {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in times.items()
    }
    return root / f"ws{n}-import-0", medians


def measure(
    ws: Path, n: int, rounds: int, show: bool, before: str | None
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU ms per command, interleaved with the bare-import baseline."""
    commands: dict[str, list[str]] = {
        "import sprintboard": [sys.executable, "-P", "-c", "import sprintboard"],
    }
    # Each install reads its own copy of the board: the settings cache
    # (.sprintboard/config.json) is stamped with the code that wrote it, so two installs
    # taking turns on one folder would each validate sprintboard.toml again on every run.
    own = ws.with_name(ws.name + "-before")
    if before is not None and not own.exists():
        shutil.copytree(ws, own, symlinks=True)
    for label, exe, folder in (("", EXE, ws), (" (before)", before, own)):
        if exe is None:
            continue
        w = ["-w", str(folder)]
        commands[f"next --json{label}"] = [exe, "next", "--json", *w]
        commands[f"status --json{label}"] = [exe, "status", "--json", *w]
        if show and has_show(exe):
            commands[f"show --json{label}"] = [exe, "show", "--json", f"T{n // 2:05d}", *w]
    walls, cpus = interleaved(commands, ws, rounds)
    out = {name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in walls}
    commit = [run_cmd([EXE, "add", f"B{i}", f"bench {i}"], ws) for i in range(max(3, rounds // 2))]
    out["one commit (add)"] = (
        statistics.median(w for w, _ in commit),
        statistics.median(c for _, c in commit),
    )
    out["standup"] = run_cmd([EXE, "standup"], ws)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k, 5 rounds (make bench)")
    parser.add_argument("--sizes", type=int, nargs="*", help="board sizes (default 1k 10k 40k)")
    parser.add_argument("--before", type=Path, help="an older install's venv to compare with")
    parser.add_argument(
        "--import-rounds", type=int, default=1, help="imports per size, each into a new workspace"
    )
    args = parser.parse_args()
    before = None if args.before is None else str(args.before.resolve() / "bin" / "sprintboard")
    sizes = args.sizes or ([1000, 10_000] if args.quick else [1000, 10_000, 40_000])
    rounds = 5 if args.quick else 7
    show = has_show(EXE)
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} cores)")
    curve: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for n in sizes:
            ws, imports = build(Path(tmp), n, before, args.import_rounds)
            wall, cpu = imports["import"]
            print(f"{n:>6,} tasks: imported in {wall:.0f} ms wall, {cpu:.0f} ms cpu", flush=True)
            curve[n] = {**imports, **measure(ws, n, rounds, show, before)}
    print(f"load after: {os.getloadavg()[0]:.2f}")
    names = list(next(iter(curve.values())))
    print(
        f"\n  {'whole process, median':<24}"
        + "".join(f"{n:>14,}" for n in sizes)
        + "   wall ms (cpu ms)"
    )
    for name in names:
        cells = "".join(f"{curve[n][name][0]:>7.0f} ({curve[n][name][1]:>4.0f})" for n in sizes)
        print(f"  {name:<24}{cells}")
    for name in names:
        if name.endswith(" (before)"):
            ours = name.removesuffix(" (before)")
            for n in sizes:
                (bw, bc), (ow, oc) = curve[n][name], curve[n][ours]
                print(
                    f"  {ours} at {n:,}: {bw / ow:.2f}x faster wall, {bc / oc:.2f}x cpu than before"
                )
    if 10_000 in curve:
        ten = curve[10_000]
        nxt = ten["next --json"][0]
        for peer, ms in PEERS_MS.items():
            print(f"  next --json at 10k vs {peer} ({ms:.0f} ms): {ms / nxt:.1f}x faster")
        result(
            "next --json, 10k tasks (whole process)",
            nxt,
            "ms",
            better="lower",
            goal=150,
            goal_on="value",
        )
        result(
            "next --json vs task-master next, 10k",
            nxt,
            "ms",
            baseline=1800,
            better="lower",
            goal=12,
        )
        result(
            "next --json vs Backlog.md ready, 10k",
            nxt,
            "ms",
            baseline=2800,
            better="lower",
            goal=18,
        )
        base = ten["import sprintboard"][0]
        for name in ("status --json", "show --json"):
            if name in ten:
                result(
                    f"{name}, 10k tasks (whole process)",
                    ten[name][0],
                    "ms",
                    baseline=base,
                    better="lower",
                    goal=200,
                    goal_on="value",
                    note="baseline: bare import",
                )
        result(
            "import of 10k tasks",
            ten["import"][0],
            "ms",
            better="lower",
            goal=1000,
            goal_on="value",
        )
    if 40_000 in curve and 10_000 in curve:
        big, ten = curve[40_000], curve[10_000]
        result(
            "import of 40k tasks",
            big["import"][0],
            "ms",
            better="lower",
            goal=4000,
            goal_on="value",
        )
        for name in ("next --json", "status --json", "show --json", "one commit (add)", "standup"):
            if name in big:
                growth = big[name][1] / ten[name][1]
                print(f"  {name}: 40k / 10k = {growth:.2f}x (cpu)")
                result(
                    f"{name}: 40k / 10k cost (cpu)",
                    growth,
                    "x",
                    better="lower",
                    goal=4.5 if name in ("next --json", "status --json", "show --json") else None,
                    goal_on="value",
                )


if __name__ == "__main__":
    main()
