"""Dataset tools speed: audit + exact dedup MB/s, near-dup rows/s and recall, peak RSS.

Generates a chat JSONL (~1.4 KB rows of paragraphs with ~5% non-ASCII words, ~10% exact duplicates with key-order/spacing/metadata
changes, ~5% near duplicates with one or two words changed), then runs, interleaved and
each in a fresh process pinned to one core:

  baseline   stdlib json.loads + hashlib.sha256 per line (a set of digests: exact dedup)
  exact      `dedup` tool, exact mode: every row audited and deduplicated in one pass,
             outputs + rejects + dropped + manifest written and fsynced (end to end)
  core       the same one-pass audit + exact-dedup decisions, writing nothing
  audit      `audit` tool alone (no --fix, no PNG)
  near       `dedup --near` end to end (MinHash 14x8 + LSH + exact-Jaccard verification)
  minhash    MinHasher.band_hashes alone over pre-parsed texts (rows/s of the numpy core)

and prints medians and ratios against the baseline. Recall is measured over planted
near-duplicate pairs whose exact shingle Jaccard is above 0.9.

    .venv/bin/python benchmarks/bench_dataset.py            # ~200 MB, 3 repeats
    .venv/bin/python benchmarks/bench_dataset.py --full     # also 1 GB (peak RSS goal)
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

GOALS = {"exact_mb_s": 400.0, "ratio_vs_baseline": 1.4, "near_rows_s": 20_000.0, "recall": 0.99}


def generate(path: Path, target_bytes: int, seed: int = 0) -> dict[str, object]:
    """Write the benchmark file; return the planted near-duplicate pairs (original line, copy line)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, int(n))) for n in rng.integers(2, 11, 30_000)]
    # Real chat data is not pure ASCII: about 1 word in 20 carries an accent, CJK or emoji.
    extra = list("éüñçøåßλжя中文字😀")
    for i in rng.choice(len(vocab), len(vocab) // 20, replace=False):
        vocab[i] += extra[int(rng.integers(len(extra)))]
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.8
    cdf = np.cumsum(weights / weights.sum())
    vocab_arr = np.array(vocab)

    def sentence(n: int) -> str:
        return " ".join(vocab_arr[np.searchsorted(cdf, rng.random(n))].tolist())

    def answer(n: int) -> str:
        # Paragraphs, so contents carry escaped newlines as real answers do.
        cuts = sorted({int(c) for c in rng.integers(20, n, max(1, n // 50))})
        bounds = [0, *cuts, n]
        return "\n\n".join(
            sentence(b - a) for a, b in zip(bounds, bounds[1:], strict=False) if b > a
        )

    systems = ["You are a helpful assistant.", "Answer briefly.", "You are a careful tutor."]
    base: list[tuple[list[dict[str, str]], int]] = []
    """(messages, line) of each original row."""
    near_pairs: list[tuple[int, int]] = []
    written = 0
    line = 0
    used_for_near: set[int] = set()
    with path.open("wb") as fh:
        while written < target_bytes:
            roll = rng.random()
            line += 1
            if roll < 0.10 and len(base) > 10:
                msgs = base[int(rng.integers(len(base)))][0]
                variant = int(rng.integers(3))
                if variant == 0:  # same conversation, keys in another order
                    out: dict[str, object] = {
                        "messages": [{"content": m["content"], "role": m["role"]} for m in msgs]
                    }
                elif variant == 1:  # padded contents
                    out = {"messages": [{**m, "content": f" {m['content']}\n"} for m in msgs]}
                else:  # extra metadata
                    out = {"id": line, "messages": msgs}
            elif roll < 0.15 and len(base) > 10:
                index = int(rng.integers(len(base)))
                while index in used_for_near:
                    index = int(rng.integers(len(base)))
                used_for_near.add(index)
                msgs = [dict(m) for m in base[index][0]]
                words = msgs[-1]["content"].split()
                for _ in range(int(rng.integers(1, 3))):
                    words[int(rng.integers(len(words)))] = "changed"
                msgs[-1]["content"] = " ".join(words)
                out = {"messages": msgs}
                near_pairs.append((base[index][1], line))
            else:
                user = sentence(int(rng.integers(20, 50))) + "?"
                reply = answer(int(rng.integers(110, 190))) + "."
                msgs = [
                    {"role": "system", "content": systems[int(rng.integers(3))]},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": reply},
                ]
                out = {"messages": msgs}
                base.append((msgs, line))
            data = orjson.dumps(out) + b"\n"
            fh.write(data)
            written += len(data)
    return {"rows": line, "bytes": written, "near_pairs": near_pairs}


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a
    child would report its parent's peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, path: Path, out: Path) -> None:
    """Run one measurement in this (fresh, one-core) process and print a JSON result."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    result: dict[str, object] = {}
    if mode == "baseline":
        start, cpu_start = time.perf_counter(), time.process_time()
        seen: set[bytes] = set()
        rows = 0
        with path.open("rb") as fh:
            for line in fh:
                json.loads(line)
                seen.add(hashlib.sha256(line).digest())
                rows += 1
        result["seconds"] = time.perf_counter() - start
        result["cpu"] = time.process_time() - cpu_start
    elif mode in ("exact", "near"):
        from sprintboard.tools.dedup import DedupConfig, dedup

        start, cpu_start = time.perf_counter(), time.process_time()
        report = dedup(DedupConfig(inputs=[path], out_dir=out, near=mode == "near"))
        result["seconds"] = time.perf_counter() - start
        result["cpu"] = time.process_time() - cpu_start
        result["rows"] = report.rows
        result["exact_dropped"] = report.exact_dropped
        result["near_dropped"] = report.near_dropped
    elif mode == "core":
        # The one-pass audit + exact-dedup decision itself: no output files, no manifest.
        import xxhash

        from sprintboard.tools.chat_rows import ERROR_REASONS, canonical_key
        from sprintboard.tools.row_scan import FileScan

        errors = frozenset(ERROR_REASONS)
        start, cpu_start = time.perf_counter(), time.process_time()
        kept: dict[int, int] = {}
        dropped = rejected = 0
        for line_no, _raw, turns, problems in FileScan(path):
            if turns is None or (problems and any(r in errors for r, _ in problems)):
                rejected += 1
                continue
            key = xxhash.xxh3_128_intdigest(canonical_key(turns))
            if key in kept:
                dropped += 1
            else:
                kept[key] = line_no
        result["seconds"] = time.perf_counter() - start
        result["cpu"] = time.process_time() - cpu_start
        result["rows"] = line_no
        result["exact_dropped"] = dropped
    elif mode == "audit":
        from sprintboard.tools.audit import AuditConfig, audit

        start, cpu_start = time.perf_counter(), time.process_time()
        areport = audit(AuditConfig(inputs=[path], out_dir=out, plot=False))
        result["seconds"] = time.perf_counter() - start
        result["cpu"] = time.process_time() - cpu_start
        result["rows"] = areport.rows
    elif mode == "minhash":
        from sprintboard.tools.chat_rows import joined_text
        from sprintboard.tools.near_dup import MinHasher

        texts = []
        with path.open("rb") as fh:
            for line in fh:
                texts.append(
                    joined_text([("", m["content"]) for m in orjson.loads(line)["messages"]])
                )
        hasher = MinHasher()
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), 2048):
            hasher.band_hashes(texts[i : i + 2048])
        result["seconds"] = time.perf_counter() - start
        result["cpu"] = time.process_time() - cpu_start
        result["rows"] = len(texts)
    result["maxrss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_child(mode: str, path: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def recall(out: Path, planted: list[tuple[int, int]], path: Path) -> tuple[float, int, int]:
    """(recall over planted pairs with Jaccard > 0.9, their number, near drops not planted)."""
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
    false = len(found - set(planted))
    return len(strong & found) / max(len(strong), 1), len(strong), false


def measure(path: Path, meta: dict[str, object], repeats: int, modes: list[str]) -> None:
    size_mb = path.stat().st_size / 1e6
    print(
        f"\n== {path.name}: {size_mb:.0f} MB, {meta['rows']} rows, repeats={repeats} (interleaved)"
    )
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    rss: dict[str, float] = {}
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-dataset-out-") as tmp:
        for _ in range(repeats):
            for mode in modes:
                res = run_child(mode, path, Path(tmp) / mode)
                times[mode].append(res["seconds"])
                cpu[mode].append(res["cpu"])
                rss[mode] = max(rss.get(mode, 0.0), res["maxrss_mb"])
                rows[mode] = int(res.get("rows", meta["rows"]))  # type: ignore[call-overload]
        if "near" in modes:
            rec, n_strong, false = recall(Path(tmp) / "near", meta["near_pairs"], path)  # type: ignore[arg-type]
    wall = {m: statistics.median(t) for m, t in times.items()}
    med = {m: statistics.median(t) for m, t in cpu.items()}
    base = med.get("baseline")
    print("CPU time of the one-core child (wall clock too: it includes fsync waits and other load)")
    print(
        f"{'variant':<10} {'cpu s':>7} {'MB/s':>6} {'rows/s':>8} {'x base':>7}"
        f" {'wall s':>7} {'wall MB/s':>9} {'peak RSS MB':>12}"
    )
    for mode in modes:
        ratio = f"{base / med[mode]:.2f}" if base else "-"
        print(
            f"{mode:<10} {med[mode]:>7.3f} {size_mb / med[mode]:>6.0f} {rows[mode] / med[mode]:>8.0f}"
            f" {ratio:>7} {wall[mode]:>7.3f} {size_mb / wall[mode]:>9.0f} {rss[mode]:>12.0f}"
        )
    for mode in ("exact", "core"):
        if mode in med and base:
            print(
                f"goal {mode} >= {GOALS['exact_mb_s']:.0f} MB/s: {size_mb / med[mode]:.0f} MB/s cpu "
                f"({size_mb / wall[mode]:.0f} wall); >= {GOALS['ratio_vs_baseline']}x baseline: "
                f"{base / med[mode]:.2f}x"
            )
    if "near" in med:
        print(
            f"goal near >= {GOALS['near_rows_s']:.0f} rows/s: {rows['near'] / med['near']:.0f} rows/s cpu "
            f"({rows['near'] / wall['near']:.0f} wall), end to end; recall {rec:.4f} over {n_strong} "
            f"planted pairs (J>0.9), goal {GOALS['recall']}; near drops not planted: {false}"
        )
    tools = {m: v for m, v in rss.items() if m in ("exact", "core", "audit", "near")}
    print(
        f"peak RSS of the tools (max of {', '.join(tools)}): {max(tools.values()):.0f} MB "
        "(goal < 500 MB on a 1 GB input; `minhash` holds every text in memory by design)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="also run a 1 GB input")
    parser.add_argument("--mb", type=int, default=200, help="size of the main input in MB")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-dataset-") as tmp:
        path = Path(tmp) / f"chat_{args.mb}mb.jsonl"
        started = time.perf_counter()
        meta = generate(path, args.mb * 1_000_000)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f}s")
        measure(path, meta, args.repeats, ["baseline", "exact", "core", "audit", "near", "minhash"])
        if args.full:
            path.unlink()
            big = Path(tmp) / "chat_1000mb.jsonl"
            meta = generate(big, 1_000_000_000, seed=1)
            measure(big, meta, 1, ["baseline", "exact", "core", "near"])


if __name__ == "__main__":
    main()
