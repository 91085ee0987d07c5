"""Near-duplicate detection: MinHash over word 5-gram shingles, LSH bands, numpy throughout.

Per batch of rows, all the work is array work: the texts are joined into one byte buffer,
words are found where bytes change from whitespace to non-whitespace, each word gets a
polynomial hash from one prefix sum, shingles combine 5 neighbouring word hashes, and each
of the `bands * rows` MinHash functions is `a*x + b (mod 2**32)` reduced per row with
`np.minimum.reduceat`. Only the band hashes (bands x 8 bytes) are kept per row, never the row.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "MinHashParams",
    "MinHasher",
    "min_hasher",
    "U64",
    "candidate_pairs",
    "cluster_pairs",
    "jaccard",
]

U64 = npt.NDArray[np.uint64]
_P = 0x100000001B3  # odd, so it has an inverse mod 2**64 (used to re-base word hashes)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _mix(x: U64) -> U64:
    """splitmix64's finaliser: spreads every input bit over the whole word."""
    x = x ^ (x >> np.uint64(30))
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


@dataclass(frozen=True, slots=True)
class MinHashParams:
    """MinHash + LSH shape: `bands * rows` hash functions; rows agree in a band to collide."""

    bands: int = 14
    rows: int = 8
    shingle: int = 5
    """Words per shingle."""
    seed: int = 0

    @property
    def num_perm(self) -> int:
        """Number of MinHash functions."""
        return self.bands * self.rows


@dataclass
class MinHasher:
    """Turns texts into per-row LSH band hashes (and shingle sets, for exact Jaccard)."""

    params: MinHashParams = field(default_factory=MinHashParams)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.params.seed)
        top = np.iinfo(np.uint64).max
        k = self.params.num_perm
        top32 = np.iinfo(np.uint32).max
        self._a = rng.integers(1, top32, k, dtype=np.uint32, endpoint=True) | np.uint32(1)
        self._b = rng.integers(0, top32, k, dtype=np.uint32, endpoint=True)
        self._word_mul = rng.integers(1, top, self.params.shingle, dtype=np.uint64) | np.uint64(1)
        self._band_mul = rng.integers(1, top, self.params.rows, dtype=np.uint64) | np.uint64(1)
        self._pow = np.ones(1, dtype=np.uint64)
        self._inv_pow = np.ones(1, dtype=np.uint64)

    def _powers(self, n: int) -> tuple[U64, U64]:
        if len(self._pow) < n:
            size = n + (1 << 20)  # grow in 1 Mi steps: doubling would hold twice the memory
            one = np.ones(1, dtype=np.uint64)
            inv = pow(_P, -1, 2**64)
            self._pow = np.concatenate((one, np.cumprod(np.full(size - 1, _P, dtype=np.uint64))))
            self._inv_pow = np.concatenate(
                (one, np.cumprod(np.full(size - 1, inv, dtype=np.uint64)))
            )
        return self._pow[:n], self._inv_pow[:n]

    def shingles(self, texts: Sequence[str]) -> tuple[U64, npt.NDArray[np.int64]]:
        """Shingle hashes of every text, and the row (index into `texts`) of each shingle.

        ASCII letters are lower-cased; words are runs of bytes above ASCII space. A text with
        fewer words than a shingle gives one shingle of all its words; a text with no word
        gives none.
        """
        n_sh = self.params.shingle
        # Case folding on the byte buffer (A-Z only): str.lower() per text cost more than all
        # of the hashing below.
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
        row_start = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])) if len(encoded) else lengths
        buf = np.frombuffer(b"\x00".join(encoded), dtype=np.uint8)
        if buf.size == 0:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        buf = buf | (((buf >= 65) & (buf <= 90)).view(np.uint8) << np.uint8(5))
        is_word = buf > 32
        edge = np.diff(is_word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edge == 1)
        ends = np.flatnonzero(edge == -1)
        if starts.size == 0:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        pw, inv_pw = self._powers(buf.size)
        with np.errstate(over="ignore"):
            prefix = np.zeros(buf.size + 1, dtype=np.uint64)
            np.cumsum(buf.astype(np.uint64) * pw, out=prefix[1:])
            words = _mix((prefix[ends] - prefix[starts]) * inv_pw[starts])
            word_row = np.searchsorted(row_start, starts, side="right") - 1
            n_words = len(words)
            padded_h = np.concatenate((words, np.zeros(n_sh, dtype=np.uint64)))
            padded_r = np.concatenate((word_row, np.full(n_sh, -1, dtype=np.int64)))
            acc = np.zeros(n_words, dtype=np.uint64)
            for k in range(n_sh):
                same = padded_r[k : k + n_words] == word_row
                acc += np.where(same, padded_h[k : k + n_words], np.uint64(0)) * self._word_mul[k]
            full = padded_r[n_sh - 1 : n_sh - 1 + n_words] == word_row
            first = np.concatenate(([True], word_row[1:] != word_row[:-1]))
            per_row = np.bincount(word_row, minlength=len(texts))
            short = first & (per_row[word_row] < n_sh)
            keep = full | short
            return _mix(acc[keep]), word_row[keep]

    def signatures(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """MinHash signatures, one row of `num_perm` values per text that has shingles.

        Returns the signatures and the indices (into `texts`) of the texts they belong to.
        """
        sh, sh_row = self.shingles(texts)
        if sh.size == 0:
            return np.zeros((0, self.params.num_perm), dtype=np.uint32), np.zeros(0, dtype=np.int64)
        firsts = np.flatnonzero(np.concatenate(([True], sh_row[1:] != sh_row[:-1])))
        # 32-bit MinHash values: half the memory traffic of 64-bit, and as unbiased an
        # estimate of Jaccard at 112 functions (checked against exact Jaccard in the tests).
        x = (sh >> np.uint64(32)).astype(np.uint32)
        sig = np.empty((len(firsts), self.params.num_perm), dtype=np.uint32)
        tmp = np.empty_like(x)
        for k in range(self.params.num_perm):
            np.multiply(x, self._a[k], out=tmp)
            tmp += self._b[k]
            sig[:, k] = np.minimum.reduceat(tmp, firsts)
        return sig, sh_row[firsts]

    def band_hashes(self, texts: Sequence[str]) -> tuple[U64, npt.NDArray[np.bool_]]:
        """(rows x bands) LSH band hashes, and which rows had any shingle at all."""
        n = len(texts)
        out = np.zeros((n, self.params.bands), dtype=np.uint64)
        has = np.zeros(n, dtype=np.bool_)
        sig, rows_with = self.signatures(texts)
        has[rows_with] = True
        r = self.params.rows
        with np.errstate(over="ignore"):
            for band in range(self.params.bands):
                block = sig[:, band * r : (band + 1) * r].astype(np.uint64)
                out[rows_with, band] = _mix((block * self._band_mul).sum(axis=1, dtype=np.uint64))
        return out, has

    def shingle_set(self, text: str) -> U64:
        """The sorted distinct shingle hashes of one text."""
        return np.unique(self.shingles([text])[0])

    def shingle_sets(self, texts: Sequence[str]) -> list[U64]:
        """`shingle_set` of each text, computed in one batch."""
        sh, rows = self.shingles(texts)
        order = np.lexsort((sh, rows))
        sh, rows = sh[order], rows[order]
        bounds = np.searchsorted(rows, np.arange(len(texts) + 1))
        return [np.unique(sh[bounds[i] : bounds[i + 1]]) for i in range(len(texts))]


@functools.cache
def min_hasher(params: MinHashParams) -> MinHasher:
    """This process's MinHasher for `params`: its power tables are built once per process,
    not once per tool call or range (they cost tens of milliseconds)."""
    return MinHasher(params)


def jaccard(a: U64, b: U64) -> float:
    """Exact Jaccard similarity of two sorted distinct hash arrays."""
    if a.size == 0 and b.size == 0:
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def candidate_pairs(
    bands: U64 | Sequence[U64], has: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int64]:
    """(k x 2) row pairs (i < j) that share a band hash; each collision run pairs with its first row.

    `bands` is a (rows x bands) array or a list of such row blocks: one band column is built
    at a time, so the blocks are never joined into one big copy. Rows without shingles never
    pair. Pairs are unique and sorted.
    """
    blocks = [bands] if isinstance(bands, np.ndarray) else list(bands)
    ids = np.flatnonzero(has)
    found: list[npt.NDArray[np.int64]] = []
    for band in range(blocks[0].shape[1] if blocks else 0):
        col = np.concatenate([b[:, band] for b in blocks])[ids]
        order = np.argsort(col, kind="stable")
        ordered = col[order]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            continue
        run = np.cumsum(np.concatenate(([True], ~same)))  # run number of each sorted slot
        run_first = np.flatnonzero(np.concatenate(([True], ~same)))
        members = np.flatnonzero(np.concatenate(([False], same)))
        firsts = ids[order[run_first[run[members] - 1]]]
        others = ids[order[members]]
        found.append(np.stack((np.minimum(firsts, others), np.maximum(firsts, others)), axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(found), axis=0)


def cluster_pairs(pairs: Sequence[tuple[int, int]] | npt.NDArray[np.int64]) -> dict[int, list[int]]:
    """Union-find over pairs: {kept row: [its other members]}, the kept row being the smallest id."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression keeps later finds short
            parent[x], x = root, parent[x]
        return root

    for i, j in pairs:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    clusters: dict[int, list[int]] = {}
    for x in sorted(parent):
        root = find(x)
        if root != x:
            clusters.setdefault(root, []).append(x)
    return clusters
