"""`split`: seeded train/valid/test files as mlx-lm reads them, with no duplicate straddling splits.

Rows are grouped first: exact duplicates (same canonical key) and near-duplicate clusters
(MinHash + LSH, verified by exact Jaccard) form one group each. Groups, not rows, are
shuffled with the seed and dealt to the split that is furthest below its target, so a
group lands whole in one split and no valid/test row has a twin in train.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field, field_validator

from sprintboard.errors import ToolError
from sprintboard.files import FileRef
from sprintboard.tools.chat_rows import Format
from sprintboard.tools.corpus_scan import require_inputs
from sprintboard.tools.engine import Engine
from sprintboard.tools.fingerprint import (
    Fingerprints,
    fingerprint_files,
    near_pairs,
)
from sprintboard.tools.jsonl_stream import iter_batches
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.near_dup import MinHashParams, cluster_pairs, min_hasher
from sprintboard.tools.output_files import HashingWriter
from sprintboard.tools.registry import register
from sprintboard.tools.row_scan import reject_record

__all__ = ["SPLIT_NAMES", "SplitConfig", "SplitReport", "duplicate_groups", "split"]

VERSION = "1"
SPLIT_NAMES = ("train", "valid", "test")


class SplitConfig(BaseModel, frozen=True, extra="forbid"):
    """Inputs, ratios, seed and the batch size each split must hold."""

    inputs: list[Path] = Field(min_length=1)
    out_dir: Path
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """train, valid, test; normalised; a 0 leaves that file out (mlx-lm needs train and valid)."""
    seed: int = 0
    batch_size: int = Field(4, ge=1)
    """Every written split must hold at least this many rows (mlx-lm's training batch)."""
    format: Format | None = None
    near: bool = True
    """Keep near-duplicate clusters in one split (exact duplicates always are)."""
    near_threshold: float = Field(0.8, gt=0, le=1)
    bands: int = Field(14, ge=1)
    band_rows: int = Field(8, ge=1)
    shingle: int = Field(5, ge=1)

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(r < 0 for r in value) or value[0] <= 0 or sum(value) <= 0:
            raise ValueError("ratios are train, valid, test >= 0 with train > 0")
        return value


class SplitReport(BaseModel, frozen=True, extra="forbid"):
    """Rows per split, how many duplicate groups were kept together, what was rejected."""

    rows: int
    rejected: int
    groups: int
    duplicate_groups: int
    """Groups of more than one row (exact or near duplicates), each kept in one split."""
    splits: dict[str, int]
    outputs: list[str]
    manifest: str


def duplicate_groups(fps: Fingerprints, pairs: list[tuple[int, int]]) -> npt.NDArray[np.int64]:
    """Group id (the smallest row id in the group) of every row, joining exact-key twins and `pairs`."""
    keys = np.stack((fps.key_hi, fps.key_lo), axis=1)
    links: list[tuple[int, int]] = list(pairs)
    if len(keys):
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        firsts = first[inverse.ravel()]
        twins = np.flatnonzero(firsts != np.arange(len(keys)))
        links += [(int(firsts[t]), int(t)) for t in twins]
    group = np.arange(len(fps), dtype=np.int64)
    for root, members in cluster_pairs(links).items():
        group[members] = root
    return group


def _deal(
    groups: npt.NDArray[np.int64], ratios: tuple[float, ...], seed: int
) -> npt.NDArray[np.int8]:
    """Split index per row: shuffled groups, each to the split furthest below its target."""
    ids, sizes = np.unique(groups, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(ids))
    total = sum(ratios)
    targets = [len(groups) * r / total for r in ratios]
    filled = [0.0] * len(ratios)
    split_of_group = np.zeros(len(ids), dtype=np.int8)
    for g in order.tolist():
        deficits = [
            (targets[s] - filled[s]) if ratios[s] > 0 else -np.inf for s in range(len(ratios))
        ]
        best = int(np.argmax(deficits))
        split_of_group[g] = best
        filled[best] += int(sizes[g])
    index = np.searchsorted(ids, groups)
    return split_of_group[index]


def split(
    config: SplitConfig, *, engine: Engine | None = None, show_progress: bool = False
) -> SplitReport:
    """Write train/valid/test JSONL (seeded), never splitting a duplicate group across files.

    `engine` runs the per-range fingerprinting (default: worker processes on every core
    here); the split is the same whichever engine ran it.

    Raises:
        ToolError: a missing input, or a split that would hold fewer rows than `batch_size`.
    """
    started = time.perf_counter()
    require_inputs("split", config.inputs)
    params = MinHashParams(config.bands, config.band_rows, config.shingle)
    hasher = min_hasher(params) if config.near else None
    minhash = params if config.near else None
    fps = fingerprint_files("split", config.inputs, config.format, minhash, engine, show_progress)
    pairs = [(i, j) for i, j, _ in near_pairs(fps, hasher, config.near_threshold)] if hasher else []
    groups = duplicate_groups(fps, pairs)
    split_of = _deal(groups, config.ratios, config.seed)
    counts = {name: int((split_of == s).sum()) for s, name in enumerate(SPLIT_NAMES)}
    _refuse_small(config, counts)
    used = [s for s in range(3) if config.ratios[s] > 0]
    outputs = _write_splits(config, fps, split_of, used)
    manifest_path = config.out_dir / "split.manifest.json"
    report = SplitReport(
        rows=len(fps) + len(fps.rejected),
        rejected=len(fps.rejected),
        groups=len(np.unique(groups)),
        duplicate_groups=int((np.unique(groups, return_counts=True)[1] > 1).sum()),
        splits={SPLIT_NAMES[s]: counts[SPLIT_NAMES[s]] for s in used},
        outputs=[o.path for o in outputs],
        manifest=str(manifest_path),
    )
    write_manifest(
        manifest_path,
        Manifest(
            tool="split",
            version=VERSION,
            inputs=fps.inputs,
            outputs=outputs,
            config=config.model_dump(mode="json"),
            counts={"rows": report.rows, "rejected": report.rejected, **report.splits},
            timings={"total": round(time.perf_counter() - started, 4)},
            engine=engine.name if engine is not None else "local",
        ),
    )
    return report


def _refuse_small(config: SplitConfig, counts: dict[str, int]) -> None:
    """Refuse, before writing anything, a split that would hold fewer rows than a batch."""
    for s, name in enumerate(SPLIT_NAMES):
        if config.ratios[s] > 0 and counts[name] < config.batch_size:
            raise ToolError(
                "split",
                f"{name}.jsonl would hold {counts[name]} rows, fewer than the batch size "
                f"{config.batch_size}; add rows, raise its ratio or lower --batch-size. Nothing was written.",
            )


def _write_splits(
    config: SplitConfig, fps: Fingerprints, split_of: npt.NDArray[np.int8], used: list[int]
) -> list[FileRef]:
    """Each input row into its split's file (in input order), rejects into rejects.jsonl;
    every file is dropped, never left half-written, if any write fails."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    writers = {s: HashingWriter(config.out_dir / f"{SPLIT_NAMES[s]}.jsonl") for s in used}
    rejects = HashingWriter(config.out_dir / "rejects.jsonl")
    try:
        for source, line, problems, raw in fps.rejected:
            rejects.write_line(reject_record(str(config.inputs[source]), line, problems, raw))
        for source, path in enumerate(config.inputs):
            mine = fps.src == source
            lines, where = fps.line[mine], split_of[mine]
            for batch in iter_batches(path):
                lo = np.searchsorted(lines, batch.first_line)
                hi = np.searchsorted(lines, batch.first_line + len(batch.lines))
                for line, s in zip(lines[lo:hi].tolist(), where[lo:hi].tolist(), strict=True):
                    writers[s].write_line(batch.lines[line - batch.first_line])
    except BaseException:
        for w in [*writers.values(), rejects]:
            w.abort()
        raise
    return [writers[s].commit() for s in used] + [rejects.commit()]


# Registered by call, not as a decorator, so `split` keeps its typed signature for callers.
register("split", config=SplitConfig, report=SplitReport)(split)
