"""One result line per measure, so `make bench` can gather every benchmark into one table.

A benchmark prints its own report for people, and for each measure with a goal one line

    BENCH {"measure": ..., "ours": ..., "baseline": ..., "unit": ..., "ratio": ..., "goal": ..., "met": ...}

`run_all.py` runs every `bench_*.py` (with `--quick`), collects these lines and prints the
summary table. Benchmarks import this file as a sibling module (`import result_line`).
"""

from __future__ import annotations

import json
from typing import Literal

__all__ = ["PREFIX", "result"]

PREFIX = "BENCH "


def result(
    measure: str,
    ours: float,
    unit: str,
    *,
    baseline: float | None = None,
    better: Literal["higher", "lower"] = "higher",
    goal: float | None = None,
    goal_on: Literal["ratio", "value"] = "ratio",
    note: str = "",
) -> bool | None:
    """Print one result line; return whether the goal was met (None: no goal).

    `ratio` is how many times better ours is than the baseline (above 1: ours is better,
    whichever way `better` points). The goal applies to the ratio (`>= goal`x) or to the
    value itself (`>= goal` when higher is better, `<= goal` when lower is).
    """
    ratio = None
    if baseline:
        ratio = ours / baseline if better == "higher" else baseline / ours if ours else None
    met: bool | None = None
    goal_text = ""
    if goal is not None:
        if goal_on == "ratio":
            met = ratio is not None and ratio >= goal
            goal_text = f">= {goal:g}x"
        elif better == "higher":
            met = ours >= goal
            goal_text = f">= {goal:g} {unit}"
        else:
            met = ours <= goal
            goal_text = f"<= {goal:g} {unit}"
    row = {
        "measure": measure,
        "ours": round(ours, 4),
        "baseline": None if baseline is None else round(baseline, 4),
        "unit": unit,
        "ratio": None if ratio is None else round(ratio, 3),
        "goal": goal_text,
        "met": met,
        "note": note,
    }
    print(PREFIX + json.dumps(row, ensure_ascii=False), flush=True)
    return met
