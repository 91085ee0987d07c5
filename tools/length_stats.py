"""Row length histograms in power-of-two bins: O(1) memory however many rows stream past."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

__all__ = ["LengthHistogram", "LengthStats", "write_histogram_png"]

_BINS = 48


class LengthHistogram(BaseModel, frozen=True, extra="forbid"):
    """Counts of rows per length bin; bin i holds lengths in [edges[i], edges[i+1])."""

    unit: str
    """`chars` or `tokens`."""
    edges: list[int]
    counts: list[int]
    rows: int
    min: int
    max: int
    mean: float


class LengthStats:
    """Accumulates a histogram: bin 0 is length 0, bin i holds [2**(i-1), 2**i)."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.counts = [0] * _BINS
        self.rows = 0
        self.total = 0
        self.min: int | None = None
        self.max = 0

    def add(self, length: int) -> None:
        """Count one row of `length` units."""
        self.counts[min(length.bit_length(), _BINS - 1)] += 1
        self.rows += 1
        self.total += length
        if self.min is None or length < self.min:
            self.min = length
        if length > self.max:
            self.max = length

    def merge(self, other: LengthStats) -> None:
        """Add the rows `other` counted (a later range of the same run) to these."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.rows += other.rows
        self.total += other.total
        if other.min is not None and (self.min is None or other.min < self.min):
            self.min = other.min
        self.max = max(self.max, other.max)

    def histogram(self) -> LengthHistogram:
        """The histogram so far, with empty bins above the longest row left off."""
        last = max((i for i, c in enumerate(self.counts) if c), default=0)
        edges = [0] + [2**i for i in range(last + 1)]
        return LengthHistogram(
            unit=self.unit,
            edges=edges,
            counts=self.counts[: last + 1],
            rows=self.rows,
            min=self.min or 0,
            max=self.max,
            mean=round(self.total / self.rows, 3) if self.rows else 0.0,
        )


def write_histogram_png(histograms: list[LengthHistogram], path: Path) -> Path:
    """Draw each histogram as bars over log2 length bins into one PNG."""
    # matplotlib is slow to import and needs no display: load it only here, with Agg.
    import matplotlib

    matplotlib.use("Agg")
    # matplotlib loads only when a chart is drawn (start-up time)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(histograms), 1, figsize=(8, 3 * len(histograms)), squeeze=False)
    for ax, hist in zip(axes[:, 0], histograms, strict=True):
        labels = [f"<{e}" if i else "0" for i, e in enumerate(hist.edges[1:])]
        ax.bar(range(len(hist.counts)), hist.counts)
        ax.set_xticks(range(len(hist.counts)), labels, rotation=60, fontsize=7)
        ax.set_xlabel(f"row length ({hist.unit})")
        ax.set_ylabel("rows")
        ax.set_title(f"{hist.rows} rows, mean {hist.mean:.0f} {hist.unit}, max {hist.max}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
