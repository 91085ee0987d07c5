"""Notifications: fired from the journal, once per event id, retried with backoff, never
repeated or lost across a restart of the owner (memory/notify.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Event
from sprintboard.config import NotifyConfig
from sprintboard.errors import NotifyFailed
from sprintboard.memory.notify import (
    STATE_FILE,
    CommandTarget,
    Notice,
    Notifier,
    notices,
    targets,
)
from sprintboard.workspace import init_workspace, open_board


class Recorder:
    """A target that keeps what it got; fails the first `failures` sends."""

    def __init__(self, failures: int = 0) -> None:
        self.got: list[dict[str, Any]] = []
        self.failures = failures
        self.tries = 0

    @property
    def name(self) -> str:
        return "webhook"

    def send(self, body: bytes, notice: Notice) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise NotifyFailed("recorder", "down")
        self.got.append(json.loads(body))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return init_workspace(tmp_path / "ws", owner="alpha", git=False)


@pytest.fixture
def board(ws: Path) -> LocalBoard:
    made = open_board(ws, host="alpha", clock=FrozenClock(), ids=CounterIds())
    made.start_sprint("S1", "ship it")
    made.create_tasks(
        [
            {"id": "T1", "title": "train", "status": "ready"},
            {"id": "T2", "title": "eval", "status": "ready"},
        ]
    )
    return made


def _kinds(got: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(n["kind"], (n["task"] or {}).get("id")) for n in got]


def test_each_kind_is_noticed_once_with_the_event(board: LocalBoard, ws: Path) -> None:
    seen = Recorder()
    notifier = Notifier(board, [seen], ws / STATE_FILE, board_name="demo")
    board.move("T1", "blocked", "human:dana", reason="no GPU")
    board.move("T2", "needs_manual", "human:dana")
    board.move("T1", "ready", "human:dana")
    board.claim("T1", "builder-alpha", "alpha", 60)
    assert isinstance(board.clock, FrozenClock)
    board.clock.advance(61)
    board.expire_leases()
    board.move("T1", "cancelled", "human:dana")
    board.move("T2", "done", "human:dana", force=True)
    assert notifier.step() == 4
    assert _kinds(seen.got) == [
        ("blocked", "T1"),
        ("needs_person", "T2"),
        ("lease_expired", "T1"),
        ("sprint_done", None),
    ]
    first = seen.got[0]
    assert first["board"] == "demo" and first["sprint"] == "S1"
    assert first["text"] == "T1 (train) is blocked: no GPU"
    assert first["event"]["op"] == "task.move" and first["id"].endswith(":blocked")
    assert notifier.step() == 0  # nothing new: nothing sent again


def test_a_question_is_noticed_by_its_op_name(board: LocalBoard) -> None:
    """`question.ask` comes with issue 19; the rule matches it by name already."""
    state = board.snapshot()
    asked = Event(
        seq=state.seq + 1,
        id="beta:q1",
        ts="2026-01-01T00:00:00.000Z",
        actor="builder-beta@beta",
        op="question.ask",  # type: ignore[arg-type]  # not an Op until issue 19
        task="T1",
        fields={"text": "which tokenizer?"},
    )
    (notice,) = notices(state, asked, state)
    assert notice.kind == "question" and notice.id == "beta:q1:question"
    assert notice.text == "T1 (train): builder-beta@beta asks: which tokenizer?"


def test_a_restart_neither_loses_nor_repeats(board: LocalBoard, ws: Path) -> None:
    seen = Recorder()
    Notifier(board, [seen], ws / STATE_FILE).step()  # first start: from the journal's end
    board.move("T1", "blocked", "human:dana", reason="first")
    Notifier(board, [seen], ws / STATE_FILE).step()
    board.move("T1", "ready", "human:dana")
    board.move("T1", "blocked", "human:dana", reason="while it was down")
    restarted = Notifier(board, [seen], ws / STATE_FILE)
    restarted.collect()  # queued, then the process dies before sending
    again = Notifier(board, [seen], ws / STATE_FILE)
    assert again.step() == 1
    assert [n["text"] for n in seen.got] == [
        "T1 (train) is blocked: first",
        "T1 (train) is blocked: while it was down",
    ]
    assert len({n["id"] for n in seen.got}) == 2


def test_a_failing_target_is_retried_with_backoff_then_given_up(
    board: LocalBoard, ws: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    flaky = Recorder(failures=2)
    notifier = Notifier(board, [flaky], ws / STATE_FILE, now=lambda: clock[0])
    board.move("T1", "blocked", "human:dana", reason="x")
    assert notifier.step() == 0 and flaky.tries == 1
    assert notifier.step() == 0 and flaky.tries == 1  # not due yet (1 s)
    clock[0] += 1
    assert notifier.step() == 0 and flaky.tries == 2  # next in 2 s
    clock[0] += 1.5
    assert notifier.step() == 0 and flaky.tries == 2
    clock[0] += 0.5
    assert notifier.step() == 1 and len(flaky.got) == 1
    assert "retry 2 in 2s" in caplog.text

    dead = Recorder(failures=10**6)
    stubborn = Notifier(board, [dead], ws / "other.json", max_attempts=3, now=lambda: clock[0])
    board.move("T2", "blocked", "human:dana", reason="y")
    for _ in range(5):
        stubborn.step()
        clock[0] += 400
    assert dead.tries == 3 and stubborn.given_up == 1
    assert "gave up" in caplog.text


def test_the_command_gets_the_notice_on_stdin_as_an_argv(board: LocalBoard, ws: Path) -> None:
    out = ws / "got.jsonl"
    script = "import sys, os; open(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')"
    config = NotifyConfig(command=[sys.executable, "-c", script, str(out)])
    notifier = Notifier(board, targets(config, ws), ws / STATE_FILE)
    board.move("T1", "blocked", "human:dana", reason="a $(reboot) ; `x`")
    assert notifier.step() == 1
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["task"]["blocked_reason"] == "a $(reboot) ; `x`"
    failing = CommandTarget([sys.executable, "-c", "import sys; sys.exit(3)"], ws)
    with pytest.raises(NotifyFailed, match="exit 3"):
        failing.send(b"{}", Notice.model_validate(json.loads(line)))


# -- the owner's daemon, a real HTTP receiver, a restart ------------------------------------


class Receiver:
    """A local HTTP server that records every POST body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        lock = threading.Lock()
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["content-length"]))
                with lock:
                    bodies.append(json.loads(data))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Bounded polling while the daemon, another process, works."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def _serve(ws: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from sprintboard.cli import main; main(sys.argv[1:])"
    args = ["a2a", "serve", "--host", "alpha", "-w", str(ws), "--rescan", "0.2", "--for", "60"]
    return subprocess.Popen(
        [sys.executable, "-P", "-c", code, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("SPRINTBOARD_")},
    )


@pytest.mark.slow
def test_one_post_per_event_across_an_owner_restart(ws: Path, receiver: Receiver) -> None:
    cfg = ws / "sprintboard.toml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8") + f'\n[notify]\nwebhook = "{receiver.url}"\n',
        encoding="utf-8",
    )
    board = open_board(ws, host="alpha")
    board.create_tasks([{"id": f"T{i}", "title": f"t{i}", "status": "ready"} for i in (1, 2, 3)])
    daemon = _serve(ws)
    try:
        wait_for(lambda: (ws / STATE_FILE).exists(), 30, "the notifier to start")
        board.move("T1", "blocked", "human:dana", reason="before the restart")
        wait_for(lambda: len(receiver.bodies) == 1, 30, "the first POST")
        daemon.terminate()
        assert daemon.wait(timeout=20) == 0, daemon.stderr.read() if daemon.stderr else ""
        board.move("T2", "blocked", "human:dana", reason="while the owner was down")
        daemon = _serve(ws)
        board.move("T3", "needs_manual", "human:dana")
        wait_for(lambda: len(receiver.bodies) >= 3, 30, "the POSTs after the restart")
        board.move("T1", "ready", "human:dana")  # nothing to notify: a marker that it caught up
        board.move("T1", "cancelled", "human:dana")
        board.move("T2", "cancelled", "human:dana")
        board.move("T3", "done", "human:dana", force=True)
        wait_for(lambda: len(receiver.bodies) >= 4, 30, "the sprint-done POST")
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
    ids = [b["id"] for b in receiver.bodies]
    assert len(ids) == len(set(ids)) == 4
    assert [(b["kind"], (b["task"] or {}).get("id")) for b in receiver.bodies] == [
        ("blocked", "T1"),
        ("blocked", "T2"),
        ("needs_person", "T3"),
        ("sprint_done", None),
    ]
