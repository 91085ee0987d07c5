"""How the report shows numbers and board text: durations and rates in the unit that fits
the span, metrics at four significant digits, titles on one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sprintboard.memory.burndown import Burndown

__all__ = [
    "day_rows",
    "number_text",
    "one_line",
    "rate_text",
    "role_rows",
    "seconds_text",
    "span_text",
    "sprint_rows",
]


def span_text(hours: float | None) -> str:
    """A duration in the unit that fits it: `40 s`, `25 min`, `5.5 h`, `4.0 d`."""
    if hours is None:
        return "-"
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    if hours < 2:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def rate_text(count: int, days: float) -> str:
    """`count` over a span of `days`, per hour when the span is under two days."""
    if days <= 0:
        return "-"
    if days < 2:
        return f"{count / (days * 24):.2f} tasks/h"
    return f"{count / days:.2f} tasks/day"


def seconds_text(seconds: float | None) -> str:
    """`span_text` for a number of seconds."""
    return span_text(None if seconds is None else seconds / 3600)


def number_text(value: float) -> str:
    """A metric as people read it: 4 significant digits, no exponent for everyday sizes."""
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


_CONTROL = dict.fromkeys([*range(0x20), 0x7F], " ")


def one_line(text: str) -> str:
    """Text from the board on one line: newlines and other control characters become spaces
    (a title may hold anything a door accepted)."""
    return text.translate(_CONTROL)


def day_rows(b: Burndown) -> list[list[str]]:
    """Burndown per day: day, open tasks and minutes, done tasks and minutes."""
    return [
        [
            d.day,
            str(d.remaining_tasks),
            str(d.remaining_minutes),
            str(d.done_tasks),
            str(d.done_minutes),
        ]
        for d in b.days
    ]


def sprint_rows(b: Burndown) -> list[list[str]]:
    """Velocity per sprint: sprint, span, done tasks and minutes, rate."""
    return [
        [
            v.sprint,
            seconds_text(v.span_seconds),
            str(v.done_tasks),
            str(v.done_minutes),
            rate_text(v.done_tasks, v.span_seconds / 86400),
        ]
        for v in b.velocity
    ]


def role_rows(b: Burndown) -> list[list[str]]:
    """Per role: done, rate, lead median and max, cycle median and max."""
    return [
        [
            r.role,
            str(r.done_tasks),
            rate_text(r.done_tasks, b.span_seconds / 86400),
            seconds_text(r.lead_median_seconds),
            seconds_text(r.lead_max_seconds),
            seconds_text(r.cycle_median_seconds),
            seconds_text(r.cycle_max_seconds),
        ]
        for r in b.throughput
    ]
