"""Dataset tools on Dask (issue 26): rows/s local vs Dask with 1 and 2 workers, cluster start.

The corpus is bench_dataset's (chat rows with faults, exact and near duplicates). Each
variant runs in a fresh process, interleaved with the others, and reports medians of:

  start   making the engine: a worker pool here, a LocalCluster of N processes for Dask
  exact   `dedup` exact (every row audited, duplicates dropped, outputs written), rows/s
  near    `dedup --near` (MinHash + LSH + verification), rows/s

for local-1, local-2, dask-1 and dask-2. Every variant's outputs must be the same bytes
(manifests apart from timings and the engine's name), or the numbers do not count.

On one machine Dask is slower, and this benchmark shows by how much: a LocalCluster starts
a scheduler, a nanny and a fresh (spawned) interpreter per worker that imports the scan
code, against a forked pool that starts with every module loaded; and dedup on Dask is a
shuffle of several stages (scan, key partitions, keeper decisions, band and pair
partitions, per-range part files, joins), each a round of tasks through the scheduler,
where the local pass merges in one process. What it buys is the same per-range code on a
cluster of many machines (`--scheduler`): no table of every key in one process, the scan
spread over every worker, and lost workers replaced with their work redone.

    .venv/bin/python benchmarks/bench_dask.py            # 40 MB, 3 repeats
    .venv/bin/python benchmarks/bench_dask.py --quick    # 8 MB, 2 repeats (make bench)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_dataset import generate, outputs
from result_line import result

VARIANTS = [("local", 1), ("local", 2), ("dask", 1), ("dask", 2)]


def child(engine_name: str, workers: int, path: Path, out: Path) -> None:
    """Time one variant in this fresh process and print its seconds as JSON."""
    from sprintboard.tools.dedup import DedupConfig, dedup
    from sprintboard.tools.engine import open_engine

    t0 = time.perf_counter()
    engine = open_engine(engine_name, workers)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    dedup(DedupConfig(inputs=[path], out_dir=out / "exact"), engine=engine)
    t2 = time.perf_counter()
    dedup(DedupConfig(inputs=[path], out_dir=out / "near", near=True), engine=engine)
    t3 = time.perf_counter()
    engine.close()
    print(json.dumps({"start": t1 - t0, "exact": t2 - t1, "near": t3 - t2}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="8 MB, 2 repeats (make bench)")
    parser.add_argument("--mb", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, workers, path, out = args.child
        child(name, int(workers), Path(path), Path(out))
        return
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("skip: dask is not installed (pip install 'sprintboard[dask]')")
        return
    mb = args.mb or (8 if args.quick else 40)
    repeats = args.repeats or (2 if args.quick else 3)
    where = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="bench-dask-", dir=where) as tmp:
        work = Path(tmp)
        path = work / f"chat_{mb}mb.jsonl"
        rows = int(generate(path, mb * 1_000_000)["rows"])  # type: ignore[call-overload]
        print(f"{path.name}: {rows} rows, {os.cpu_count()} cores, {repeats} interleaved repeats")
        times: dict[str, dict[str, list[float]]] = {}
        for _ in range(repeats):
            for name, workers in VARIANTS:
                label = f"{name}-{workers}"
                cmd = [sys.executable, __file__, "--child", name, str(workers), str(path)]
                done = subprocess.run(
                    [*cmd, str(work / label)], capture_output=True, text=True, check=True
                )
                got = json.loads(done.stdout.strip().splitlines()[-1])
                for key, seconds in got.items():
                    times.setdefault(label, {}).setdefault(key, []).append(seconds)
        first = None
        for name, workers in VARIANTS:
            for tool in ("exact", "near"):
                found = outputs(work / f"{name}-{workers}" / tool)
                for doc in found.values():
                    if isinstance(doc, dict):
                        doc.pop("engine", None)
                found = {k: v for k, v in found.items()}
                if first is None:
                    first = {}
                first.setdefault(tool, found)
                if first[tool] != found:
                    raise SystemExit(f"{name}-{workers} {tool}: outputs differ from local-1")
        print("outputs the same bytes for every variant: True")
        med = {v: {k: statistics.median(s) for k, s in t.items()} for v, t in times.items()}
        print(
            f"{'variant':<9} {'start s':>8} {'exact s':>8} {'rows/s':>8} {'near s':>8} {'rows/s':>8}"
        )
        for label, m in med.items():
            print(
                f"{label:<9} {m['start']:>8.3f} {m['exact']:>8.3f} {rows / m['exact']:>8.0f}"
                f" {m['near']:>8.3f} {rows / m['near']:>8.0f}"
            )
        for tool in ("exact", "near"):
            for workers in (1, 2):
                local, dask = med[f"local-{workers}"][tool], med[f"dask-{workers}"][tool]
                result(
                    f"dedup {tool}, dask vs local, {workers} worker{'s' * (workers > 1)}",
                    rows / dask,
                    "rows/s",
                    baseline=rows / local,
                    note="baseline: the local engine, same workers",
                )
        for workers in (1, 2):
            result(
                f"dask LocalCluster start, {workers} worker{'s' * (workers > 1)}",
                med[f"dask-{workers}"]["start"],
                "s",
                baseline=med["local-2"]["start"] if workers > 1 else None,
                better="lower",
                note="baseline: starting the local pool (1 worker: no pool, nothing to start)",
            )


if __name__ == "__main__":
    main()
