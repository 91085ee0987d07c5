"""`dedup` on a cluster: the decisions made by the workers, partition by partition.

The local pass keeps one table of every key in one process. Here nothing row-sized comes
back to the caller: ranges are scanned on the workers and stay there; their keys are
shuffled by hash into partitions, where each key's earliest row is kept
(`dedup_partitions.decide_keepers`); with `near`, band hashes of the surviving rows are
shuffled by value, candidate pairs found and verified per partition (`near_partitions`) and
only the verified pairs come back, to be joined into clusters here; then each range writes
its kept rows, rejects and drop records as part files where it was scanned, and workers join
the parts, in (file, line) order, into the outputs. The bytes equal the local pass's.

What the caller holds: per range a few numbers and at most 20 example records; with `near`,
the verified pairs and their clusters (about 60 bytes per near-duplicate row).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sprintboard.files import FileRef, file_ref
from sprintboard.tools.chat_rows import Format
from sprintboard.tools.corpus_scan import plan_scan
from sprintboard.tools.dedup_partitions import (
    EXAMPLES,
    PLACE_BITS,
    Layout,
    RangeWritten,
    WriteSetup,
    cluster_record,
    decide_keepers,
    drop_record,
    join_parts,
    range_rows,
    split_keys,
    write_range,
)
from sprintboard.tools.engine import Dataflow, Handle
from sprintboard.tools.jsonl_stream import ByteRange
from sprintboard.tools.near_dup import MinHashParams, cluster_pairs
from sprintboard.tools.near_partitions import (
    PairsFound,
    VerifySetup,
    band_candidates,
    split_bands,
    verify_partition,
)
from sprintboard.tools.output_files import HashingWriter, PartWriter
from sprintboard.tools.row_scan import ScanSpec, scan_range

__all__ = ["ClusterDedup", "ClusterResult", "dedup_on_cluster"]

_INDEX = (1 << PLACE_BITS) - 1


@dataclass(frozen=True)
class ClusterDedup:
    """One dedup run, as the cluster path needs it (`dedup` builds it from its config)."""

    inputs: list[Path]
    names: list[str]
    outputs: list[Path]
    """Kept rows, one file per input."""
    out_dir: Path
    spec: ScanSpec
    """Format and exact key; with `spec.minhash`, near duplicates too."""
    domains: list[int]
    """Per input: inputs with the same domain are deduplicated against each other."""
    within: bool
    threshold: float | None = None
    """Exact Jaccard a near pair needs; None: candidates count unverified."""


@dataclass
class ClusterResult:
    """Counts per input, the first drop records, and every file read and written."""

    rows: list[int]
    rejected: list[int]
    exact: list[int]
    near: list[int]
    examples: list[bytes] = field(default_factory=list)
    refs: list[FileRef] = field(default_factory=list)
    """Inputs, then kept rows per input, rejects.jsonl, dropped.jsonl (near_clusters.jsonl)."""
    clusters: int = 0
    pairs: int = 0


def dedup_on_cluster(
    flow: Dataflow, job: ClusterDedup, on_bytes: Callable[[int], None] | None = None
) -> ClusterResult:
    """Run `job` on `flow`'s workers as a shuffle; the outputs are the local pass's bytes."""
    n = len(job.inputs)
    result = ClusterResult([0] * n, [0] * n, [0] * n, [0] * n)
    part_dir = Path(tempfile.mkdtemp(dir=job.out_dir, prefix=".dedup-parts-"))
    near = job.spec.minhash is not None
    clusters = HashingWriter(job.out_dir / "near_clusters.jsonl") if near else None
    try:
        _run(flow, job, result, part_dir, clusters, on_bytes)
    except BaseException:
        if clusters is not None:
            clusters.abort()
        raise
    finally:
        shutil.rmtree(part_dir, ignore_errors=True)
    if clusters is not None:
        result.refs.append(clusters.commit())
    return result


def _run(
    flow: Dataflow,
    job: ClusterDedup,
    result: ClusterResult,
    part_dir: Path,
    clusters: HashingWriter | None,
    on_bytes: Callable[[int], None] | None,
) -> None:
    formats, jobs = plan_scan(job.inputs, job.spec, flow.workers, flow.range_bytes)
    parts = max(1, flow.partitions or flow.workers)
    n_ranges = len(jobs)
    sources = tuple(j.range.source for j in jobs)
    layout = flow.share(Layout(sources, tuple(job.domains), job.within, parts))
    input_refs = flow.map_each(file_ref, job.inputs)
    scans = flow.map_each(scan_range, jobs)
    counted = flow.map_each(range_rows, scans)
    # The key shuffle: every range cut by key, one keeper decision per partition, and the
    # duplicates it finds sent back to their ranges.
    # Every stage's handles are held until the stage after it is done (see `_near_stages`).
    key_split = flow.map_each(split_keys, scans, parts)
    key_cells = [flow.pieces(h, parts) for h in key_split]
    decided = [
        flow.submit(decide_keepers, layout, *(cells[p] for cells in key_cells))
        for p in range(parts)
    ]
    dup_cells = [flow.pieces(h, n_ranges) for h in decided]
    dups = [[cells[r] for cells in dup_cells] for r in range(n_ranges)]  # by range, then part

    verified, held = None, None
    if job.spec.minhash is not None:
        setup = _verify_setup(job, job.spec.minhash, formats, sources)
        verified, held = _near_stages(flow, setup, scans, dups, parts)
    rows = _rows_as_scanned(flow, counted, [j.range for j in jobs], job.inputs, on_bytes)
    first_lines = _first_lines(sources, rows)
    near_rows: dict[int, list[int]] = {}
    near_part = None
    if verified is not None and clusters is not None:
        named = WriteSetup("", tuple(job.names), (), sources, first_lines)
        found: list[PairsFound] = flow.fetch(verified)
        del held
        near_part = _join_clusters(found, named, result, near_rows, part_dir, clusters)
    setup_h = flow.share(
        WriteSetup(
            str(part_dir),
            tuple(job.names),
            tuple(str(p) for p in job.inputs),
            sources,
            first_lines,
        )
    )
    written: list[RangeWritten] = flow.fetch(
        [
            flow.submit(write_range, scans[r], r, setup_h, near_rows.get(r, []), *dups[r])
            for r in range(n_ranges)
        ]
    )
    del scans, key_split, key_cells, decided, dup_cells, dups  # the workers may drop them now
    _tally_and_join(flow, job, result, written, near_part, input_refs)


def _tally_and_join(
    flow: Dataflow,
    job: ClusterDedup,
    result: ClusterResult,
    written: list[RangeWritten],
    near_part: str | None,
    input_refs: list[Handle],
) -> None:
    """Add each range's counts and examples to `result`, then join the ranges' part files
    into each output (on the workers); `result.refs` are the inputs', then the outputs'."""
    exact_examples: list[bytes] = []
    for part in written:
        result.rows[part.source] += part.rows
        result.rejected[part.source] += part.rejected
        result.exact[part.source] += part.exact
        exact_examples += part.examples[: EXAMPLES - len(exact_examples)]
    result.examples = exact_examples + result.examples[: EXAMPLES - len(exact_examples)]
    joins = [
        (out, [w.kept for w in written if w.source == s and w.kept])
        for s, out in enumerate(job.outputs)
    ]
    joins.append((job.out_dir / "rejects.jsonl", [w.rejects for w in written if w.rejects]))
    dropped = [w.dropped for w in written if w.dropped]
    joins.append((job.out_dir / "dropped.jsonl", dropped + ([near_part] if near_part else [])))
    joined = [flow.submit(join_parts, str(path), parts_of) for path, parts_of in joins]
    result.refs = flow.fetch([*input_refs, *joined])


def _rows_as_scanned(
    flow: Dataflow,
    counted: list[Handle],
    spans: Sequence[ByteRange],
    inputs: Sequence[Path],
    on_bytes: Callable[[int], None] | None,
) -> list[int]:
    """Each range's line count, taken as the workers finish scanning: progress comes from
    the workers, range by range."""
    rows = [0] * len(counted)
    for r, count in flow.each_done(counted):
        rows[r] = count
        if on_bytes is not None:
            span = spans[r]
            end = span.end if span.end >= 0 else inputs[span.source].stat().st_size
            on_bytes(end - span.start)
    return rows


def _first_lines(sources: Sequence[int], rows: Sequence[int]) -> tuple[int, ...]:
    """The first line number of each range: 1 plus the lines of the earlier ranges of its input."""
    next_line: dict[int, int] = {}
    first = []
    for source, count in zip(sources, rows, strict=True):
        line = next_line.get(source, 1)
        first.append(line)
        next_line[source] = line + count
    return tuple(first)


def _verify_setup(
    job: ClusterDedup,
    params: MinHashParams,
    formats: Sequence[tuple[Format | None, int]],
    sources: tuple[int, ...],
) -> VerifySetup:
    """What the workers need to re-read and verify a candidate pair."""
    return VerifySetup(
        paths=tuple(str(p) for p in job.inputs),
        formats=tuple(f for f, _ in formats),
        sources=sources,
        domains=tuple(job.domains),
        within=job.within,
        threshold=job.threshold,
        params=params,
    )


def _near_stages(
    flow: Dataflow,
    setup: VerifySetup,
    scans: list[Handle],
    dups: list[list[Handle]],
    parts: int,
) -> tuple[list[Handle], list[object]]:
    """Submit the band shuffle and the pair shuffle: handles to each partition's pairs, and
    the stages before them, which the caller holds until those pairs are fetched.

    Dask takes a submitted task's graph in the background: a handle dropped right after
    the submit that uses it can be forgotten by the scheduler first, and the task then fails
    with "lost dependencies" (seen when a worker was lost mid-run).
    """
    band_split = [
        flow.submit(split_bands, scan, r, parts, *dups[r]) for r, scan in enumerate(scans)
    ]
    band_cells = [flow.pieces(h, parts) for h in band_split]
    candidates = [
        flow.submit(band_candidates, parts, *(cells[p] for cells in band_cells))
        for p in range(parts)
    ]
    pair_cells = [flow.pieces(h, parts) for h in candidates]
    shared = flow.share(setup)
    verified = [
        flow.submit(verify_partition, shared, *(cells[q] for cells in pair_cells))
        for q in range(parts)
    ]
    return verified, [band_split, band_cells, candidates, pair_cells, shared]


def _join_clusters(
    found: list[PairsFound],
    setup: WriteSetup,
    result: ClusterResult,
    near_rows: dict[int, list[int]],
    part_dir: Path,
    lines: HashingWriter,
) -> str:
    """Union-find over the verified pairs (here, on the caller: only pairs, never every row);
    write the near drop records as the last part of dropped.jsonl, and near_clusters.jsonl."""
    verified = [pair for f in found for pair in f.pairs]
    result.pairs = sum(f.candidates for f in found)
    sims = {(i, j): s for i, j, s in verified}
    clusters = cluster_pairs([(i, j) for i, j, _ in verified])
    result.clusters = len(clusters)
    near_part = part_dir / "near.dropped"
    drops = PartWriter(near_part)
    try:
        for root, members in clusters.items():
            kept_source, kept_line = setup.where(root)
            listed = []
            for member in members:
                source, line = setup.where(member)
                sim = sims.get((root, member))
                record = drop_record("near", source, line, kept_source, kept_line, sim)
                drops.write_line(record)
                if len(result.examples) < EXAMPLES:
                    result.examples.append(record)
                result.near[setup.sources[member >> PLACE_BITS]] += 1
                near_rows.setdefault(member >> PLACE_BITS, []).append(member & _INDEX)
                listed.append((source, line, sim))
            lines.write_line(cluster_record(kept_source, kept_line, listed))
    finally:
        drops.close()
    return str(near_part)
