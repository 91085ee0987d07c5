"""`dedup`: drop exact duplicates (and, asked, near-duplicates), saying which row each one duplicates.

Exact: xxh3-128 of a canonical form (the conversation's roles and stripped contents, or
chosen keys). Sources are deduplicated within themselves and across the sources named in
`cross_source`; the first row in input order is kept. Exact-only runs are one streaming pass
that writes as it reads. Near: MinHash + LSH over the exact survivors, candidate pairs
checked by exact shingle Jaccard, clusters joined by union-find; each cluster keeps its
earliest row. Rows with errors go to `rejects.jsonl`, dropped rows to `dropped.jsonl`,
near-duplicate clusters to `near_clusters.jsonl`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from sprintboard.errors import ToolError
from sprintboard.files import FileRef
from sprintboard.tools.chat_rows import ERROR_REASONS, Format
from sprintboard.tools.corpus_scan import require_inputs, scan_inputs
from sprintboard.tools.dedup_partitions import EXAMPLES, cluster_record, drop_record
from sprintboard.tools.engine import Dataflow, Engine, engine_scope
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.output_files import HashingWriter, copy_rows, dataset_stem
from sprintboard.tools.progress import input_bytes, progress
from sprintboard.tools.registry import register
from sprintboard.tools.row_scan import KeySpec, ScanSpec, reject_record

if TYPE_CHECKING:
    # numpy and the MinHash code load only for near-duplicate runs: exact runs start faster.
    import numpy as np
    import numpy.typing as npt

    from sprintboard.tools.fingerprint import Fingerprints
    from sprintboard.tools.near_dup import U64

__all__ = ["DedupConfig", "DedupPolicy", "DedupReport", "DroppedRow", "SourceCounts", "dedup"]

VERSION = "1"
_ERRORS = frozenset(ERROR_REASONS)
_LINE_BITS = 40  # a kept row is packed as source << 40 | line: one int per distinct key


class DedupConfig(BaseModel, frozen=True, extra="forbid"):
    """Which files, what counts as the same row, and which duplicates to drop."""

    inputs: list[Path] = Field(min_length=1)
    """One file per source, in priority order (earlier sources keep their rows)."""
    out_dir: Path
    names: list[str] | None = None
    """Source names, one per input; default: the file stems."""
    format: Format | None = None
    keys: list[str] | None = None
    """Top-level keys that make the exact key; default: the conversation (roles + contents)."""
    normalize_whitespace: bool = False
    """Fold every whitespace run to one space before comparing (slower)."""
    within_source: bool = True
    """Drop duplicates inside one source."""
    cross_source: Literal["all", "none"] | list[str] = "all"
    """Sources deduplicated against each other; others are only deduplicated within themselves."""
    near: bool = False
    """Also drop near-duplicates (MinHash + LSH)."""
    near_threshold: float = Field(0.8, gt=0, le=1)
    """Exact shingle Jaccard at or above which a candidate pair is a near-duplicate."""
    verify: bool = True
    """Check each LSH candidate pair by exact Jaccard (re-reads candidate rows only)."""
    bands: int = Field(14, ge=1)
    band_rows: int = Field(8, ge=1)
    shingle: int = Field(5, ge=1)
    """Words per shingle."""
    seed: int = 0


class DroppedRow(BaseModel, frozen=True, extra="forbid"):
    """A dropped row and the row kept in its place."""

    kind: Literal["exact", "near"]
    source: str
    line: int
    kept_source: str
    kept_line: int
    similarity: float | None = None


class SourceCounts(BaseModel, frozen=True, extra="forbid"):
    """Per-source row counts."""

    name: str
    path: str
    rows: int
    rejected: int
    exact_dropped: int
    near_dropped: int
    kept: int
    output: str


class DedupReport(BaseModel, frozen=True, extra="forbid"):
    """How many rows were read, rejected, dropped and kept, per source and in all."""

    rows: int
    rejected: int
    exact_dropped: int
    near_dropped: int
    kept: int
    near_clusters: int
    candidate_pairs: int
    keep_rule: str = "the earliest row in input order (inputs in the order given, then line)"
    """Which row of a duplicate pair or near-duplicate cluster is kept."""
    sources: list[SourceCounts]
    examples: list[DroppedRow]
    """The first dropped rows; `dropped.jsonl` lists every one."""
    outputs: list[str]
    manifest: str


class DedupPolicy:
    """Decides, row by row in input order, whether a key was already kept in the row's domain."""

    def __init__(
        self, names: list[str], within: bool, cross: Literal["all", "none"] | list[str]
    ) -> None:
        crossing = set(names) if cross == "all" else set() if cross == "none" else set(cross)
        unknown = crossing - set(names)
        if unknown:
            raise ToolError(
                "dedup", f"cross_source names {sorted(unknown)} are not sources {names}"
            )
        shared: dict[int, int] = {}
        # Sources in the cross set share one table; every other source has its own.
        self._tables = [shared if n in crossing else {} for n in names]
        self._within = within

    def seen(self, source: int, line: int, key: int) -> int | None:
        """The packed (source, line) this key duplicates, or None (the row is kept and recorded)."""
        table = self._tables[source]
        hit = table.get(key)
        if hit is None:
            table[key] = source << _LINE_BITS | line
            return None
        if not self._within and hit >> _LINE_BITS == source:
            return None
        return hit

    def seen_in_range(
        self, source: int, first_line: int, rows: Sequence[int], keys: Sequence[int]
    ) -> list[tuple[int, int]]:
        """`seen` for the good rows of one range (`rows` counts from `first_line`): each
        (row, packed keeper) that is a duplicate, in order; the others are recorded."""
        table = self._tables[source]
        setdefault = table.setdefault
        base = source << _LINE_BITS | first_line
        dups: list[tuple[int, int]] = []
        # One dict operation per row: this loop runs once per row of the whole corpus.
        for row, key in zip(rows, keys, strict=True):
            packed = base + row
            hit = setdefault(key, packed)
            if hit != packed:
                if not self._within and hit >> _LINE_BITS == source:
                    continue
                dups.append((row, hit))
        return dups

    @property
    def within(self) -> bool:
        """Whether duplicates inside one source are dropped."""
        return self._within

    def domains(self) -> list[int]:
        """Per source, its domain: sources deduplicated against each other share one."""
        numbers: dict[int, int] = {}
        return [numbers.setdefault(id(t), len(numbers)) for t in self._tables]

    def _domains(self) -> npt.NDArray[np.int64]:
        # numpy loads only when rows are counted (start-up time of every tool)
        import numpy as np

        return np.array(self.domains())

    def first_copies(self, src: npt.NDArray[np.int32], hi: U64, lo: U64) -> npt.NDArray[np.int64]:
        """For rows in input order, the row each duplicates, or -1: `seen` for a whole array.

        One sort instead of a dict of every key: the near-duplicate pass holds all rows'
        fingerprints already, and a dict would add ~110 bytes per row on top.
        """
        # numpy loads only when rows are counted (start-up time of every tool)
        import numpy as np

        rec = np.empty(len(src), dtype=[("d", np.int64), ("h", np.uint64), ("l", np.uint64)])
        rec["d"], rec["h"], rec["l"] = self._domains()[src], hi, lo
        _, first, inverse = np.unique(rec, return_index=True, return_inverse=True)
        firsts = first[inverse.ravel()]
        dup = firsts != np.arange(len(src))
        if not self._within:
            dup &= src[firsts] != src
        kept: npt.NDArray[np.int64] = np.where(dup, firsts, -1)
        return kept

    def may_pair(self, a: npt.NDArray[np.int32], b: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
        """Whether rows of sources a[k] and b[k] may be near-duplicates under this policy."""
        domains = self._domains()
        same = domains[a] == domains[b]
        pairs: npt.NDArray[np.bool_] = same if self._within else same & (a != b)
        return pairs


class _Run:
    """The state of one dedup run: counters, writers, and the report it turns into."""

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self.names = config.names or [dataset_stem(p) for p in config.inputs]
        if len(self.names) != len(config.inputs) or len(set(self.names)) != len(self.names):
            raise ToolError("dedup", f"need one distinct name per input, got {self.names}")
        self.policy = DedupPolicy(self.names, config.within_source, config.cross_source)
        n = len(self.names)
        self.rows, self.rejected = [0] * n, [0] * n
        self.exact, self.near = [0] * n, [0] * n
        self.examples: list[DroppedRow] = []
        # The record files of a local pass (a cluster pass writes its own on the workers).
        self.rejects: HashingWriter
        self.dropped: HashingWriter
        self.clusters: HashingWriter

    def output_path(self, source: int) -> Path:
        return self.config.out_dir / f"{self.names[source]}.dedup.jsonl"

    def drop(
        self, kind: Literal["exact", "near"], source: int, line: int, kept: int, sim: float | None
    ) -> None:
        kept_src, kept_line = kept >> _LINE_BITS, kept & ((1 << _LINE_BITS) - 1)
        names = self.names
        record = drop_record(kind, names[source], line, names[kept_src], kept_line, sim)
        (self.exact if kind == "exact" else self.near)[source] += 1
        self.dropped.write_line(record)
        if len(self.examples) < EXAMPLES:
            self.examples.append(DroppedRow.model_validate_json(record))

    def key_spec(self) -> KeySpec:
        cfg = self.config
        return KeySpec(tuple(cfg.keys) if cfg.keys else None, cfg.normalize_whitespace)

    def local_pass(
        self, engine: Engine, bar_advance: Callable[[float], None]
    ) -> tuple[list[FileRef], int, int]:
        """Decide here, in input order, on results streamed from `engine`; write as they come."""
        out_dir = self.config.out_dir
        self.rejects = HashingWriter(out_dir / "rejects.jsonl")
        self.dropped = HashingWriter(out_dir / "dropped.jsonl")
        self.clusters = HashingWriter(out_dir / "near_clusters.jsonl")
        try:
            if self.config.near:
                refs, clusters, pairs = self.near_pass(engine, bar_advance)
            else:
                refs, clusters, pairs = self.exact_pass(engine, bar_advance), 0, 0
        except BaseException:
            for writer in (self.rejects, self.dropped, self.clusters):
                writer.abort()
            raise
        refs += [self.rejects.commit(), self.dropped.commit()]
        if self.config.near:
            refs.append(self.clusters.commit())
        else:
            self.clusters.abort()
        return refs, clusters, pairs

    def cluster_pass(
        self, flow: Dataflow, bar_advance: Callable[[float], None]
    ) -> tuple[list[FileRef], int, int]:
        """Decide on `flow`'s workers, partition by partition (a shuffle); the same outputs."""
        # The cluster path (and numpy) load only for cluster runs.
        from sprintboard.tools.dedup_cluster import ClusterDedup, dedup_on_cluster
        from sprintboard.tools.near_dup import MinHashParams

        cfg = self.config
        params = MinHashParams(cfg.bands, cfg.band_rows, cfg.shingle, cfg.seed)
        job = ClusterDedup(
            inputs=list(cfg.inputs),
            names=self.names,
            outputs=[self.output_path(s) for s in range(len(cfg.inputs))],
            out_dir=cfg.out_dir,
            spec=ScanSpec(
                format=cfg.format, key=self.key_spec(), minhash=params if cfg.near else None
            ),
            domains=self.policy.domains(),
            within=self.policy.within,
            threshold=cfg.near_threshold if cfg.verify else None,
        )
        done = dedup_on_cluster(flow, job, bar_advance)
        self.rows, self.rejected, self.exact, self.near = (
            done.rows,
            done.rejected,
            done.exact,
            done.near,
        )
        self.examples = [DroppedRow.model_validate_json(r) for r in done.examples]
        return done.refs, done.clusters, done.pairs

    def exact_pass(self, engine: Engine, bar_advance: Callable[[float], None]) -> list[FileRef]:
        """One streaming pass: reject, drop exact duplicates, write survivors as they come."""
        cfg = self.config
        scan = scan_inputs(
            cfg.inputs,
            ScanSpec(format=cfg.format, key=self.key_spec()),
            engine,
            on_bytes=bar_advance,
        )
        outs = [HashingWriter(self.output_path(s)) for s in range(len(cfg.inputs))]
        try:
            seen_in_range = self.policy.seen_in_range
            for part in scan.ranges():
                rs, source, base = part.scan, part.source, part.first_line
                path = str(cfg.inputs[source])
                self.rows[source] += rs.rows
                dest = [0] * rs.rows
                for index, problems, raw in rs.flagged:
                    if any(r in _ERRORS for r, _ in problems):
                        dest[index] = -1
                        self.rejected[source] += 1
                        self.rejects.write_line(reject_record(path, base + index, problems, raw))
                for index, hit in seen_in_range(source, base, rs.good, rs.keys):
                    dest[index] = -1
                    self.drop("exact", source, base + index, hit, None)
                copy_rows(rs, dest, [outs[source]])
        except BaseException:
            for out in outs:
                out.abort()
            raise
        return scan.refs() + [out.commit() for out in outs]

    def near_pass(
        self, engine: Engine, bar_advance: Callable[[float], None]
    ) -> tuple[list[FileRef], int, int]:
        """Fingerprint every row, drop exact then near duplicates, then write survivors."""
        # numpy loads only when rows are counted (start-up time of every tool)
        import numpy as np

        from sprintboard.tools.fingerprint import fingerprint_inputs, verify_pairs_on
        from sprintboard.tools.near_dup import MinHashParams, candidate_pairs, cluster_pairs

        cfg = self.config
        params = MinHashParams(cfg.bands, cfg.band_rows, cfg.shingle, cfg.seed)
        spec = ScanSpec(format=cfg.format, key=self.key_spec(), minhash=params)
        fps = fingerprint_inputs(cfg.inputs, spec, engine, on_bytes=bar_advance)
        for source, line, problems, raw in fps.rejected:
            self.rejected[source] += 1
            self.rejects.write_line(reject_record(str(cfg.inputs[source]), line, problems, raw))
        dup_of = self.policy.first_copies(fps.src, fps.key_hi, fps.key_lo)
        alive = dup_of < 0
        for row in np.flatnonzero(~alive).tolist():
            first = int(dup_of[row])
            kept = int(fps.src[first]) << _LINE_BITS | int(fps.line[first])
            self.drop("exact", int(fps.src[row]), int(fps.line[row]), kept, None)
        pairs = candidate_pairs(fps.bands, fps.has_shingles & alive)
        kept_pairs = pairs[self.policy.may_pair(fps.src[pairs[:, 0]], fps.src[pairs[:, 1]])]
        threshold = cfg.near_threshold if cfg.verify else None
        verified = verify_pairs_on(engine, fps, params, kept_pairs, threshold)
        sims = {(i, j): s for i, j, s in verified}
        clusters = cluster_pairs([(i, j) for i, j, _ in verified])
        for root, members in clusters.items():
            kept = int(fps.src[root]) << _LINE_BITS | int(fps.line[root])
            listed = []
            for member in members:
                alive[member] = False
                sim = sims.get((root, member))
                self.drop("near", int(fps.src[member]), int(fps.line[member]), kept, sim)
                listed.append((self.names[int(fps.src[member])], int(fps.line[member]), sim))
            root_name = self.names[int(fps.src[root])]
            self.clusters.write_line(cluster_record(root_name, int(fps.line[root]), listed))
        return [*fps.inputs, *self._write_alive(fps, alive)], len(clusters), len(pairs)

    def _write_alive(self, fps: Fingerprints, alive: npt.NDArray[np.bool_]) -> list[FileRef]:
        """Each source's rows still alive into its output, in input order; all or nothing."""
        outs = [HashingWriter(self.output_path(s)) for s in range(len(self.config.inputs))]
        try:
            row = 0
            for part in fps.ranges:
                rs = part.scan
                self.rows[part.source] += rs.rows
                dest = [-1] * rs.rows
                keep = alive[row : row + len(rs.good)].tolist()
                for index, live in zip(rs.good, keep, strict=True):
                    if live:
                        dest[index] = 0
                row += len(rs.good)
                copy_rows(rs, dest, [outs[part.source]])
        except BaseException:
            for out in outs:
                out.abort()
            raise
        return [out.commit() for out in outs]


def dedup(
    config: DedupConfig, *, engine: Engine | None = None, show_progress: bool = False
) -> DedupReport:
    """Drop exact (and optionally near) duplicate rows, reporting each dropped row and its keeper.

    `engine` runs the per-range work (default: worker processes on every core here); the
    outputs are the same bytes whichever engine and how many workers ran it.

    Raises:
        ToolError: a missing input, names that do not match the inputs, or unknown cross-source names.
    """
    started = time.perf_counter()
    require_inputs("dedup", config.inputs)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(config)
    total = input_bytes(config.inputs)
    with (
        engine_scope(engine, total) as eng,
        progress("dedup", total, enabled=show_progress) as bar,
    ):
        if isinstance(eng, Dataflow):
            refs, clusters, pairs = run.cluster_pass(eng, bar.advance)
        else:
            refs, clusters, pairs = run.local_pass(eng, bar.advance)
    n_in = len(config.inputs)
    sources = _source_counts(run, n_in)
    manifest_path = config.out_dir / "dedup.manifest.json"
    report = DedupReport(
        rows=sum(run.rows),
        rejected=sum(run.rejected),
        exact_dropped=sum(run.exact),
        near_dropped=sum(run.near),
        kept=sum(s.kept for s in sources),
        near_clusters=clusters,
        candidate_pairs=pairs,
        sources=sources,
        examples=run.examples,
        outputs=[r.path for r in refs if r.path not in {str(p) for p in config.inputs}],
        manifest=str(manifest_path),
    )
    counts = report.model_dump(
        include={"rows", "rejected", "exact_dropped", "near_dropped", "kept"}
    )
    write_manifest(
        manifest_path,
        Manifest(
            tool="dedup",
            version=VERSION,
            inputs=refs[:n_in],
            outputs=refs[n_in:],
            config=config.model_dump(mode="json"),
            counts={**counts, "near_clusters": clusters, "candidate_pairs": pairs},
            timings={"total": round(time.perf_counter() - started, 4)},
            engine=engine.name if engine is not None else "local",
            extra={"sources": [s.model_dump() for s in sources]},
        ),
    )
    return report


def _source_counts(run: _Run, n_in: int) -> list[SourceCounts]:
    """Each input's rows, rejects, drops and what was kept, with its output path."""
    config = run.config
    return [
        SourceCounts(
            name=run.names[s],
            path=str(config.inputs[s]),
            rows=run.rows[s],
            rejected=run.rejected[s],
            exact_dropped=run.exact[s],
            near_dropped=run.near[s],
            kept=run.rows[s] - run.rejected[s] - run.exact[s] - run.near[s],
            output=str(run.output_path(s)),
        )
        for s in range(n_in)
    ]


# Registered by call, not as a decorator, so `dedup` keeps its typed signature for callers.
register("dedup", config=DedupConfig, report=DedupReport)(dedup)
