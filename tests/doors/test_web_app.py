"""The web board's API: every action lands as an event; a stale page gets a 409."""

from __future__ import annotations

from starlette.testclient import TestClient

from sprintboard.board.local import LocalBoard
from sprintboard.web_app import build_app


def test_board_view_has_columns_graph_and_statuses(web_board: LocalBoard) -> None:
    client = TestClient(build_app(web_board))
    assert "EventSource" in client.get("/").text
    view = client.get("/api/board").json()
    assert [t["id"] for t in view["board"]["tasks"]] == ["T1", "T2"]
    assert view["board"]["tasks"][1]["column"] == "Backlog"
    assert "blocked" in view["statuses"] and set(view["graph"]) == {"critical_path", "phases"}


def test_move_block_and_decide_land_as_events(web_board: LocalBoard) -> None:
    client = TestClient(build_app(web_board))
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


def test_a_stale_page_gets_a_conflict_not_an_overwrite(web_board: LocalBoard) -> None:
    client = TestClient(build_app(web_board))
    seen = client.get("/api/board").json()["board"]["tasks"][0]
    web_board.claim("T1", agent="builder-alpha", host="alpha", ttl=600)  # someone else acted since
    r = client.post(
        "/api/tasks/T1/move", json={"to": "blocked", "expected": seen["status"], "reason": "x"}
    )
    assert r.status_code == 409 and "now in_progress" in r.json()["error"]
    r = client.post("/api/tasks/T1/edit", json={"expect_updated": seen["updated"], "priority": 5})
    assert r.status_code == 409 and "reload" in r.json()["error"]
    assert web_board.snapshot().tasks["T1"].priority == 1


def test_bad_requests_are_400_and_unknown_tasks_404(web_board: LocalBoard) -> None:
    client = TestClient(build_app(web_board))
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
