"""Run every benchmark in this folder and print one summary table (what `make bench` does).

Each `bench_*.py` runs in its own process with `--quick` (sizes that fit in a few minutes
altogether); its own report streams through as it runs, and its `BENCH {...}` lines (see
`result_line.py`) are gathered into the table at the end: measure, ours, baseline, ratio,
goal, met or not. A benchmark that fails or prints no result line shows up in the table
too, so nothing is dropped silently.

    .venv/bin/python benchmarks/run_all.py            # every benchmark, --quick
    .venv/bin/python benchmarks/run_all.py dataset a2a --full-size
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from result_line import PREFIX

HERE = Path(__file__).resolve().parent


def run(script: Path, quick: bool) -> tuple[list[dict[str, object]], str]:
    """Run one benchmark, echoing its output; return its result rows and how it ended."""
    args = [sys.executable, str(script)] + (["--quick"] if quick else [])
    print(f"\n== {script.name} {' '.join(args[2:])}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    assert proc.stdout is not None
    rows: list[dict[str, object]] = []
    last = ""
    for line in proc.stdout:
        if line.strip() and not line.startswith(PREFIX):
            last = line.strip()
        if line.startswith(PREFIX):
            row = json.loads(line[len(PREFIX) :])
            row["bench"] = script.stem.removeprefix("bench_")
            rows.append(row)
        else:
            print(line, end="", flush=True)
    code = proc.wait()
    took = f"{time.perf_counter() - started:.0f}s"
    ended = (f"exit {code}" if code else "ok") + f", {took}"
    return rows, ended if rows else f"{ended}: {last[:70]}"


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict[str, object]]) -> str:
    """The summary table: one row per measure, goals and whether they were met."""
    head = ["bench", "measure", "ours", "baseline", "unit", "ratio", "goal", "met"]
    body = []
    for row in rows:
        met = row.get("met")
        body.append(
            [
                str(row.get("bench", "")),
                str(row.get("measure", "")),
                _fmt(row.get("ours")),
                _fmt(row.get("baseline")),
                str(row.get("unit", "")),
                "-" if row.get("ratio") is None else f"{row['ratio']:.2f}x",
                str(row.get("goal") or "-"),
                "-" if met is None else "yes" if met else "NO",
            ]
        )
    widths = [
        max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="benchmark names (e.g. dataset a2a); default all")
    parser.add_argument("--full-size", action="store_true", help="each benchmark's default size")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    rows: list[dict[str, object]] = []
    failed = []
    for script in scripts:
        found, ended = run(script, quick=not args.full_size)
        if not found or not ended.startswith("ok"):
            rows.append({"bench": script.stem.removeprefix("bench_"), "measure": f"({ended})"})
            if not ended.startswith("ok"):
                failed.append(script.name)
        rows += found
    print("\n== summary (ratio: how many times better than the baseline)")
    print(table(rows))
    missed = [r for r in rows if r.get("met") is False]
    print(f"\n{len(rows)} measures, {len(missed)} goals not met, {len(failed)} benchmarks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
