"""Dataset tools speed (issue 23): audit + exact dedup against a hand-written script, near-dup.

Generates a chat JSONL corpus (~1.4 KB multi-turn rows, some non-ASCII text, ~8 % exact
duplicates written with keys reordered and other spacing/escaping, ~3 % faulty rows, ~4 %
near duplicates with a word or two changed), then runs each variant in a fresh process,
interleaved, and reports medians of wall time:

  script     the hand-written stdlib script below (`SCRIPT`), pinned to one core
  exact-1    the `dedup` tool (exact) with 1 worker, pinned to one core
  exact-N    the same with every core (N workers, N = cores here)
  near-1     `dedup` with near-duplicates, 1 worker, pinned (MinHash 14x8 + LSH + verification)
  near-N     the same on every core
  cli-1/-N   `sprintboard tools dedup IN --out DIR --workers 1|N`, whole process

The goals are on the run itself, end to end with every output written and fsynced: the
timer starts after the imports and stops when the tool returns (the worker pool's start
counted in); the script is timed the same way (from its first line to its last). The `cli`
rows add what a user also waits for: the interpreter and the CLI's imports.

The tool audits every row (rejects.jsonl with file:line and reasons), drops duplicates
(dropped.jsonl names each keeper), writes and fsyncs its outputs and a manifest with
sha256s; the script only writes the rows it keeps. Both read and write in the same folder
(/dev/shm when there is one, so disk speed does not blur the comparison). Checks: the tool
keeps exactly the script's rows, and every output is the same bytes for 1 and N workers.
Peer: datasketch (MinHash + MinHashLSH, 112 permutations) on a slice of the corpus, when
installed (`uv pip install datasketch`; not a dependency).

    .venv/bin/python benchmarks/bench_dataset.py            # 80 MB, 5 repeats
    .venv/bin/python benchmarks/bench_dataset.py --quick    # 16 MB, 2 repeats (make bench)
    .venv/bin/python benchmarks/bench_dataset.py --full     # also 1 GB once (peak memory)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
from result_line import result

# The hand-written script the issue measures against, verbatim: what a user would write.
SCRIPT = """\
import hashlib, json, sys

seen = set()
with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in src:
        try:
            messages = json.loads(line)["messages"]
        except (ValueError, KeyError, TypeError):
            continue
        if messages and messages[0].get("role") == "system":
            messages = messages[1:]
        roles = [m.get("role") for m in messages]
        if len(messages) < 2 or roles != ["user", "assistant"] * (len(roles) // 2) + ["user"] * (len(roles) % 2):
            continue
        if not str(messages[-1].get("content") or "").strip():
            continue
        key = hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).digest()
        if key not in seen:
            seen.add(key)
            out.write(line)
"""

GOALS = {"one_core": 1.4, "all_cores": 2.2, "near_rows_s": 20_000.0, "near_scaling": 1.5}
GOALS |= {"recall": 0.99, "rss_1gb_mb": 500.0}


def generate(path: Path, target_bytes: int, seed: int = 0) -> dict[str, object]:
    """Write the corpus; return its row count and the planted near pairs (original, copy)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, int(n))) for n in rng.integers(2, 11, 30_000)]
    extra = list("éüñçøåßλжя中文字😀")  # ~1 word in 20 carries an accent, CJK or an emoji
    for i in rng.choice(len(vocab), len(vocab) // 20, replace=False):
        vocab[i] += extra[int(rng.integers(len(extra)))]
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.8
    cdf = np.cumsum(weights / weights.sum())
    vocab_arr = np.array(vocab)

    def words(n: int) -> str:
        return " ".join(vocab_arr[np.searchsorted(cdf, rng.random(n))].tolist())

    systems = ["You are a helpful assistant.", "Answer briefly.", "You are a careful tutor."]
    originals: list[tuple[list[dict[str, str]], int]] = []
    near_pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    written = line = 0
    with path.open("wb") as fh:
        while written < target_bytes:
            line += 1
            roll = rng.random()
            if roll < 0.08 and len(originals) > 10:  # exact duplicate, written another way
                msgs = originals[int(rng.integers(len(originals)))][0]
                how = int(rng.integers(3))
                if how == 0:
                    row = {"messages": [{"content": m["content"], "role": m["role"]} for m in msgs]}
                    data = json.dumps(row, ensure_ascii=False).encode()
                elif how == 1:
                    data = json.dumps({"messages": msgs}, ensure_ascii=True).encode()
                else:
                    data = orjson.dumps({"messages": msgs})
            elif roll < 0.11:  # faulty: cut short, roles out of order, empty answer, one turn
                msgs = [
                    {"role": "user", "content": words(20)},
                    {"role": "assistant", "content": words(60)},
                ]
                fault = int(rng.integers(4))
                if fault == 1:
                    msgs[1]["role"] = "user"
                elif fault == 2:
                    msgs[1]["content"] = " "
                elif fault == 3:
                    msgs = msgs[:1]
                text = json.dumps({"messages": msgs}, ensure_ascii=False)
                data = (text[:-9] if fault == 0 else text).encode()
            elif roll < 0.15 and len(originals) > 10:  # near duplicate: a word or two changed
                index = int(rng.integers(len(originals)))
                while index in used:
                    index = int(rng.integers(len(originals)))
                used.add(index)
                msgs = [dict(m) for m in originals[index][0]]
                text = msgs[-1]["content"].split()
                for _ in range(int(rng.integers(1, 3))):
                    text[int(rng.integers(len(text)))] = "changed"
                msgs[-1]["content"] = " ".join(text)
                data = json.dumps({"messages": msgs}, ensure_ascii=False).encode()
                near_pairs.append((originals[index][1], line))
            else:
                msgs = []
                if rng.random() < 0.5:
                    msgs.append({"role": "system", "content": systems[int(rng.integers(3))]})
                for _ in range(int(rng.integers(1, 4))):
                    msgs.append({"role": "user", "content": words(int(rng.integers(8, 25))) + "?"})
                    msgs.append(
                        {"role": "assistant", "content": words(int(rng.integers(30, 90))) + "."}
                    )
                data = json.dumps({"messages": msgs}, ensure_ascii=False).encode()
                originals.append((msgs, line))
            fh.write(data + b"\n")
            written += len(data) + 1
    return {"rows": line, "near_pairs": near_pairs}


def run_timed(cmd: list[str], pin: bool) -> tuple[float, float, float]:
    """Whole-process wall seconds, then the run's seconds and peak RSS (MB, the largest
    process) as the child reported them (a CLI run reports none: whole process, and RSS
    unknown); `pin` keeps it, workers included, on the first core."""
    first_core = {sorted(os.sched_getaffinity(0))[0]}

    def pin_to_one() -> None:
        os.sched_setaffinity(0, first_core)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, env=env, preexec_fn=pin_to_one if pin else None)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-500:]!r}")
    try:
        said = json.loads(done.stdout.decode().strip().splitlines()[-1])
        return wall, float(said["seconds"]), float(said["rss_mb"])
    except (ValueError, IndexError, KeyError, TypeError):
        return wall, wall, float("nan")


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, workers: int, path: Path, out: Path) -> None:
    """One timed run in this fresh process; prints its seconds (imports not counted)."""
    if mode == "script":
        code = compile(SCRIPT, "script.py", "exec")
        sys.argv = ["script.py", str(path), str(out)]
        start = time.perf_counter()
        exec(code, {"__name__": "__main__"})
        print(json.dumps({"seconds": time.perf_counter() - start, "rss_mb": _peak_rss_mb()}))
        return
    from sprintboard.tools.dedup import DedupConfig, dedup
    from sprintboard.tools.engine import LocalEngine

    if mode == "near":
        import sprintboard.tools.fingerprint  # noqa: F401  (numpy: an import, not the run)
    config = DedupConfig(inputs=[path], out_dir=out, near=mode == "near")
    start = time.perf_counter()
    with LocalEngine(workers) as engine:
        dedup(config, engine=engine)
    seconds = time.perf_counter() - start
    # Workers are forked (never exec'd), so their ru_maxrss is their own peak.
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": max(_peak_rss_mb(), workers_mb)}))


def outputs(folder: Path) -> dict[str, object]:
    """Every output file's bytes; manifests without their timestamps and timings."""
    found: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.name.endswith("manifest.json"):
            text = path.read_text(encoding="utf-8").replace(str(folder), "OUT")
            doc = json.loads(text)
            doc.pop("created"), doc.pop("timings")
            found[path.name] = doc
        else:
            found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def recall(out: Path, planted: list[tuple[int, int]], path: Path) -> tuple[float, int]:
    """Share of planted near pairs with shingle Jaccard > 0.9 that were found, and how many."""
    from sprintboard.tools.chat_rows import joined_text
    from sprintboard.tools.near_dup import MinHasher, jaccard

    lines = path.read_bytes().splitlines()
    hasher = MinHasher()

    def shingles(n: int) -> np.ndarray:
        msgs = orjson.loads(lines[n - 1])["messages"]
        return hasher.shingle_set(joined_text([(m["role"], m["content"]) for m in msgs]))

    strong = {(a, b) for a, b in planted if jaccard(shingles(a), shingles(b)) > 0.9}
    drops = [orjson.loads(x) for x in (out / "dropped.jsonl").read_bytes().splitlines()]
    found = {(d["kept_line"], d["line"]) for d in drops if d["kind"] == "near"}
    return len(strong & found) / max(len(strong), 1), len(strong)


def datasketch_rows_s(path: Path, rows: int) -> float | None:
    """Rows/s of datasketch MinHash + MinHashLSH (112 permutations, 5-word shingles)."""
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        return None
    texts = []
    with path.open("rb") as fh:
        for raw in fh:
            try:
                msgs = orjson.loads(raw)["messages"]
            except orjson.JSONDecodeError:
                continue
            texts.append("\n".join(m["content"] for m in msgs).lower().split())
            if len(texts) >= rows:
                break
    start = time.process_time()
    lsh = MinHashLSH(threshold=0.8, num_perm=112)
    for i, words in enumerate(texts):
        mh = MinHash(num_perm=112)
        mh.update_batch(
            [" ".join(words[k : k + 5]).encode() for k in range(max(1, len(words) - 4))]
        )
        lsh.query(mh)
        lsh.insert(str(i), mh)
    return len(texts) / (time.process_time() - start)


def measure(path: Path, meta: dict[str, object], repeats: int, work: Path, big: bool) -> None:
    size_mb = path.stat().st_size / 1e6
    rows = int(meta["rows"])  # type: ignore[call-overload]
    cores = len(os.sched_getaffinity(0))
    bin_dir = Path(sys.executable).parent
    script = work / "script.py"
    script.write_text(SCRIPT, encoding="utf-8")
    cli = [str(bin_dir / "sprintboard"), "tools", "dedup", str(path), "--json"]
    me = [sys.executable, __file__, "--child"]

    def run(mode: str, workers: int) -> list[str]:
        return [*me, mode, str(workers), str(path), str(work / f"{mode}-{workers}")]

    modes: dict[str, tuple[list[str], bool]] = {
        "script": ([*me, "script", "1", str(path), str(work / "script.out")], True),
        "exact-1": (run("exact", 1), True),
        "exact-N": (run("exact", cores), False),
    }
    if not big:
        modes["near-1"] = (run("near", 1), True)
        modes["near-N"] = (run("near", cores), False)
        modes["cli-1"] = ([*cli, "--out", str(work / "cli-1"), "--workers", "1"], True)
        modes["cli-N"] = ([*cli, "--out", str(work / "cli-N"), "--workers", str(cores)], False)
    print(
        f"\n{path.name}: {size_mb:.0f} MB, {rows} rows, {cores} cores, {repeats} interleaved repeats"
    )
    walls: dict[str, list[float]] = {m: [] for m in modes}
    runs: dict[str, list[float]] = {m: [] for m in modes}
    rss: dict[str, float] = {}
    for _ in range(repeats):
        for mode, (cmd, pin) in modes.items():
            wall, inner, peak = run_timed(cmd, pin)
            walls[mode].append(wall)
            runs[mode].append(inner)
            rss[mode] = max(rss.get(mode, 0.0), peak) if peak == peak else peak  # nan: unknown
    med = {m: statistics.median(w) for m, w in runs.items()}
    best = {m: min(w) for m, w in runs.items()}
    whole = {m: statistics.median(w) for m, w in walls.items()}
    print("medians (min: the least disturbed run; this machine is shared, so both are shown)")
    print(
        f"{'variant':<9} {'run s':>7} {'MB/s':>6} {'rows/s':>8} {'x script':>8} {'min x':>6}"
        f" {'process s':>9} {'x script':>8} {'peak RSS MB':>11}"
    )
    for mode in modes:
        print(
            f"{mode:<9} {med[mode]:>7.3f} {size_mb / med[mode]:>6.0f} {rows / med[mode]:>8.0f}"
            f" {med['script'] / med[mode]:>8.2f} {best['script'] / best[mode]:>6.2f}"
            f" {whole[mode]:>9.3f} {whole['script'] / whole[mode]:>8.2f} {rss[mode]:>11.0f}"
        )
    same_workers = outputs(work / "exact-1") == outputs(work / f"exact-{cores}")
    kept = hashlib.sha256((work / "exact-1" / f"{path.stem}.dedup.jsonl").read_bytes())
    same_rows = kept.hexdigest() == hashlib.sha256((work / "script.out").read_bytes()).hexdigest()
    print(f"outputs the same bytes for 1 and {cores} workers: {same_workers}")
    print(f"kept rows the same bytes as the script's: {same_rows}")
    if not (same_workers and same_rows):
        raise SystemExit("outputs differ: the speed numbers above do not count")
    tag = " 1 GB" if big else ""
    result(
        f"audit+exact dedup{tag}, 1 core (run, outputs written)",
        med["exact-1"],
        "s",
        baseline=med["script"],
        better="lower",
        goal=GOALS["one_core"],
        note="baseline: hand-written stdlib script, 1 core",
    )
    result(
        f"audit+exact dedup{tag}, {cores} cores (run, outputs written)",
        med["exact-N"],
        "s",
        baseline=med["script"],
        better="lower",
        goal=GOALS["all_cores"],
        note="baseline: the same script (it uses one core)",
    )
    if "cli-1" in whole:
        for mode, label in (("cli-1", "1 core"), ("cli-N", f"{cores} cores")):
            result(
                f"sprintboard tools dedup, {label} (whole process, start-up included)",
                whole[mode],
                "s",
                baseline=whole["script"],
                better="lower",
                note="information: the goals are on the run itself",
            )
    if big:
        peak = max(rss["exact-1"], rss["exact-N"])
        result(
            "peak RSS on 1 GB, largest process",
            peak,
            "MB",
            better="lower",
            goal=GOALS["rss_1gb_mb"],
            goal_on="value",
        )
        return
    result(
        "peak RSS, largest process (exact)",
        max(rss["exact-1"], rss["exact-N"]),
        "MB",
        better="lower",
    )
    near_1, near_n = rows / med["near-1"], rows / med["near-N"]
    result(
        "near-dup rows/s, 1 core (run)",
        near_1,
        "rows/s",
        better="higher",
        goal=GOALS["near_rows_s"],
        goal_on="value",
    )
    result(
        f"near-dup rows/s, {cores} cores vs 1",
        near_n,
        "rows/s",
        baseline=near_1,
        goal=GOALS["near_scaling"] if cores > 1 else None,
    )
    rec, strong = recall(work / f"near-{cores}", meta["near_pairs"], path)  # type: ignore[arg-type]
    print(f"near-dup recall over {strong} planted pairs with Jaccard > 0.9: {rec:.4f}")
    result("near-dup recall (planted pairs)", rec, "", goal=GOALS["recall"], goal_on="value")
    peer = datasketch_rows_s(path, 3000)
    if peer is None:
        print("peer datasketch: not installed (uv pip install datasketch), skipped")
    else:
        print(f"peer datasketch MinHash+LSH (in process, cpu): {peer:,.0f} rows/s")
        result("near-dup rows/s vs datasketch (peer)", near_1, "rows/s", baseline=peer)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="16 MB, 2 repeats (make bench)")
    parser.add_argument("--full", action="store_true", help="also a 1 GB input, once")
    parser.add_argument("--mb", type=int, default=None, help="size of the main input in MB")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, workers, path, out = args.child
        child(mode, int(workers), Path(path), Path(out))
        return
    mb = args.mb or (16 if args.quick else 80)
    repeats = args.repeats or (2 if args.quick else 5)
    where = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="bench-dataset-", dir=where) as tmp:
        work = Path(tmp)
        path = work / f"chat_{mb}mb.jsonl"
        started = time.perf_counter()
        meta = generate(path, mb * 1_000_000)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f}s in {work}")
        measure(path, meta, repeats, work, big=False)
        if args.full:
            path.unlink()
            big = work / "chat_1000mb.jsonl"
            measure(big, generate(big, 1_000_000_000, seed=1), 1, work, big=True)


if __name__ == "__main__":
    main()
