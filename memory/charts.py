"""Small SVG charts for the HTML report: a line (or step) chart and a bar chart.

Written by hand rather than through matplotlib: the page stays self-contained and
byte-stable, text from the board goes through one escape, and no plotting library loads
for `report --html`. The charts are plain SVG 1.1 that any browser and mail client shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "bar_chart", "line_chart"]

_W, _H = 560, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 32, 56
_PLOT_W, _PLOT_H = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: points (x, y) in data units, drawn in `color`."""

    label: str
    points: Sequence[tuple[float, float]]
    color: str = "#1f77b4"
    step: bool = False
    """Hold each value until the next point (a count that changes at events)."""


def _nice_max(value: float) -> float:
    """The smallest 1/2/5 x 10^k at or above `value` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= value)


def _y_ticks(top: float) -> list[float]:
    step = _nice_max(top / 5) if top > 5 else 1.0
    return [i * step for i in range(int(top / step) + 1)]


def _frame(chart_id: str, title: str, y_label: str, top: float) -> list[str]:
    """The svg element, title, y axis with grid lines and the y label."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="chart" role="img" '
        f'aria-labelledby="{chart_id}-title" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<text x="{_W / 2:g}" y="18" text-anchor="middle" class="chart-title">{escape(title)}</text>',
    ]
    for tick in _y_ticks(top):
        y = _TOP + _PLOT_H - tick / top * _PLOT_H
        out.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    out.append(
        f'<text x="12" y="{_TOP + _PLOT_H / 2:g}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_TOP + _PLOT_H / 2:g})">{escape(y_label)}</text>'
    )
    return out


def _x_label(x: float, text: str) -> str:
    y = _TOP + _PLOT_H + 14
    return (
        f'<text x="{x:.1f}" y="{y}" text-anchor="end" '
        f'transform="rotate(-35 {x:.1f} {y})">{escape(text)}</text>'
    )


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    y_label: str,
    x_text: Callable[[float], str],
    x_ticks: Sequence[float] = (),
) -> str:
    """Lines over a numeric x axis (e.g. seconds since the epoch); `x_text` labels a tick
    (default ticks: every point of the first series, thinned to at most eight)."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    top = _nice_max(max(ys, default=0))
    low, high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    width = (high - low) or 1.0

    def px(x: float) -> float:
        return _LEFT + (x - low) / width * _PLOT_W

    def py(y: float) -> float:
        return _TOP + _PLOT_H - y / top * _PLOT_H

    out = _frame(chart_id, title, y_label, top)
    ticks = list(x_ticks)
    if not ticks and series:
        ticks = [x for x, _ in series[0].points]
    stride = max(1, math.ceil(len(ticks) / 8))
    out += [_x_label(px(x), x_text(x)) for x in ticks[::stride]]
    for s in series:
        coords: list[str] = []
        for i, (x, y) in enumerate(s.points):
            if s.step and i:
                coords.append(f"{px(x):.1f},{py(s.points[i - 1][1]):.1f}")
            coords.append(f"{px(x):.1f},{py(y):.1f}")
        out.append(
            f'<polyline fill="none" stroke="{s.color}" stroke-width="2" '
            f'points="{" ".join(coords)}"><title>{escape(s.label)}</title></polyline>'
        )
        out += [
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{s.color}">'
            f"<title>{escape(x_text(x))}: {y:g}</title></circle>"
            for x, y in s.points
        ]
    legend_x = _W - _RIGHT - 160  # top right: a burndown's lines start high on the left
    for i, s in enumerate(series):
        y = _TOP + 12 + 16 * i
        out.append(
            f'<rect x="{legend_x}" y="{y - 9}" width="10" height="10" fill="{s.color}"/>'
            f'<text x="{legend_x + 14}" y="{y}">{escape(s.label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, float]], *, y_label: str) -> str:
    """One bar per (label, value); labels thinned to at most twelve when there are many."""
    top = _nice_max(max((v for _, v in bars), default=0))
    out = _frame(chart_id, title, y_label, top)
    slot = _PLOT_W / max(len(bars), 1)
    stride = max(1, math.ceil(len(bars) / 12))
    for i, (label, value) in enumerate(bars):
        height = value / top * _PLOT_H
        x = _LEFT + i * slot
        out.append(
            f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{_TOP + _PLOT_H - height:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="#2ca02c" data-value="{value:g}">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
        if i % stride == 0:
            out.append(_x_label(x + slot / 2, label))
    out.append("</svg>")
    return "\n".join(out)
