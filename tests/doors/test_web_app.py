"""The web board's API: every action lands as an event; a stale page gets a 409; the stream
sends the changed cards, or asks for a refetch."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from sprintboard.board.local import LocalBoard
from sprintboard.doors.web.app import build_app
from sprintboard.doors.web.feed import Subscription, sse
from sprintboard.doors.web.page_data import BoardDelta

PageClient = Callable[[Starlette], TestClient]


def test_board_page_has_columns_graph_and_statuses(
    web_board: LocalBoard, page_client: PageClient
) -> None:
    client = page_client(build_app(web_board))
    assert "EventSource" in client.get("/").text
    view = client.get("/api/board").json()
    assert [t["id"] for t in view["board"]["tasks"]] == ["T1", "T2"]
    assert view["board"]["tasks"][1]["column"] == "Backlog"
    assert "blocked" in view["statuses"] and set(view["graph"]) == {"critical_path", "phases"}


def test_the_page_gets_a_burndown_png_a_rendered_standup_and_the_whole_task(
    web_board: LocalBoard, page_client: PageClient
) -> None:
    memory = web_board.root / "memory"
    memory.mkdir(exist_ok=True)
    (memory / "2026-12-07.md").write_text("# Standup\n\n- **T1** <script>x</script>\n", "utf-8")
    web_board.note("T1", "rows counted", "human:ana")
    client = page_client(build_app(web_board))
    png = client.get("/api/burndown.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    html = client.get("/api/board").json()["standup_html"]
    assert "<strong>T1</strong>" in html and "<script>" not in html and "&lt;script&gt;" in html
    task = client.get("/api/tasks/T1").json()
    assert task["id"] == "T1" and task["notes"][0]["text"] == "rows counted"
    assert client.get("/api/tasks/T404").status_code == 404
    page = client.get("/").text
    assert 'id="legend"' in page and "critical path" in page


def test_move_block_and_decide_land_as_events(
    web_board: LocalBoard, page_client: PageClient
) -> None:
    client = page_client(build_app(web_board))
    r = client.post(
        "/api/tasks/T1/move",
        json={
            "to": "blocked",
            "expected": "ready",
            "reason": "waiting on data",
            "actor": "human:ana",
        },
    )
    assert r.status_code == 200, r.text
    assert (
        client.post(
            "/api/decisions", json={"text": "Mix 40/25/20/10/5", "actor": "human:ana"}
        ).status_code
        == 200
    )
    events = web_board.events()
    move = [e for e in events if e.op == "task.move" and e.actor == "human:ana"]
    assert move and move[0].fields["reason"] == "waiting on data"
    assert web_board.snapshot().decisions[-1].text == "Mix 40/25/20/10/5"


def test_a_stale_page_gets_a_conflict_not_an_overwrite(
    web_board: LocalBoard, page_client: PageClient
) -> None:
    client = page_client(build_app(web_board))
    seen = client.get("/api/board").json()["board"]["tasks"][0]
    web_board.claim("T1", agent="builder-alpha", host="alpha", ttl=600)  # someone else acted since
    r = client.post(
        "/api/tasks/T1/move", json={"to": "blocked", "expected": seen["status"], "reason": "x"}
    )
    assert r.status_code == 409 and "now in_progress" in r.json()["error"]
    r = client.post("/api/tasks/T1/edit", json={"expect_updated": seen["updated"], "priority": 5})
    assert r.status_code == 409 and "reload" in r.json()["error"]
    assert web_board.snapshot().tasks["T1"].priority == 1


def test_bad_requests_are_400_and_unknown_tasks_404(
    web_board: LocalBoard, page_client: PageClient
) -> None:
    client = page_client(build_app(web_board))
    assert (
        client.post("/api/tasks/T1/move", json={"to": "sideways", "expected": "ready"}).status_code
        == 400
    )
    assert (
        client.post("/api/decisions", json={"text": "x", "actor": "builder-1@alpha"}).status_code
        == 400
    )
    r = client.post("/api/tasks/T9/move", json={"to": "ready", "expected": "ready"})
    assert r.status_code == 404


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The `board` events of a server-sent-events stream, decoded; comments skipped."""
    data: str | None = None
    for line in lines:
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and data is not None:
            yield json.loads(data)
            data = None


def test_the_stream_starts_at_a_seq_then_sends_only_the_changed_cards(
    web_board: LocalBoard,
    page_client: PageClient,
) -> None:
    app = build_app(web_board, wait_seconds=0.05)
    client = page_client(app)
    page = client.get("/api/board").json()
    with client.stream("GET", "/api/stream") as stream:
        events = _events(stream.iter_lines())
        hello = next(events)
        assert hello["seq"] == page["board"]["journal"]["seq"] and hello["since"] is None

        r = client.post(
            "/api/tasks/T1/move", json={"to": "blocked", "expected": "ready", "reason": "x"}
        )
        assert r.status_code == 200
        moved = next(events)
        assert moved["since"] == hello["seq"] and moved["seq"] == r.json()["seq"]
        assert [t["id"] for t in moved["tasks"]] == ["T1"]
        row = moved["tasks"][0]
        assert (row["status"], row["column"], row["blocked_reason"]) == ("blocked", "Blocked", "x")
        assert moved["removed"] == [] and moved["graph"] is None and moved["decisions"] is None

        # the row is what /api/board would show, so a patched page acts on current facts
        assert row == next(
            t for t in client.get("/api/board").json()["board"]["tasks"] if t["id"] == "T1"
        )
        r = client.post(
            "/api/tasks/T1/edit", json={"expect_updated": row["updated"], "priority": 3}
        )
        assert r.status_code == 200
        edited = next(events)
        assert edited["since"] == moved["seq"] and edited["tasks"][0]["priority"] == 3

        web_board.create_tasks([{"id": "T3", "title": "Train", "dependencies": ["T2"]}])
        created = next(events)
        assert [t["id"] for t in created["tasks"]] == ["T3"]
        assert created["graph"]["phases"][-1] == ["T3"]  # a new dependency reshapes the graph

        client.post("/api/decisions", json={"text": "Ship it", "actor": "human:ana"})
        decided = next(events)
        assert decided["tasks"] == [] and decided["decisions"][-1]["text"] == "Ship it"


def test_a_new_sprint_asks_pages_to_refetch(web_board: LocalBoard, page_client: PageClient) -> None:
    client = page_client(build_app(web_board, wait_seconds=0.05))
    with client.stream("GET", "/api/stream") as stream:
        events = _events(stream.iter_lines())
        hello = next(events)
        web_board.start_sprint("S2", goal="next")
        reset = next(events)
        assert reset["since"] is None and reset["seq"] > hello["seq"] and reset["tasks"] == []


def test_the_watcher_runs_only_while_a_page_listens(
    web_board: LocalBoard, page_client: PageClient
) -> None:
    app = build_app(web_board, wait_seconds=0.05)
    feed = app.state.feed
    client = page_client(app)
    for _ in range(2):  # a page that comes back gets a watcher again
        with client.stream("GET", "/api/stream") as stream:
            next(_events(stream.iter_lines()))
            assert feed.running
        assert feed.join(timeout=10) and not feed.running
    assert not [t for t in threading.enumerate() if t.name == "web-feed"]


def test_a_page_that_falls_behind_gets_one_reset_not_a_backlog() -> None:
    async def scenario() -> list[dict[str, Any]]:
        sub = Subscription(asyncio.get_running_loop(), backlog=2)
        for seq in (5, 6, 7):
            sub.offer(seq, sse(BoardDelta(seq=seq, since=seq - 1)))
        return [
            json.loads(sub.queue.get_nowait().split("data: ")[1]) for _ in range(sub.queue.qsize())
        ]

    assert asyncio.run(scenario()) == [BoardDelta(seq=7).model_dump(mode="json")]


def test_a_person_answers_a_question_on_the_page(
    web_board: LocalBoard, page_client: PageClient
) -> None:
    asked = web_board.ask("T1", "Which split?", "human:ana")
    client = page_client(build_app(web_board))
    (shown,) = client.get("/api/board").json()["questions"]
    assert (shown["id"], shown["task"], shown["answer"]) == (asked.id, "T1", None)
    r = client.post(
        "/api/tasks/T1/answer", json={"text": "90/10", "question": asked.id, "actor": "human:bo"}
    )
    assert r.status_code == 200, r.text
    (q,) = web_board.snapshot().questions
    assert (q.answer, q.answered_by) == ("90/10", "human:bo")
    again = client.post("/api/tasks/T1/answer", json={"text": "80/20", "actor": "human:bo"})
    assert again.status_code == 409 and "no open question" in again.json()["error"]
