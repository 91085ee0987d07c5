"""`report --html`: one self-contained page a person can send to a colleague.

Inline CSS, the burndown and velocity charts as inline SVG (memory/charts.py), and tables
of velocity, throughput and lead/cycle time per role and per task, and the training runs'
metrics. Nothing is fetched: no script, no stylesheet link, no font. Every piece of text
from the board passes `_text` (control characters to spaces, then HTML-escaped), so a
title holding `<script>` or a newline shows as written and runs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from sprintboard.board.clock import parse_ts
from sprintboard.memory.burndown import Burndown
from sprintboard.memory.charts import Series, bar_chart, line_chart
from sprintboard.memory.display import (
    day_rows,
    number_text,
    one_line,
    rate_text,
    role_rows,
    seconds_text,
    sprint_rows,
)
from sprintboard.memory.history import format_minute
from sprintboard.memory.training import TrainingRun

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:72em;
color:#1b1f24;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #d0d7de}
h3{font-size:1em;margin-bottom:.3em}
.meta{color:#57606a;margin-top:0}
.charts{display:flex;flex-wrap:wrap;gap:1em}
svg.chart{border:1px solid #d0d7de;border-radius:6px;background:#fff;max-width:100%;height:auto}
svg.chart text{font-size:11px;fill:#57606a}svg.chart .chart-title{font-size:13px;fill:#1b1f24}
svg.chart .grid{stroke:#eaeef2}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37}.fail{color:#cf222e}.muted{color:#57606a}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{color:#57606a}dd{margin:0}
"""


def _text(value: object) -> str:
    return escape(one_line(str(value)))


def _table(
    table_id: str, header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]
) -> str:
    """A table; cells are escaped here, `numeric` columns are right-aligned."""
    if not rows:
        return f'<p id="{table_id}" class="muted">None yet.</p>'
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_text(c)}</td>' if i in numeric else f"<td>{_text(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>'


def _burndown_chart(b: Burndown) -> str:
    title = f"Burndown — {b.sprint or 'no sprint'}"
    if len(b.days) < 2 and len(b.timeline) >= 2:  # a sprint of hours: one point per change
        points = [(parse_ts(p.ts).timestamp(), float(p.remaining_tasks)) for p in b.timeline]
        as_of = datetime.strptime(b.as_of, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()
        if as_of > points[-1][0]:  # hold the last count until the report's moment
            points.append((as_of, points[-1][1]))
        short = b.span_seconds < 86400
        return line_chart(
            "burndown-chart",
            title + " (UTC)",
            [Series("open tasks", points, step=True)],
            y_label="open tasks",
            x_text=lambda x: _clock(x, "%H:%M:%S" if short else "%m-%d %H:%M"),
        )
    day_points = [(float(i), float(d.remaining_tasks)) for i, d in enumerate(b.days)]
    estimates = [(float(i), d.remaining_minutes / 60) for i, d in enumerate(b.days)]
    days = [d.day[5:] for d in b.days]
    return line_chart(
        "burndown-chart",
        title + " (end of each day)",
        [
            Series("remaining tasks", day_points),
            Series("remaining estimate (h)", estimates, color="#ff7f0e"),
        ],
        y_label="tasks / hours",
        x_text=lambda x: days[int(x)] if days else "",
    )


def _clock(seconds: float, fmt: str) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(fmt)


def _bucket_text(start: str, bucket: str) -> str:
    moment = parse_ts(start)
    if bucket == "day":
        return moment.strftime("%m-%d")
    return moment.strftime("%H:%M") if bucket != "hour" else moment.strftime("%m-%d %H:00")


def _velocity_chart(b: Burndown) -> str:
    bars = [(_bucket_text(v.start, b.bucket), float(v.done_tasks)) for v in b.velocity_buckets]
    return bar_chart(
        "velocity-chart", f"Velocity — tasks done per {b.bucket}", bars, y_label="tasks done"
    )


def _training(runs: Sequence[TrainingRun]) -> str:
    if not runs:
        return '<p id="training" class="muted">No task of this board has a train or eval step.</p>'
    parts = ['<div id="training">']
    for run in runs:
        parts.append(
            f'<h3 id="training-{_text(run.task)}">{_text(run.task)} — {_text(run.title)} '
            f'<span class="muted">({_text(run.status)}; steps: {_text(", ".join(run.tools))})'
            "</span></h3>"
        )
        parts.append(
            _table(
                f"metrics-{escape(run.task)}",
                ["metric", "value"],
                [[k, number_text(v)] for k, v in run.metrics.items()],
                {1},
            )
        )
        for check in run.checks:
            mark = "pass" if check.done else "fail" if check.result else "muted"
            said = check.result or ("passed" if check.done else "not checked yet")
            parts.append(
                f'<p class="{mark}">{"✓" if check.done else "✗" if check.result else "·"} '
                f"{_text(check.text)} <code>{_text(check.check)}</code>: {_text(said)}</p>"
            )
        if run.artifacts:
            parts.append(
                _table(
                    f"artifacts-{escape(run.task)}",
                    ["artifact", "bytes", "sha256"],
                    [[a.path, str(a.size), a.sha256[:12]] for a in run.artifacts],
                    {1},
                )
            )
    parts.append("</div>")
    return "\n".join(parts)


def render_html(b: Burndown) -> str:
    """The whole page for one computed report."""
    title = f"Sprint report — {b.sprint or 'no sprint'}"
    done = sum(r.done_tasks for r in b.throughput)
    remaining = b.days[-1].remaining_tasks if b.days else None
    facts = [
        ("as of", f"{b.as_of} UTC"),
        ("sprint so far", seconds_text(b.span_seconds) if b.sprint else "-"),
        ("done this sprint", str(done)),
        ("still open", "-" if remaining is None else str(remaining)),
        ("velocity", rate_text(done, b.span_seconds / 86400) if b.sprint else "-"),
    ]
    sections = [
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        f'<p class="meta">{_text(b.goal)}</p>' if b.goal else "",
        "<dl>" + "".join(f"<dt>{_text(k)}</dt><dd>{_text(v)}</dd>" for k, v in facts) + "</dl>",
        '<h2>Burndown and velocity</h2><div class="charts">',
        _burndown_chart(b),
        _velocity_chart(b),
        "</div>",
        "<h2>Throughput and times per role</h2>",
        '<p class="muted">Lead time runs from a task\'s creation to done, cycle time from its '
        "first claim to done; over the tasks done in this sprint.</p>",
        _table(
            "roles",
            ["role", "done", "rate", "lead median", "lead max", "cycle median", "cycle max"],
            role_rows(b),
            {1, 3, 4, 5, 6},
        ),
        "<h2>Lead and cycle time per task</h2>",
        _table(
            "tasks",
            ["task", "title", "role", "created", "first claim", "done", "lead", "cycle"],
            [
                [
                    t.task,
                    t.title,
                    t.role,
                    format_minute(t.created),
                    format_minute(t.claimed) if t.claimed else "-",
                    format_minute(t.done),
                    seconds_text(t.lead_seconds),
                    seconds_text(t.cycle_seconds),
                ]
                for t in b.lead_times
            ],
            {6, 7},
        ),
        "<h2>Training runs</h2>",
        _training(b.training),
        "<h2>Velocity per sprint</h2>",
        _table(
            "sprints",
            ["sprint", "span", "done", "done (estimated min)", "rate"],
            sprint_rows(b),
            {2, 3},
        ),
        "<h2>Burndown per day</h2>",
        _table(
            "days",
            ["day", "open", "open (estimated min)", "done", "done (estimated min)"],
            day_rows(b),
            {1, 2, 3, 4},
        ),
        '<p class="muted">Written by <code>sprintboard report --html</code> from the board\'s '
        "journal.</p>",
        "</body></html>\n",
    ]
    return "\n".join(s for s in sections if s)
