"""Exact dedup as a shuffle: keys partitioned by hash, keepers decided per partition, and each
range's outputs written as parts where the range was scanned.

`dedup` on a cluster (`dedup_cluster`) chains these plain functions as tasks; none needs more
than one partition or one range in memory, and the caller never holds a key. A row's place
is `range_id << 32 | index` (index: its line within the range). Ranges are numbered in input
order, so comparing places compares (file, line): the keeper of a key, the earliest row, is
its smallest place, exactly the row the local pass keeps.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from sprintboard.files import FileRef
from sprintboard.tools.chat_rows import ERROR_REASONS
from sprintboard.tools.output_files import HashingWriter, PartWriter, copy_rows
from sprintboard.tools.row_scan import RangeScan, reject_record

__all__ = [
    "PLACE_BITS",
    "Duplicates",
    "KeyPart",
    "Layout",
    "RangeWritten",
    "WriteSetup",
    "cluster_record",
    "decide_keepers",
    "drop_record",
    "join_parts",
    "range_rows",
    "split_keys",
    "write_range",
]

PLACE_BITS = 32
"""A place is `range_id << PLACE_BITS | index`; a range never holds 2**32 lines."""
_INDEX = (1 << PLACE_BITS) - 1
_ERRORS = frozenset(ERROR_REASONS)
EXAMPLES = 20
"""Dropped rows a report shows; each range sends at most this many back."""


def drop_record(
    kind: str, source: str, line: int, kept_source: str, kept_line: int, similarity: float | None
) -> bytes:
    """One line of dropped.jsonl: the dropped row and the row kept in its place."""
    # A plain dict per line: building a model for every dropped row would cost more than the dedup.
    fields = {"kind": kind, "source": source, "line": line, "kept_source": kept_source}
    return orjson.dumps(fields | {"kept_line": kept_line, "similarity": similarity})


def cluster_record(
    kept_source: str, kept_line: int, members: Sequence[tuple[str, int, float | None]]
) -> bytes:
    """One line of near_clusters.jsonl: the kept row and every member dropped for it."""
    listed = [{"source": s, "line": line, "similarity": sim} for s, line, sim in members]
    return orjson.dumps({"kept": {"source": kept_source, "line": kept_line}, "members": listed})


@dataclass(frozen=True, slots=True)
class Layout:
    """What the keeper decision needs about the ranges (shared once with every worker)."""

    sources: tuple[int, ...]
    """The input each range belongs to, by range id."""
    domains: tuple[int, ...]
    """Per input: rows of inputs with the same domain are deduplicated against each other."""
    within: bool
    """Drop duplicates inside one input too."""
    parts: int
    """Partitions of the shuffle."""


@dataclass(slots=True)
class KeyPart:
    """The good rows of one range whose keys fall in one partition, in line order."""

    index: array[int] = field(default_factory=lambda: array("q"))
    keys: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Duplicates:
    """Exact duplicates of one range found in one partition: line index and keeper's place."""

    index: array[int] = field(default_factory=lambda: array("q"))
    keeper: array[int] = field(default_factory=lambda: array("q"))


def range_rows(scan: RangeScan) -> int:
    """Lines in a scanned range (the caller numbers the lines of the ranges after it)."""
    return scan.rows


def split_keys(scan: RangeScan, parts: int) -> list[KeyPart]:
    """A range's keys cut into `parts` pieces by key (xxh3-128: evenly spread)."""
    if parts == 1:
        return [KeyPart(array("q", scan.good), list(scan.keys))]
    out = [KeyPart() for _ in range(parts)]
    for index, key in zip(scan.good, scan.keys, strict=True):
        piece = out[key % parts]
        piece.index.append(index)
        piece.keys.append(key)
    return out


def decide_keepers(layout: Layout, *pieces: KeyPart) -> list[Duplicates | None]:
    """One partition's keepers: `pieces[r]` is range r's share of it; the duplicates found,
    by range (None where a range has none). A key's earliest row is kept, as locally."""
    tables: dict[int, dict[int, int]] = {}
    found: list[Duplicates | None] = [None] * len(pieces)
    sources, domains, within = layout.sources, layout.domains, layout.within
    for range_id, piece in enumerate(pieces):
        source = sources[range_id]
        table = tables.setdefault(domains[source], {})
        setdefault = table.setdefault
        base = range_id << PLACE_BITS
        dups: Duplicates | None = None
        # One dict operation per row: this loop runs once per row of the partition.
        for index, key in zip(piece.index, piece.keys, strict=True):
            place = base | index
            hit = setdefault(key, place)
            if hit == place or (not within and sources[hit >> PLACE_BITS] == source):
                continue
            if dups is None:
                dups = found[range_id] = Duplicates()
            dups.index.append(index)
            dups.keeper.append(hit)
    return found


@dataclass(frozen=True, slots=True)
class WriteSetup:
    """What every range's writer needs: where parts go and how rows are named."""

    part_dir: str
    names: tuple[str, ...]
    """Source names, by input."""
    paths: tuple[str, ...]
    """Input paths as given (reject records name them)."""
    sources: tuple[int, ...]
    """The input of each range, by range id."""
    first_lines: tuple[int, ...]
    """The line number (1-based, within its input) of each range's first line."""

    def where(self, place: int) -> tuple[str, int]:
        """(source name, line) of a place."""
        range_id = place >> PLACE_BITS
        return self.names[self.sources[range_id]], self.first_lines[range_id] + (place & _INDEX)


@dataclass(slots=True)
class RangeWritten:
    """What one range's writer wrote: counts, the first dropped rows, its part files."""

    source: int
    rows: int
    rejected: int
    exact: int
    examples: list[bytes]
    """The range's first exact-drop records (at most `EXAMPLES`)."""
    kept: str | None
    rejects: str | None
    dropped: str | None


def write_range(
    scan: RangeScan,
    range_id: int,
    setup: WriteSetup,
    near: Sequence[int],
    *dups: Duplicates | None,
) -> RangeWritten:
    """Write one range's parts: its kept rows, its rejects and its exact-drop records.

    `dups` are the range's duplicates from every partition; `near` the line indices of its
    near duplicates (their records are written by whoever joined the clusters).
    """
    source = setup.sources[range_id]
    first = setup.first_lines[range_id]
    stem = Path(setup.part_dir) / f"{range_id:08d}"
    dest = [0] * scan.rows
    rejects: list[bytes] = []
    for index, problems, raw in scan.flagged:
        if any(r in _ERRORS for r, _ in problems):
            dest[index] = -1
            rejects.append(reject_record(setup.paths[source], first + index, problems, raw))
    pairs = sorted(
        (i, k) for d in dups if d is not None for i, k in zip(d.index, d.keeper, strict=True)
    )
    name = setup.names[source]
    records = []
    for index, keeper in pairs:
        dest[index] = -1
        kept_source, kept_line = setup.where(keeper)
        records.append(drop_record("exact", name, first + index, kept_source, kept_line, None))
    for index in near:
        dest[index] = -1
    return RangeWritten(
        source=source,
        rows=scan.rows,
        rejected=len(rejects),
        exact=len(records),
        examples=records[:EXAMPLES],
        kept=_write_kept(scan, dest, stem.with_suffix(".kept")),
        rejects=_write_lines(rejects, stem.with_suffix(".rejects")),
        dropped=_write_lines(records, stem.with_suffix(".dropped")),
    )


def _write_kept(scan: RangeScan, dest: list[int], path: Path) -> str | None:
    if all(d < 0 for d in dest):
        return None
    part = PartWriter(path)
    try:
        copy_rows(scan, dest, [part])
    finally:
        part.close()
    return str(path)


def _write_lines(lines: list[bytes], path: Path) -> str | None:
    if not lines:
        return None
    part = PartWriter(path)
    try:
        for line in lines:
            part.write_line(line)
    finally:
        part.close()
    return str(path)


def join_parts(dest: str, parts: Sequence[str]) -> FileRef:
    """Join part files, in order, into the output `dest` (whole or not at all) and hash it."""
    out = HashingWriter(Path(dest))
    try:
        for part in parts:
            out.append_file(Path(part))
    except BaseException:
        out.abort()
        raise
    return out.commit()
