"""Issue 27 item 8: `report --html` is a page a person would send: both charts as inline SVG,
throughput and lead/cycle time per role and per task in units that fit an hour-long sprint,
the training task's eval metrics, and text from the board escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Artifact
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.memory.burndown import compute_burndown
from sprintboard.memory.report import report_text, write_report
from sprintboard.memory.report_html import render_html

HOSTILE = '<script>alert(1)</script> & "more"'
CONTROL = "<img src=x onerror=alert(1)>\nsecond line\x07\x1b[31m red"
"""The board's doors refuse control characters in a title; a journal from elsewhere (an
older version, an edited file) may still hold them, so the page must survive them too."""
ROLES = {"builder-1": "builder", "auditor-1": "auditor"}


def _board(root: Path) -> tuple[LocalBoard, FrozenClock]:
    """An hour-long sprint, all UTC on 2026-12-01 (minutes after 10:00):
    T1 builder   created 0, claimed 5, done 25   -> lead 25 min, cycle 20 min
    T2 builder   created 0, claimed 10, done 40  -> lead 40 min, cycle 30 min (hostile title)
    T3 auditor   created 0, done 30 by a person  -> lead 30 min, no cycle
    T4 builder   created 0, claimed 30, done 50  -> lead 50 min, cycle 20 min; train + eval
    T5 builder   never done. The clock stops at 11:00."""
    clock = FrozenClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    policy = BoardPolicy(
        owner="alpha", agent_roles=ROLES, agent_hosts=dict.fromkeys(ROLES, "alpha")
    )
    board = LocalBoard(root, host="alpha", policy=policy, clock=clock, ids=CounterIds())
    board.start_sprint("S7", goal="a <b>bold</b> goal", actor="human:ana")
    train_steps = [
        {"tool": "train", "config": {"model": "models/tiny", "data": "data", "output": "out"}},
        {"tool": "eval", "config": {"model": "models/tiny", "data": "data"}},
    ]
    board.create_tasks(
        [
            {"id": "T1", "title": "Audit", "status": "ready"},
            {"id": "T2", "title": HOSTILE, "status": "ready"},
            {"id": "T3", "title": "Review", "status": "ready", "role": "auditor"},
            {
                "id": "T4",
                "title": "Train LoRA",
                "status": "ready",
                "steps": train_steps,
                "criteria": [{"text": "val loss low", "check": "metric val_loss < 2"}],
            },
            {"id": "T5", "title": "Docs", "status": "ready"},
        ],
        actor="human:ana",
    )

    def at(minute: int) -> None:
        target = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp() + minute * 60
        clock.advance(target - clock.now().timestamp())

    at(5)
    t1 = board.claim("T1", agent="builder-1", host="alpha", ttl=3600)
    at(10)
    t2 = board.claim("T2", agent="builder-1", host="alpha", ttl=3600)
    at(20)
    board.submit("T1", t1.fence, artifacts=[], metrics={})
    at(25)
    board.move("T1", "done", actor="auditor-1@alpha")
    at(30)
    board.move("T3", "done", actor="human:ana", force=True)
    t4 = board.claim("T4", agent="builder-1", host="alpha", ttl=3600)
    at(40)
    board.submit("T2", t2.fence, artifacts=[], metrics={})
    board.move("T2", "done", actor="auditor-1@alpha")
    at(45)
    board.submit(
        "T4",
        t4.fence,
        artifacts=[Artifact("runs/T4/1/adapter/adapters.safetensors", "cd" * 32, 4096)],
        metrics={"val_loss": 1.23456, "test_loss": 1.5, "test_ppl": 4.4817, "steps": 20.0},
    )
    at(50)
    board.move("T4", "done", actor="human:ana", force=True)
    at(60)
    return board, clock


class Page(HTMLParser):
    """What the report page holds: start tags, svg ids, and each table's rows of cell text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attrd = dict(attrs)
        self.tags.append((tag, attrd))
        if tag == "table":
            self._table = attrd.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str) -> dict[str, list[str]]:
        """Body rows by their first cell."""
        return {r[0]: r[1:] for r in self.tables[table][1:]}

    def by_id(self, tag: str, ident: str) -> dict[str, str | None]:
        return next(a for t, a in self.tags if t == tag and a.get("id") == ident)


@pytest.fixture
def page(tmp_path: Path) -> tuple[Page, str]:
    board, _ = _board(tmp_path / "ws")
    result = write_report(board, tmp_path / "out", as_html=True)
    assert result.html is not None
    text = result.html.read_text("utf-8")
    parsed = Page()
    parsed.feed(text)
    parsed.close()
    return parsed, text


def test_the_page_is_self_contained_html_with_both_charts(page: tuple[Page, str]) -> None:
    parsed, text = page
    tags = [t for t, _ in parsed.tags]
    assert tags[0] == "html" and text.startswith("<!doctype html>")
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not [a for _, a in parsed.tags if "src" in a or "href" in a]  # nothing fetched
    assert "style" in tags
    burndown = parsed.by_id("svg", "burndown-chart")
    velocity = parsed.by_id("svg", "velocity-chart")
    assert burndown["role"] == velocity["role"] == "img"
    # an hour-long sprint counts velocity in 5-minute slices: 10:00 .. 11:00 is 13 bars,
    # the four done tasks in the slices of 10:25, 10:30, 10:40 and 10:50
    bars = [a["data-value"] for t, a in parsed.tags if t == "rect" and a.get("class") == "bar"]
    assert len(bars) == 13 and [i for i, v in enumerate(bars) if v != "0"] == [5, 6, 8, 10]
    assert "Velocity — tasks done per 5 min" in parsed.text
    # the burndown steps down once per finished task: 5 open, then 4, 3, 2, 1, held to 11:00
    assert sum(1 for t, _ in parsed.tags if t == "circle") == 6
    assert "11:00:00: 1" in parsed.text


def test_the_tables_have_lead_and_cycle_time_per_task_and_role(page: tuple[Page, str]) -> None:
    parsed, _ = page
    tasks = parsed.rows("tasks")
    assert set(tasks) == {"T1", "T2", "T3", "T4"}  # T5 is not done
    # columns: title, role, created, first claim, done, lead, cycle
    assert tasks["T1"] == [
        "Audit",
        "builder",
        "2026-12-01 10:00",
        "2026-12-01 10:05",
        "2026-12-01 10:25",
        "25 min",
        "20 min",
    ]
    assert tasks["T2"][-2:] == ["40 min", "30 min"]
    assert tasks["T3"][-3:] == ["2026-12-01 10:30", "30 min", "-"]
    assert tasks["T4"][-2:] == ["50 min", "20 min"]
    roles = parsed.rows("roles")
    # columns: done, rate, lead median, lead max, cycle median, cycle max
    assert roles["builder"] == ["3", "3.00 tasks/h", "40 min", "50 min", "20 min", "30 min"]
    assert roles["auditor"] == ["1", "1.00 tasks/h", "30 min", "30 min", "-", "-"]


def test_the_training_task_shows_its_eval_metrics_and_artifacts(page: tuple[Page, str]) -> None:
    parsed, _ = page
    assert parsed.rows("metrics-T4") == {
        "steps": ["20"],
        "test_loss": ["1.5"],
        "test_ppl": ["4.482"],
        "val_loss": ["1.235"],
    }
    assert parsed.rows("artifacts-T4") == {
        "runs/T4/1/adapter/adapters.safetensors": ["4096", "cdcdcdcdcdcd"]
    }
    assert "metrics-T1" not in parsed.tables  # no train/eval step, not a training run
    assert "metric val_loss < 2" in parsed.text


def test_a_hostile_title_is_shown_as_written_and_runs_nothing(
    page: tuple[Page, str], tmp_path: Path
) -> None:
    parsed, text = page
    assert "<script" not in text and "<b>" not in text
    assert parsed.rows("tasks")["T2"][0] == HOSTILE  # the markup is text
    assert "a <b>bold</b> goal" in parsed.text

    board, _ = _board(tmp_path / "other")
    b = compute_burndown(board.events(), board.clock.now())
    rows = [r.model_copy(update={"title": CONTROL}) for r in b.lead_times]
    hostile = render_html(b.model_copy(update={"lead_times": rows}))
    assert "<img" not in hostile and "\x1b" not in hostile and "\x07" not in hostile
    again = Page()
    again.feed(hostile)
    # newline, bell and escape become spaces, one cell per title
    assert again.rows("tasks")["T1"][0] == "<img src=x onerror=alert(1)> second line  [31m red"


def test_json_and_html_show_one_computation(tmp_path: Path) -> None:
    board, _ = _board(tmp_path / "ws")
    b = compute_burndown(board.events(), board.clock.now())
    assert (b.bucket, b.span_seconds) == ("5 min", 3600)
    assert [(r.role, r.lead_median_seconds, r.cycle_median_seconds) for r in b.throughput] == [
        ("auditor", 1800, None),
        ("builder", 2400, 1200),
    ]
    assert [(r.task, r.tools, r.metrics["val_loss"]) for r in b.training] == [
        ("T4", ["train", "eval"], 1.23456)
    ]
    assert render_html(b) == render_html(b)  # the same numbers give the same page
    text = report_text(b)
    assert HOSTILE in text
    assert "val_loss=1.235" in text


def test_report_json_on_the_cli_carries_the_same_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sprintboard.cli import main
    from sprintboard.workspace import init_workspace

    root = init_workspace(tmp_path / "ws", hosts=[("alpha", [])], git=False)
    capsys.readouterr()
    for args in (["add", "T1", "one"], ["move", "T1", "done", "--force"]):
        try:
            main([*args, "-w", str(root)])
        except SystemExit as exc:
            assert exc.code in (0, None)
    capsys.readouterr()
    try:
        main(["report", "--json", "--html", "-w", str(root)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    doc = orjson.loads(capsys.readouterr().out)
    assert [t["task"] for t in doc["burndown"]["lead_times"]] == ["T1"]
    assert doc["html"].endswith(".html") and Path(doc["html"]).read_text("utf-8").count("<svg") == 2
