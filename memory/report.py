"""`sprintboard report`: burndown and velocity as text and PNG, throughput and lead/cycle
times per role and per task, the training runs' metrics.

matplotlib is imported only when a PNG is drawn (it costs ~0.5 s), through its object API
with the Agg canvas: no pyplot, no global state, no display needed. `--html` writes one
self-contained page (memory/report_html.py) from the same computed `Burndown`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sprintboard.board.clock import parse_ts
from sprintboard.files import atomic_write
from sprintboard.memory.burndown import Burndown, compute_burndown
from sprintboard.memory.display import (
    day_rows,
    number_text,
    one_line,
    rate_text,
    role_rows,
    seconds_text,
    span_text,
    sprint_rows,
)
from sprintboard.memory.report_html import render_html
from sprintboard.memory.standup import StandupSource

__all__ = [
    "ReportResult",
    "rate_text",
    "render_html",
    "render_png",
    "report_text",
    "span_text",
    "write_report",
]


class ReportResult(BaseModel, frozen=True, extra="forbid"):
    """What `write_report` computed and wrote."""

    burndown: Burndown
    text: str
    png: Path
    html: Path | None = None


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*r).rstrip() for r in rows
    ]


def report_text(b: Burndown) -> str:
    """The report as plain text tables."""
    title = f"Sprint {b.sprint}" if b.sprint else "No sprint started"
    out = [one_line(title + (f" — {b.goal}" if b.goal else "")) + f" (as of {b.as_of} UTC)", ""]
    out += ["Burndown (end of day)"]
    out += _table(["day", "remaining", "remaining min", "done", "done min"], day_rows(b))
    out += ["", "Velocity per sprint"]
    out += _table(["sprint", "span", "done", "done min", "rate"], sprint_rows(b))
    out += ["", f"Tasks done per {b.bucket} (current sprint)"]
    out += _table(
        [f"{b.bucket} from", "done", "done min"],
        [
            [_bucket_label(v.start, b.bucket), str(v.done_tasks), str(v.done_minutes)]
            for v in b.velocity_buckets
            if v.done_tasks
        ],
    )
    out += ["", f"Throughput per role (current sprint, {seconds_text(b.span_seconds)} so far)"]
    out += _table(
        ["role", "done", "rate", "lead median", "lead max", "cycle median", "cycle max"],
        role_rows(b),
    )
    out += ["", "Lead time per task (lead: from creation; cycle: from first claim)"]
    out += _table(
        ["task", "role", "lead", "cycle", "done", "title"],
        [
            [
                t.task,
                t.role,
                seconds_text(t.lead_seconds),
                seconds_text(t.cycle_seconds),
                t.done[:16].replace("T", " "),
                one_line(t.title),
            ]
            for t in b.lead_times
        ],
    )
    if b.training:
        out += ["", "Training runs (metrics the train/eval steps recorded)"]
        out += _table(
            ["task", "status", "steps", "metrics", "title"],
            [
                [
                    r.task,
                    r.status,
                    ",".join(r.tools),
                    " ".join(f"{k}={number_text(v)}" for k, v in r.metrics.items()) or "-",
                    one_line(r.title),
                ]
                for r in b.training
            ],
        )
    return "\n".join(out) + "\n"


def _bucket_label(start: str, bucket: str) -> str:
    moment = parse_ts(start)
    return moment.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H:%M")


def render_png(b: Burndown) -> bytes:
    """Burndown (remaining tasks and minutes per day) and velocity (done per day) as a PNG."""
    # matplotlib loads only when a chart is drawn (start-up time)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    burn, velocity = fig.subplots(1, 2)
    days = [d.day[5:] for d in b.days]
    if len(b.days) < 2 and len(b.timeline) >= 2:
        _plot_timeline(burn, b)
    else:
        _plot_days(burn, b, days)
    velocity.bar(
        [_bucket_label(v.start, b.bucket)[5:] for v in b.velocity_buckets],
        [v.done_tasks for v in b.velocity_buckets],
        color="tab:green",
    )
    velocity.yaxis.set_major_locator(MaxNLocator(integer=True))
    velocity.set_title(f"Velocity (tasks done per {b.bucket})")
    velocity.set_ylabel("tasks")
    for axis in (burn, velocity):
        axis.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    buffer = io.BytesIO()
    # No "Software" entry: the same numbers give the same bytes across runs.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def write_report(
    source: StandupSource, out_dir: Path | None = None, *, as_html: bool = False
) -> ReportResult:
    """Compute the report from the journal and write `report-YYYY-MM-DD.png` (and `.html`)."""
    now = source.clock.now()
    burndown = compute_burndown(source.events(), now)
    text = report_text(burndown)
    target = out_dir or source.root / "memory"
    target.mkdir(parents=True, exist_ok=True)
    stem = f"report-{now.date().isoformat()}"
    png = render_png(burndown)
    png_path = target / f"{stem}.png"
    atomic_write(png_path, png)
    html_path = None
    if as_html:
        html_path = target / f"{stem}.html"
        atomic_write(html_path, render_html(burndown).encode("utf-8"))
    return ReportResult(burndown=burndown, text=text, png=png_path, html=html_path)


def _plot_days(burn: Any, b: Burndown, days: list[str]) -> None:
    """Remaining tasks and estimated minutes at the end of each day."""
    # matplotlib loads only when a chart is drawn (start-up time)
    from matplotlib.ticker import MaxNLocator

    remaining = [d.remaining_tasks for d in b.days]
    burn.plot(days, remaining, marker="o", label="remaining tasks")
    minutes = burn.twinx()
    minutes.plot(
        days,
        [d.remaining_minutes for d in b.days],
        color="tab:orange",
        alpha=0.7,
        label="remaining minutes",
    )
    minutes.set_ylabel("remaining minutes (estimates)")
    minutes.set_ylim(bottom=0)
    burn.set_ylim(bottom=0)
    burn.yaxis.set_major_locator(MaxNLocator(integer=True))
    burn.set_title(f"Burndown — {b.sprint or 'no sprint'}")
    burn.set_ylabel("tasks")
    lines = burn.get_lines() + minutes.get_lines()
    burn.legend(lines, [ln.get_label() for ln in lines], loc="lower left")


def _plot_timeline(burn: Any, b: Burndown) -> None:
    """Open tasks after every change, for a sprint shorter than two days."""
    # matplotlib loads only when a chart is drawn (start-up time)
    from matplotlib.dates import DateFormatter
    from matplotlib.ticker import MaxNLocator

    times = [parse_ts(p.ts) for p in b.timeline]
    burn.step(
        times, [p.remaining_tasks for p in b.timeline], where="post", marker="o", label="open tasks"
    )
    burn.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    burn.set_ylim(bottom=0)
    burn.yaxis.set_major_locator(MaxNLocator(integer=True))
    burn.set_title(f"Burndown — {b.sprint or 'no sprint'} (UTC)")
    burn.set_ylabel("open tasks")
    burn.legend(loc="upper right")
