"""Per-row fingerprints (exact key hash, LSH band hashes, where the row lives) for many files.

Dedup with near-duplicates, split and leakage compare rows by these, never by the rows
themselves: a row costs about 16 + 8*bands + 24 bytes here whatever its length. The
fingerprints are computed range by range on an engine (`scan_range`) and joined in input
order; when near-duplicate candidates need an exact Jaccard check, the few candidate rows
are read back from disk by byte offset.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

from sprintboard.files import FileRef
from sprintboard.tools.chat_rows import ERROR_REASONS, Format, Problem, check_row
from sprintboard.tools.chat_rows import joined_text as _joined
from sprintboard.tools.corpus_scan import ScannedRange, scan_inputs
from sprintboard.tools.engine import Engine, engine_scope
from sprintboard.tools.jsonl_stream import open_binary, read_line_at
from sprintboard.tools.near_dup import (
    U64,
    MinHasher,
    MinHashParams,
    candidate_pairs,
    jaccard,
    min_hasher,
)
from sprintboard.tools.progress import input_bytes, progress
from sprintboard.tools.row_scan import BATCH_ROWS, KeySpec, ScanSpec

__all__ = [
    "Fingerprints",
    "fingerprint_files",
    "fingerprint_inputs",
    "near_pairs",
    "VerifyJob",
    "verify_block",
    "verify_located",
    "verify_pairs",
    "verify_pairs_on",
]

_VERIFY_BLOCK = 4096
_ERRORS = frozenset(ERROR_REASONS)


@dataclass
class Fingerprints:
    """Fingerprints of every good row of `paths`, in input order (row id = position)."""

    paths: list[Path]
    formats: list[Format | None]
    src: npt.NDArray[np.int32]
    line: npt.NDArray[np.int64]
    offset: npt.NDArray[np.int64]
    key_hi: U64
    key_lo: U64
    bands: list[U64]
    """LSH band hashes in row blocks of (rows x bands), kept apart to avoid one big copy."""
    has_shingles: npt.NDArray[np.bool_]
    inputs: list[FileRef] = field(default_factory=list)
    rejected: list[tuple[int, int, list[Problem], bytes]] = field(default_factory=list)
    """(source, line, problems, raw line) of each row left out because it has an error."""
    ranges: list[ScannedRange] = field(default_factory=list)
    """The scanned ranges (row offsets and good rows only), to copy rows out again."""

    def __len__(self) -> int:
        return len(self.line)

    def where(self, row: int) -> tuple[str, int]:
        """(file, line) of a row id."""
        return str(self.paths[int(self.src[row])]), int(self.line[row])


def fingerprint_files(
    tool: str,
    paths: Sequence[Path],
    fmt: Format | None,
    minhash: MinHashParams | None,
    engine: Engine | None,
    show_progress: bool,
) -> Fingerprints:
    """`fingerprint_inputs` of whole conversations (the default key) under `tool`'s progress
    bar, on `engine` or on a local one sized to the input."""
    spec = ScanSpec(format=fmt, key=KeySpec(), minhash=minhash)
    total = input_bytes(paths)
    with (
        engine_scope(engine, total) as eng,
        progress(tool, total, enabled=show_progress) as bar,
    ):
        return fingerprint_inputs(paths, spec, eng, on_bytes=bar.advance)


def fingerprint_inputs(
    paths: Iterable[Path],
    spec: ScanSpec,
    engine: Engine,
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> Fingerprints:
    """Scan each file once on `engine`; good rows get fingerprints, rows with errors are listed."""
    path_list = list(paths)
    # array.array keeps 4-8 bytes per row; a list of ints would keep ~36.
    src = array("i")
    lines = array("q")
    offsets = array("q")
    key_hi = array("Q")
    key_lo = array("Q")
    mask = (1 << 64) - 1
    band_parts: list[U64] = []
    has_parts: list[npt.NDArray[np.bool_]] = []
    rejected: list[tuple[int, int, list[Problem], bytes]] = []
    ranges: list[ScannedRange] = []
    scan = scan_inputs(path_list, spec, engine, on_bytes=on_bytes)
    for part in scan.ranges():
        rs, source, base = part.scan, part.source, part.first_line
        rejected += [
            (source, base + index, problems, raw)
            for index, problems, raw in rs.flagged
            if any(r in _ERRORS for r, _ in problems)
        ]
        good = rs.good
        src.extend([source] * len(good))
        lines.extend([base + i for i in good])
        row_offsets = rs.offsets
        offsets.extend([row_offsets[i] for i in good])
        key_hi.extend([k >> 64 for k in rs.keys])
        key_lo.extend([k & mask for k in rs.keys])
        if rs.bands is not None and rs.has_shingles is not None:
            band_parts.append(rs.bands)
            has_parts.append(rs.has_shingles)
        # Only the row offsets and good rows stay: enough to copy rows out later.
        rs.keys, rs.bands, rs.has_shingles, rs.flagged = [], None, None, []
        ranges.append(part)
    return Fingerprints(
        paths=path_list,
        formats=[f for f, _ in scan.formats],
        src=np.frombuffer(src, dtype=np.int32),
        line=np.frombuffer(lines, dtype=np.int64),
        offset=np.frombuffer(offsets, dtype=np.int64),
        key_hi=np.frombuffer(key_hi, dtype=np.uint64),
        key_lo=np.frombuffer(key_lo, dtype=np.uint64),
        bands=band_parts,
        has_shingles=np.concatenate(has_parts) if has_parts else np.zeros(0, dtype=np.bool_),
        inputs=scan.refs(),
        rejected=rejected,
        ranges=ranges,
    )


def _read_shingle_sets(
    paths: Sequence[Path],
    where: list[tuple[int, int, int]],
    hasher: MinHasher,
    fmt: Sequence[Format | None],
) -> dict[int, U64]:
    """Shingle sets of rows given as (row id, source, offset), reading each file in offset order."""
    by_src: dict[int, list[tuple[int, int]]] = {}
    for row, source, offset in where:
        by_src.setdefault(source, []).append((offset, row))
    ids: list[int] = []
    texts: list[str] = []
    for source, items in by_src.items():
        file_format = fmt[source]
        with open_binary(paths[source]) as fh:
            for offset, row in sorted(items):
                problems: list[Problem] = []
                obj = orjson.loads(read_line_at(fh, offset))
                turns = check_row(obj, file_format, problems) if file_format else None
                ids.append(row)
                texts.append(_joined(turns or []))
    out: dict[int, U64] = {}
    for start in range(0, len(texts), BATCH_ROWS):
        sets = hasher.shingle_sets(texts[start : start + BATCH_ROWS])
        out.update(zip(ids[start : start + BATCH_ROWS], sets, strict=True))
    return out


def verify_pairs(
    fps: Fingerprints,
    hasher: MinHasher,
    pairs: npt.NDArray[np.int64],
    threshold: float | None,
) -> list[tuple[int, int, float | None]]:
    """Pairs of fingerprinted rows whose exact shingle Jaccard is at least `threshold`
    (None: keep all, unmeasured)."""

    def locate(row: int) -> tuple[int, int]:
        return int(fps.src[row]), int(fps.offset[row])

    return verify_located(fps.paths, fps.formats, hasher, pairs, locate, threshold)


@dataclass(frozen=True)
class VerifyJob:
    """A block of candidate pairs to verify, with where their rows are (picklable)."""

    paths: tuple[Path, ...]
    formats: tuple[Format | None, ...]
    params: MinHashParams
    threshold: float
    pairs: npt.NDArray[np.int64]
    where: dict[int, tuple[int, int]]
    """Row id -> (input, byte offset)."""


def verify_block(job: VerifyJob) -> list[tuple[int, int, float | None]]:
    """`verify_located` for one block, with this process's MinHasher (a worker built its
    power tables for the scan already)."""
    return verify_located(
        job.paths,
        job.formats,
        min_hasher(job.params),
        job.pairs,
        job.where.__getitem__,
        job.threshold,
    )


def verify_pairs_on(
    engine: Engine,
    fps: Fingerprints,
    params: MinHashParams,
    pairs: npt.NDArray[np.int64],
    threshold: float | None,
) -> list[tuple[int, int, float | None]]:
    """`verify_pairs` spread over `engine`'s workers in contiguous blocks, joined in pair
    order: the same list. The caller then never builds a MinHasher of its own, which on a
    2-core machine was a third of the main process's time in a near-duplicate run."""
    if threshold is None or len(pairs) == 0:
        return [(int(i), int(j), None) for i, j in pairs]
    per_job = min(_VERIFY_BLOCK, -(-len(pairs) // engine.workers))
    jobs = []
    for start in range(0, len(pairs), per_job):
        block = pairs[start : start + per_job]
        rows = np.unique(block).tolist()
        where = {row: (int(fps.src[row]), int(fps.offset[row])) for row in rows}
        jobs.append(
            VerifyJob(tuple(fps.paths), tuple(fps.formats), params, threshold, block, where)
        )
    return [pair for found in engine.map(verify_block, jobs) for pair in found]


def verify_located(
    paths: Sequence[Path],
    formats: Sequence[Format | None],
    hasher: MinHasher,
    pairs: npt.NDArray[np.int64],
    locate: Callable[[int], tuple[int, int]],
    threshold: float | None,
) -> list[tuple[int, int, float | None]]:
    """Pairs of row ids whose exact shingle Jaccard is at least `threshold` (None: keep all,
    unmeasured); `locate(id)` says where a row is: (input, byte offset).

    Pairs are checked in blocks, so only one block's rows are ever read back into memory.
    """
    if threshold is None:
        return [(int(i), int(j), None) for i, j in pairs]
    out: list[tuple[int, int, float | None]] = []
    for start in range(0, len(pairs), _VERIFY_BLOCK):
        block = pairs[start : start + _VERIFY_BLOCK]
        where = [(row, *locate(row)) for row in np.unique(block).tolist()]
        sets = _read_shingle_sets(paths, where, hasher, formats)
        for i, j in block.tolist():
            sim = jaccard(sets[i], sets[j])
            if sim >= threshold:
                out.append((i, j, round(sim, 4)))
    return out


def near_pairs(
    fps: Fingerprints, hasher: MinHasher, threshold: float | None
) -> list[tuple[int, int, float | None]]:
    """Verified near-duplicate pairs among all fingerprinted rows."""
    return verify_pairs(fps, hasher, candidate_pairs(fps.bands, fps.has_shingles), threshold)
