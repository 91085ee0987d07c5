"""`mix`: sample named sources to target ratios, seeded, reporting every shortfall.

A source that cannot fill its share is reported short, never silently topped up from
another source; sampling with replacement happens only when `upsample` is set. The
manifest lists the (source, line) of every output row in output order, so the mix can be
rebuilt exactly from the same inputs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field, model_validator

from sprintboard.errors import ToolError
from sprintboard.files import FileRef
from sprintboard.tools.chat_rows import Format
from sprintboard.tools.corpus_scan import scan_inputs
from sprintboard.tools.engine import Engine, engine_scope
from sprintboard.tools.jsonl_stream import iter_batches
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.output_files import HashingWriter
from sprintboard.tools.progress import input_bytes, progress
from sprintboard.tools.registry import register
from sprintboard.tools.row_scan import ScanSpec

__all__ = ["MixConfig", "MixReport", "MixSource", "SourceShare", "mix", "quotas"]

VERSION = "1"


class MixSource(BaseModel, frozen=True, extra="forbid"):
    """One named input and its share of the mix."""

    name: str
    path: Path
    ratio: float = Field(gt=0)
    """Relative weight; weights are normalised over all sources (40/25/20/10/5 works)."""


class MixConfig(BaseModel, frozen=True, extra="forbid"):
    """Sources, target size, seed."""

    sources: list[MixSource] = Field(min_length=1)
    output: Path
    size: int | None = Field(None, gt=0)
    """Rows wanted; None: the largest mix the sources allow at these ratios without replacement."""
    seed: int = 0
    upsample: bool = False
    """Fill a short source by sampling its rows again (with replacement)."""
    format: Format | None = None

    @model_validator(mode="after")
    def _distinct_names(self) -> MixConfig:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be distinct, got {names}")
        return self


class SourceShare(BaseModel, frozen=True, extra="forbid"):
    """What one source was asked for and what it gave."""

    name: str
    path: str
    ratio: float
    available: int
    """Good rows in the source (rows with errors are never mixed in)."""
    rejected: int
    target: int
    taken: int
    """Distinct rows taken."""
    upsampled: int
    """Extra rows drawn again (only with `upsample`)."""
    shortfall: int


class MixReport(BaseModel, frozen=True, extra="forbid"):
    """The mix as built: size, per-source shares and shortfalls."""

    size: int
    target_size: int
    short: bool
    sources: list[SourceShare]
    output: str
    manifest: str


def quotas(ratios: list[float], available: list[int], size: int | None) -> list[int]:
    """Rows per source for `size` (largest-remainder rounding), or the largest size available allows."""
    total = sum(ratios)
    shares = [r / total for r in ratios]
    if size is None:
        size = min(math.floor(a / s + 1e-9) for a, s in zip(available, shares, strict=True))
    exact = [size * s for s in shares]
    out = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(out)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in by_remainder[: size - sum(out)]:
        out[i] += 1
    return out


def mix(
    config: MixConfig, *, engine: Engine | None = None, show_progress: bool = False
) -> MixReport:
    """Mix named sources at target ratios into one JSONL, seeded, with provenance per row.

    `engine` runs the per-range checks (default: worker processes on every core here); the
    mix is the same whichever engine ran them.

    Raises:
        ToolError: a missing source file.
    """
    started = time.perf_counter()
    for src in config.sources:
        if not src.path.is_file():
            raise ToolError("mix", f"{src.path}: no such file (source {src.name!r})")
    good, rejected, inputs = _count_good(config, engine, show_progress)
    available = [len(g) for g in good]
    targets = quotas([s.ratio for s in config.sources], available, config.size)
    # One generator, drawn in a fixed order (sources, then the shuffle): the seed fixes the mix.
    rng = np.random.default_rng(config.seed)
    picks, shares = _draw(config, good, rejected, targets, rng)
    order_src = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(picks)])
    order_line = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    perm = rng.permutation(len(order_line))
    order_src, order_line = order_src[perm], order_line[perm]
    output = _write_mixed(config, picks, order_src, order_line)
    manifest_path = config.output.with_name(config.output.name + ".manifest.json")
    report = MixReport(
        size=len(order_line),
        target_size=sum(targets),
        short=any(s.shortfall for s in shares),
        sources=shares,
        output=str(config.output),
        manifest=str(manifest_path),
    )
    write_manifest(
        manifest_path,
        Manifest(
            tool="mix",
            version=VERSION,
            inputs=inputs,
            outputs=[output],
            config=config.model_dump(mode="json"),
            counts={"size": report.size, "target_size": report.target_size},
            timings={"total": round(time.perf_counter() - started, 4)},
            engine=engine.name if engine is not None else "local",
            extra={
                "sources": [s.model_dump() for s in shares],
                "provenance_columns": ["source", "line"],
                "provenance": [
                    [config.sources[s].name, line]
                    for s, line in zip(order_src.tolist(), order_line.tolist(), strict=True)
                ],
            },
        ),
    )
    return report


def _count_good(
    config: MixConfig, engine: Engine | None, show_progress: bool
) -> tuple[list[npt.NDArray[np.int64]], list[int], list[FileRef]]:
    """The good line numbers of each source, its rejected row count, and the inputs' refs."""
    paths = [s.path for s in config.sources]
    good_lines: list[list[int]] = [[] for _ in paths]
    rejected = [0] * len(paths)
    total = input_bytes(paths)
    with (
        engine_scope(engine, total) as eng,
        progress("mix: count", total, enabled=show_progress) as bar,
    ):
        scan = scan_inputs(paths, ScanSpec(format=config.format), eng, on_bytes=bar.advance)
        for part in scan.ranges():
            rs, base = part.scan, part.first_line
            good_lines[part.source] += [base + i for i in rs.good]
            rejected[part.source] += rs.rows - len(rs.good)
        inputs: list[FileRef] = scan.refs()
    return [np.asarray(g, dtype=np.int64) for g in good_lines], rejected, inputs


def _draw(
    config: MixConfig,
    good: list[npt.NDArray[np.int64]],
    rejected: list[int],
    targets: list[int],
    rng: np.random.Generator,
) -> tuple[list[npt.NDArray[np.int64]], list[SourceShare]]:
    """Each source's picked lines (distinct, then drawn again only with `upsample`)."""
    picks: list[npt.NDArray[np.int64]] = []
    shares: list[SourceShare] = []
    for i, src in enumerate(config.sources):
        available = len(good[i])
        taken = min(targets[i], available)
        chosen = good[i][rng.permutation(available)[:taken]]
        extra = 0
        if config.upsample and targets[i] > taken and available:
            extra = targets[i] - taken
            chosen = np.concatenate((chosen, good[i][rng.integers(0, available, extra)]))
        picks.append(chosen)
        shares.append(
            SourceShare(
                name=src.name,
                path=str(src.path),
                ratio=src.ratio,
                available=available,
                rejected=rejected[i],
                target=targets[i],
                taken=taken,
                upsampled=extra,
                shortfall=targets[i] - taken - extra,
            )
        )
    return picks, shares


def _write_mixed(
    config: MixConfig,
    picks: list[npt.NDArray[np.int64]],
    order_src: npt.NDArray[np.int64],
    order_line: npt.NDArray[np.int64],
) -> FileRef:
    """Gather the picked rows (the output is held in memory once), then write in mixed order."""
    rows: dict[tuple[int, int], bytes] = {}
    for i, src in enumerate(config.sources):
        wanted = np.unique(picks[i])
        for batch in iter_batches(src.path):
            lo = np.searchsorted(wanted, batch.first_line)
            hi = np.searchsorted(wanted, batch.first_line + len(batch.lines))
            for line in wanted[lo:hi]:
                rows[(i, int(line))] = batch.lines[int(line) - batch.first_line]
    with HashingWriter(config.output) as out:
        for s, line in zip(order_src.tolist(), order_line.tolist(), strict=True):
            out.write_line(rows[(s, line)])
    assert out.ref is not None
    return out.ref


# Registered by call, not as a decorator, so `mix` keeps its typed signature for callers.
register("mix", config=MixConfig, report=MixReport)(mix)
