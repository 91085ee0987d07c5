"""Scan whole inputs over an engine: formats first, then byte ranges, merged back in order.

The driver every dataset tool shares. Each file's format is settled first (forced, or found
at its first row that has one), the files are cut into ranges of whole lines, `scan_range`
is mapped over the ranges by the engine, and the results come back in (file, range) order
with the line number each range starts at. Input hashes for the manifest are jobs too, so
they run beside the scan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sprintboard.errors import ToolError
from sprintboard.files import FileRef, file_ref
from sprintboard.tools.chat_rows import Format
from sprintboard.tools.engine import Engine
from sprintboard.tools.jsonl_stream import plan_ranges
from sprintboard.tools.row_scan import RangeScan, ScanJob, ScanSpec, detect_file_format, scan_range

__all__ = ["ScannedRange", "plan_scan", "range_bytes", "require_inputs", "scan_inputs"]

_MIN_RANGE = 1 << 20
_MAX_RANGE = 16 << 20
_RANGES_PER_WORKER = 8


def require_inputs(tool: str, paths: Iterable[Path]) -> None:
    """Refuse before any work when an input is missing.

    Raises:
        ToolError: the first path that is not a file.
    """
    for path in paths:
        if not path.is_file():
            raise ToolError(tool, f"{path}: no such file; check the path")


@dataclass(slots=True)
class ScannedRange:
    """A range's scan and where it sits: input `source`, rows from line `first_line` (1-based)."""

    source: int
    first_line: int
    scan: RangeScan


def range_bytes(total: int, workers: int) -> int:
    """Range size: several per worker, so the work evens out and merging overlaps the scan;
    never above 16 MiB, which bounds the memory one range takes."""
    return max(_MIN_RANGE, min(_MAX_RANGE, total // max(1, workers * _RANGES_PER_WORKER)))


@dataclass
class InputScan:
    """A scan in progress: iterate `ranges()` once, then `refs()` gives the inputs' hashes."""

    paths: list[Path]
    formats: list[tuple[Format | None, int]]
    _ranges: Iterator[RangeScan]
    _refs: Iterator[FileRef]
    on_bytes: Callable[[int], None] | None

    def ranges(self) -> Iterator[ScannedRange]:
        """Every range's scan, in input order, with its first line number."""
        next_line = [1] * len(self.paths)
        for scan in self._ranges:
            source = scan.range.source
            yield ScannedRange(source, next_line[source], scan)
            next_line[source] += scan.rows
            if self.on_bytes is not None:
                self.on_bytes(scan.end - scan.range.start)

    def refs(self) -> list[FileRef]:
        """Content references (sha256, size) of the inputs, in input order."""
        return list(self._refs)


def plan_scan(
    paths: Sequence[Path], spec: ScanSpec, workers: int, range_size: int | None = None
) -> tuple[list[tuple[Format | None, int]], list[ScanJob]]:
    """Each file's format (and where it starts), and the scan jobs: ranges of whole lines."""
    formats: list[tuple[Format | None, int]] = [
        (spec.format, 0) if spec.format is not None else detect_file_format(p) for p in paths
    ]
    total = sum(p.stat().st_size for p in paths)
    ranges = plan_ranges(paths, range_size or range_bytes(total, workers))
    jobs = [
        ScanJob(
            r,
            dataclasses.replace(
                spec, format=formats[r.source][0], format_from=formats[r.source][1]
            ),
        )
        for r in ranges
    ]
    return formats, jobs


def scan_inputs(
    paths: Sequence[Path],
    spec: ScanSpec,
    engine: Engine,
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> InputScan:
    """Start scanning `paths` with `spec` (its format forced when set) on `engine`."""
    path_list = list(paths)
    formats, jobs = plan_scan(path_list, spec, engine.workers, engine.range_bytes)
    refs = engine.map(file_ref, path_list)  # submitted first: hashing overlaps the scan
    return InputScan(path_list, formats, engine.map(scan_range, jobs), refs, on_bytes)
