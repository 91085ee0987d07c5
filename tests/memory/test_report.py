"""`sprintboard report`: burndown, velocity, throughput per role, lead times; PNG and HTML."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sprintboard.memory.burndown import compute_burndown
from sprintboard.memory.report import (
    rate_text,
    render_html,
    report_text,
    span_text,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_burndown_counts_each_day_of_the_sprint(story: Any) -> None:
    b = compute_burndown(story.board.events(), story.clock.now())

    assert b.sprint == "S1"
    assert [(d.day, d.remaining_tasks, d.done_tasks) for d in b.days] == [
        ("2026-11-19", 8, 0),
        ("2026-11-20", 8, 0),
        ("2026-11-21", 8, 0),
        ("2026-11-22", 8, 0),
        ("2026-11-23", 7, 1),
    ]
    # T001 is 60-90 min: 75 of the 630 estimated minutes were burnt on the 23rd.
    assert (b.days[0].remaining_minutes, b.days[-1].remaining_minutes) == (630, 555)
    assert [(v.sprint, v.done_tasks, v.done_minutes) for v in b.velocity] == [("S1", 1, 75)]
    assert [(r.role, r.done_tasks) for r in b.throughput] == [("builder", 1)]


def test_lead_time_runs_from_creation_and_cycle_time_from_first_claim(story: Any) -> None:
    b = compute_burndown(story.board.events(), story.clock.now())

    [lead] = b.lead_times
    # created 2026-11-19 09:00, claimed 2026-11-23 08:00, done 08:25
    assert (lead.task, lead.lead_hours, lead.cycle_hours) == ("T001", 95.42, 0.42)


def test_text_report_has_every_table(story: Any) -> None:
    text = report_text(compute_burndown(story.board.events(), story.clock.now()))

    for title in ("Burndown", "Velocity per sprint", "Throughput per role", "Lead time per task"):
        assert title in text
    assert re.search(r"^2026-11-23\s+7\s+555\s+1\s+75$", text, re.M)
    assert re.search(
        r"^T001\s+builder\s+4\.0 d\s+25 min\s+2026-11-23 08:25\s+Audit sources$", text, re.M
    )
    assert re.search(r"^S1\s+\S+ [a-z]+\s+1\s+75\s+\d+\.\d\d tasks/(h|day)$", text, re.M)


@pytest.mark.parametrize(
    ("hours", "shown"),
    [(None, "-"), (0.005, "18 s"), (0.42, "25 min"), (5.5, "5.5 h"), (95.42, "4.0 d")],
)
def test_durations_use_the_unit_that_fits(hours: float | None, shown: str) -> None:
    assert span_text(hours) == shown


def test_a_sprint_of_minutes_reports_per_hour_not_per_day() -> None:
    assert rate_text(5, 15 / 1440) == "20.00 tasks/h"
    assert rate_text(6, 3.0) == "2.00 tasks/day"
    assert rate_text(1, 0.0) == "-"


def test_report_writes_a_png_and_a_self_contained_page(story: Any) -> None:
    result = write_report(story.board, as_html=True)

    png = result.png.read_bytes()
    assert result.png.name == "report-2026-11-23.png" and png.startswith(PNG_MAGIC)
    assert result.html is not None
    page = result.html.read_text("utf-8")
    assert page.count("<svg") == 2  # burndown and velocity, inline
    assert not re.search(r'(src|href)="', page)  # nothing fetched from elsewhere
    # same journal, same clock: same bytes
    assert write_report(story.board).png.read_bytes() == png


def test_html_escapes_text_from_the_board(story: Any) -> None:
    b = compute_burndown(story.board.events(), story.clock.now())
    page = render_html(b.model_copy(update={"goal": "title <script>alert(1)</script>"}))

    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_board_without_a_sprint_still_reports(tmp_path: Any) -> None:
    from sprintboard.board.clock import CounterIds, FrozenClock
    from sprintboard.board.local import LocalBoard

    board = LocalBoard(tmp_path, host="alpha", clock=FrozenClock(), ids=CounterIds())
    board.create_tasks([{"id": "T1", "title": "lonely", "status": "ready"}])

    result = write_report(board)

    assert result.burndown.sprint is None and result.burndown.days == []
    assert result.text.startswith("No sprint started")
    assert result.png.read_bytes().startswith(PNG_MAGIC)


def test_velocity_counts_in_the_slice_that_fits_the_sprint(story: Any, tmp_path: Any) -> None:
    from sprintboard.board.clock import CounterIds, FrozenClock
    from sprintboard.board.local import LocalBoard
    from sprintboard.board.scheduling import BoardPolicy

    long = compute_burndown(story.board.events(), story.clock.now())
    # four days and an hour: one slice per day, T001 done on the last
    assert long.bucket == "day" and long.span_seconds == 4 * 86400 + 3600
    assert [(v.start[:10], v.done_tasks) for v in long.velocity_buckets] == [
        ("2026-11-19", 0),
        ("2026-11-20", 0),
        ("2026-11-21", 0),
        ("2026-11-22", 0),
        ("2026-11-23", 1),
    ]

    clock = FrozenClock()
    board = LocalBoard(
        tmp_path / "short",
        host="alpha",
        policy=BoardPolicy(owner="alpha", open_claims=True),
        clock=clock,
        ids=CounterIds(),
    )
    board.start_sprint("S1", "short")
    board.create_tasks([{"id": "T1", "title": "one", "status": "ready"}])
    clock.advance(150)
    board.move("T1", "done", "human:ana", force=True)
    clock.advance(60)
    short = compute_burndown(board.events(), clock.now())
    # three and a half minutes: one slice per minute, T1 done in the third
    assert short.bucket == "minute"
    assert [v.done_tasks for v in short.velocity_buckets] == [0, 0, 1, 0]
    assert "Tasks done per minute" in report_text(short)
