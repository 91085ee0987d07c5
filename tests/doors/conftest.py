"""A board and a real uvicorn server on 127.0.0.1 for the web tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sprintboard.board.local import LocalBoard
from sprintboard.doors.web.app import TOKEN_HEADER, build_app
from sprintboard.workspace import init_workspace, open_board


@pytest.fixture
def web_board(tmp_path: Path) -> LocalBoard:
    root = init_workspace(tmp_path / "ws", git=False)
    board = open_board(root)
    board.start_sprint("S1", goal="demo")
    board.create_tasks(
        [
            {"id": "T1", "title": "Audit sources", "status": "ready", "priority": 1},
            {"id": "T2", "title": "Dedup", "status": "blocked", "dependencies": ["T1"]},
        ]
    )
    return board


@pytest.fixture
def live_url(web_board: LocalBoard) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(build_app(web_board), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


PageClient = Callable[[Starlette], TestClient]


@pytest.fixture
def page_client() -> PageClient:
    """A test client acting as the board's own page: it sends the page's token."""

    def make(app: Starlette) -> TestClient:
        return TestClient(app, headers={TOKEN_HEADER: app.state.token})

    return make
