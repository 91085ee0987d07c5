"""`leakage`: exact and near-duplicate overlap between two files (say train and test).

Exact overlap: rows of B whose canonical key is also a row of A. Near overlap: rows of B
with an LSH candidate in A whose exact shingle Jaccard reaches the threshold, and no exact
twin. Counts are of B rows, so `exact + near` is how much of B was already seen in A.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from sprintboard.tools.chat_rows import Format
from sprintboard.tools.corpus_scan import require_inputs
from sprintboard.tools.engine import Engine
from sprintboard.tools.fingerprint import (
    Fingerprints,
    fingerprint_files,
    verify_pairs,
)
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.near_dup import MinHasher, MinHashParams, candidate_pairs, min_hasher
from sprintboard.tools.registry import register

__all__ = ["LeakPair", "LeakageConfig", "LeakageReport", "leakage"]

VERSION = "1"


class LeakageConfig(BaseModel, frozen=True, extra="forbid"):
    """The two files and how near counts as leaked."""

    a: Path
    """The reference file (e.g. train.jsonl)."""
    b: Path
    """The file checked against it (e.g. test.jsonl)."""
    out_dir: Path | None = None
    """Where the report and manifest go; default: a `leakage/` folder beside B."""
    format: Format | None = None
    near: bool = True
    near_threshold: float = Field(0.8, gt=0, le=1)
    bands: int = Field(14, ge=1)
    band_rows: int = Field(8, ge=1)
    shingle: int = Field(5, ge=1)
    max_examples: int = Field(20, ge=0)


class LeakPair(BaseModel, frozen=True, extra="forbid"):
    """A row of B and the row of A it repeats."""

    kind: Literal["exact", "near"]
    a_line: int
    b_line: int
    similarity: float


class LeakageReport(BaseModel, frozen=True, extra="forbid"):
    """How many rows of B also occur (exactly or nearly) in A; `ok` when none do."""

    ok: bool
    a_rows: int
    b_rows: int
    exact: int
    near: int
    examples: list[LeakPair]
    report: str
    manifest: str


def leakage(
    config: LeakageConfig, *, engine: Engine | None = None, show_progress: bool = False
) -> LeakageReport:
    """Report exact and near-duplicate overlap of file B with file A.

    `engine` runs the per-range fingerprinting (default: worker processes on every core).

    Raises:
        ToolError: a missing input.
    """
    started = time.perf_counter()
    require_inputs("leakage", (config.a, config.b))
    params = MinHashParams(config.bands, config.band_rows, config.shingle)
    hasher = min_hasher(params) if config.near else None
    minhash = params if config.near else None
    fps = fingerprint_files(
        "leakage", [config.a, config.b], config.format, minhash, engine, show_progress
    )
    in_a = fps.src == 0
    exact_b, pairs = _exact_pairs(fps, in_a)
    near_b: set[int] = set()
    if hasher is not None:
        near_b, near_pairs = _near_pairs(fps, hasher, in_a, exact_b, config.near_threshold)
        pairs += near_pairs
    out_dir = config.out_dir or config.b.parent / "leakage"
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = out_dir / "leakage.json"
    manifest_path = out_dir / "leakage.manifest.json"
    pairs.sort(key=lambda p: (p.b_line, p.kind))
    report = LeakageReport(
        ok=not exact_b and not near_b,
        a_rows=int(in_a.sum()),
        b_rows=int((~in_a).sum()),
        exact=len(exact_b),
        near=len(near_b),
        examples=pairs[: config.max_examples],
        report=str(report_path),
        manifest=str(manifest_path),
    )
    report_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    write_manifest(
        manifest_path,
        Manifest(
            tool="leakage",
            version=VERSION,
            inputs=fps.inputs,
            config=config.model_dump(mode="json"),
            counts={
                "a_rows": report.a_rows,
                "b_rows": report.b_rows,
                "exact": report.exact,
                "near": report.near,
            },
            timings={"total": round(time.perf_counter() - started, 4)},
            engine=engine.name if engine is not None else "local",
            extra={"pairs": [p.model_dump() for p in pairs]},
        ),
    )
    return report


def _exact_pairs(fps: Fingerprints, in_a: npt.NDArray[np.bool_]) -> tuple[set[int], list[LeakPair]]:
    """B's rows whose key is also an A row's, each paired with the first such A row."""
    a_keys: dict[tuple[int, int], int] = {}
    for row in np.flatnonzero(in_a).tolist():
        a_keys.setdefault((int(fps.key_hi[row]), int(fps.key_lo[row])), row)
    pairs: list[LeakPair] = []
    exact_b: set[int] = set()
    for row in np.flatnonzero(~in_a).tolist():
        hit = a_keys.get((int(fps.key_hi[row]), int(fps.key_lo[row])))
        if hit is not None:
            exact_b.add(row)
            pairs.append(_pair("exact", fps, hit, row, 1.0))
    return exact_b, pairs


def _near_pairs(
    fps: Fingerprints,
    hasher: MinHasher,
    in_a: npt.NDArray[np.bool_],
    exact_b: set[int],
    threshold: float,
) -> tuple[set[int], list[LeakPair]]:
    """B's rows (not already exact leaks) near an A row: LSH candidates, verified; the first
    verified A row per B row."""
    cands = candidate_pairs(fps.bands, fps.has_shingles)
    # Row ids of A come first, so a crossing pair is (A row, B row).
    crossing = cands[in_a[cands[:, 0]] & ~in_a[cands[:, 1]]]
    crossing = (
        crossing[[int(j) not in exact_b for j in crossing[:, 1]]] if len(crossing) else crossing
    )
    near_b: set[int] = set()
    pairs: list[LeakPair] = []
    for i, j, sim in verify_pairs(fps, hasher, crossing, threshold):
        if j not in near_b:
            near_b.add(j)
            pairs.append(_pair("near", fps, i, j, sim or 0.0))
    return near_b, pairs


def _pair(
    kind: Literal["exact", "near"], fps: Fingerprints, a: int, b: int, sim: float
) -> LeakPair:
    return LeakPair(kind=kind, a_line=int(fps.line[a]), b_line=int(fps.line[b]), similarity=sim)


# Registered by call, not as a decorator, so `leakage` keeps its typed signature for callers.
register("leakage", config=LeakageConfig, report=LeakageReport)(leakage)
