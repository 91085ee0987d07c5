"""Near-duplicate dedup as a shuffle: band hashes partitioned by value, candidates found per
partition, candidate pairs partitioned again and verified where they land.

The tasks of `dedup --near` on a cluster (`dedup_cluster`), after the exact shuffle of
`dedup_partitions` has said which rows are exact duplicates. Rows are named by their place
(`range_id << 32 | index`), which orders them as the local pass's row ids do, so every
choice below (the first row of a band collision, the smaller row of a pair) is the local one:

1. `split_bands`: each range's live rows (good, with shingles, not exact duplicates) give one
   record per band (band, hash, place, byte offset), cut into partitions by hash;
2. `band_candidates`: rows sharing a (band, hash) pair with the run's earliest row, as
   `candidate_pairs` does; the pairs are cut into partitions again, by pair;
3. `verify_partition`: a pair found in several bands counts once; pairs the dedup policy
   allows are checked by exact shingle Jaccard, reading the two rows back by offset.

Only verified pairs go back to the caller, which joins them into clusters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sprintboard.tools.chat_rows import Format
from sprintboard.tools.dedup_partitions import PLACE_BITS, Duplicates
from sprintboard.tools.fingerprint import verify_located
from sprintboard.tools.near_dup import U64, MinHashParams, min_hasher
from sprintboard.tools.row_scan import RangeScan

__all__ = [
    "BandPart",
    "PairPart",
    "PairsFound",
    "VerifySetup",
    "band_candidates",
    "split_bands",
    "verify_partition",
]

I64 = npt.NDArray[np.int64]
_PAIR_MIX = np.uint64(0x9E3779B97F4A7C15)  # spreads (first, second) pairs over partitions


def _empty() -> I64:
    return np.zeros(0, dtype=np.int64)


def _run_starts(*columns: npt.NDArray[np.generic]) -> npt.NDArray[np.bool_]:
    """Over rows sorted by `columns`: True where a row differs from the one before it."""
    starts = np.ones(len(columns[0]), dtype=np.bool_)
    if len(starts) > 1:
        starts[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in columns])
    return starts


@dataclass(slots=True)
class BandPart:
    """Band records of one range that fall in one partition."""

    band: I64 = field(default_factory=_empty)
    hash: U64 = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    place: I64 = field(default_factory=_empty)
    offset: I64 = field(default_factory=_empty)


@dataclass(slots=True)
class PairPart:
    """Candidate pairs (first < second, by place) with both rows' byte offsets."""

    first: I64 = field(default_factory=_empty)
    second: I64 = field(default_factory=_empty)
    first_offset: I64 = field(default_factory=_empty)
    second_offset: I64 = field(default_factory=_empty)


def split_bands(
    scan: RangeScan, range_id: int, parts: int, *dups: Duplicates | None
) -> list[BandPart]:
    """A range's band records cut into `parts` pieces by band hash.

    Rows without shingles never pair; exact duplicates (`dups`, from every partition of the
    key shuffle) are gone before near duplicates are looked for, as locally.
    """
    if scan.bands is None or scan.has_shingles is None or not len(scan.good):
        return [BandPart() for _ in range(parts)]
    good = np.array(scan.good, dtype=np.int64)
    live = scan.has_shingles.copy()
    gone = [np.array(d.index, dtype=np.int64) for d in dups if d is not None]
    if gone:
        live &= ~np.isin(good, np.concatenate(gone))
    rows = np.flatnonzero(live)
    index = good[rows]
    bands = scan.bands[rows]
    width = bands.shape[1]
    place = np.repeat((range_id << PLACE_BITS) | index, width)
    offset = np.repeat(np.array(scan.offsets, dtype=np.int64)[index], width)
    band = np.tile(np.arange(width, dtype=np.int64), len(rows))
    hashes = bands.ravel()
    target = hashes % np.uint64(parts)
    return [
        BandPart(band[m], hashes[m], place[m], offset[m])
        for m in (target == np.uint64(p) for p in range(parts))
    ]


def band_candidates(parts: int, *pieces: BandPart) -> list[PairPart]:
    """One partition's candidate pairs: every row sharing a (band, hash) with the earliest
    row of that run, cut into `parts` pieces by pair (a pair may be found in other bands,
    in other partitions: the next step counts it once)."""
    band = np.concatenate([p.band for p in pieces])
    hashes = np.concatenate([p.hash for p in pieces])
    place = np.concatenate([p.place for p in pieces])
    offset = np.concatenate([p.offset for p in pieces])
    order = np.lexsort((place, hashes, band))
    band, hashes, place, offset = band[order], hashes[order], place[order], offset[order]
    starts = _run_starts(band, hashes)
    members = np.flatnonzero(~starts)
    firsts = np.flatnonzero(starts)[np.cumsum(starts)[members] - 1]
    first, second = place[firsts], place[members]
    with np.errstate(over="ignore"):
        mixed = (first.astype(np.uint64) * _PAIR_MIX) ^ second.astype(np.uint64)
    target = (mixed >> np.uint64(17)) % np.uint64(parts)
    return [
        PairPart(first[m], second[m], offset[firsts][m], offset[members][m])
        for m in (target == np.uint64(p) for p in range(parts))
    ]


@dataclass(frozen=True, slots=True)
class VerifySetup:
    """What pair verification needs (shared once with every worker)."""

    paths: tuple[str, ...]
    formats: tuple[Format | None, ...]
    sources: tuple[int, ...]
    """The input of each range, by range id."""
    domains: tuple[int, ...]
    """Per input: only rows of one domain may be near duplicates of each other."""
    within: bool
    threshold: float | None
    """Exact Jaccard a pair needs; None: every candidate pair counts, unmeasured."""
    params: MinHashParams


@dataclass(slots=True)
class PairsFound:
    """One partition's candidate count and its verified pairs (by place)."""

    candidates: int
    pairs: list[tuple[int, int, float | None]]


def verify_partition(setup: VerifySetup, *pieces: PairPart) -> PairsFound:
    """Count this partition's distinct candidate pairs; verify those the policy allows."""
    first = np.concatenate([p.first for p in pieces])
    second = np.concatenate([p.second for p in pieces])
    offsets = np.concatenate([p.first_offset for p in pieces] + [p.second_offset for p in pieces])
    places = np.concatenate((first, second))
    order = np.lexsort((second, first))
    first, second = first[order], second[order]
    distinct = _run_starts(first, second)
    first, second = first[distinct], second[distinct]
    sources = np.array(setup.sources, dtype=np.int64)
    domains = np.array(setup.domains, dtype=np.int64)
    src_a, src_b = sources[first >> PLACE_BITS], sources[second >> PLACE_BITS]
    allowed = domains[src_a] == domains[src_b]
    if not setup.within:
        allowed &= src_a != src_b
    pairs = np.stack((first[allowed], second[allowed]), axis=1)
    where = dict(zip(places.tolist(), offsets.tolist(), strict=True))

    def locate(place: int) -> tuple[int, int]:
        return setup.sources[place >> PLACE_BITS], where[place]

    verified = verify_located(
        [Path(p) for p in setup.paths],
        setup.formats,
        min_hasher(setup.params),
        pairs,
        locate,
        setup.threshold,
    )
    return PairsFound(len(first), verified)
