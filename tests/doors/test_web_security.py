"""The web board answers only its own pages: same-origin JSON with the page's token, on the
address it serves, under a body limit (issue 16, contract 11)."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient

from sprintboard.board.local import LocalBoard
from sprintboard.doors.web.app import MAX_BODY, TOKEN_HEADER, build_app

SERVED = "http://127.0.0.1:8765"


@pytest.fixture
def served(web_board: LocalBoard) -> tuple[TestClient, str]:
    app = build_app(web_board)
    return TestClient(app, base_url=SERVED), app.state.token


def _move(to: str = "blocked") -> dict[str, object]:
    return {"to": to, "expected": "ready", "reason": "x", "force": True}


def test_a_cross_site_text_plain_post_moves_nothing(
    served: tuple[TestClient, str], web_board: LocalBoard
) -> None:
    client, token = served
    seq = web_board.snapshot().seq
    # what a form or `fetch(no-cors)` on another site can send: no preflight, no token
    r = client.post(
        "/api/tasks/T1/move",
        content=b'{"to": "done", "expected": "ready", "force": true}',
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert r.status_code == 415
    r = client.post(
        "/api/tasks/T1/move", json=_move("done"), headers={"Origin": "http://evil.example"}
    )
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = client.post(
        "/api/tasks/T1/move",
        json=_move("done"),
        headers={"Origin": "http://evil.example", TOKEN_HEADER: token},
    )
    assert r.status_code == 403  # even with a leaked token, another origin is refused
    assert client.post("/api/tasks/T1/move", json=_move()).status_code == 403  # no token
    assert web_board.snapshot().seq == seq


def test_the_page_itself_acts_from_any_loopback_name(
    served: tuple[TestClient, str], web_board: LocalBoard
) -> None:
    client, token = served
    assert token in client.get("/").text  # the page carries its token
    for origin, host in (
        (SERVED, "127.0.0.1:8765"),
        ("http://localhost:8765", "localhost:8765"),
        ("http://[::1]:8765", "[::1]:8765"),
    ):
        r = client.post(
            "/api/decisions",
            json={"text": f"from {host}"},
            headers={"Origin": origin, "Host": host, TOKEN_HEADER: token},
        )
        assert r.status_code == 200, r.text
    assert [d.text for d in web_board.snapshot().decisions][-1] == "from [::1]:8765"


def test_a_rebound_dns_name_cannot_read_the_board(served: tuple[TestClient, str]) -> None:
    client, _ = served
    assert client.get("/api/board").status_code == 200
    for host in ("evil.example:8765", "127.0.0.1:9999", "localhost"):
        r = client.get("/api/board", headers={"Host": host})
        assert r.status_code == 403 and "Host" in r.json()["error"]


def test_bodies_are_capped(served: tuple[TestClient, str], web_board: LocalBoard) -> None:
    client, token = served
    big = {"text": "x" * (MAX_BODY + 1)}
    r = client.post("/api/decisions", json=big, headers={TOKEN_HEADER: token})
    assert r.status_code == 413

    def chunks() -> object:  # no Content-Length: counted while read
        yield b'{"text": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"y" * 1024
        yield b'"}'

    r = client.post(
        "/api/decisions",
        content=chunks(),  # type: ignore[arg-type]
        headers={"Content-Type": "application/json", TOKEN_HEADER: token},
    )
    assert r.status_code == 413
    assert web_board.snapshot().decisions == []


def test_bad_values_are_400_not_500(served: tuple[TestClient, str], web_board: LocalBoard) -> None:
    client, token = served
    updated = web_board.snapshot().tasks["T1"].updated
    headers = {TOKEN_HEADER: token}
    for body in (
        {"expect_updated": updated, "priority": 10**30},
        {"expect_updated": updated, "owner": "ana\n- [ ] `T9` P0 **forged**"},
        {"expect_updated": updated, "owner": "\x1b[2J"},
    ):
        r = client.post("/api/tasks/T1/edit", json=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
    r = client.post("/api/decisions", json={"text": "bell\x07"}, headers=headers)
    assert r.status_code == 400
    r = client.post(
        "/api/tasks/T1/move",
        content=b"{not json",
        headers={"Content-Type": "application/json", **headers},
    )
    assert r.status_code == 400
    assert web_board.snapshot().tasks["T1"].updated == updated


def test_a_real_server_checks_the_host_too(live_url: str) -> None:
    assert httpx.get(f"{live_url}/api/board").status_code == 200
    port = live_url.rsplit(":", 1)[1]
    r = httpx.get(f"{live_url}/api/board", headers={"Host": f"rebound.example:{port}"})
    assert r.status_code == 403
