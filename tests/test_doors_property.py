"""Property (issue 16): whatever arrives through the CLI, MCP, the web board or A2A (random
unicode, control characters, numbers at the edges) is accepted or refused in one line,
never a traceback, and every accepted value reads back unchanged from the journal, the
snapshot and KANBAN.md (rendered, then parsed)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.server.mcpserver.exceptions import ToolError
from starlette.testclient import TestClient

from sprintboard.a2a import messages
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.postbox import Outcome, Received
from sprintboard.board.kanban.model import cards_of, entries_of
from sprintboard.board.kanban.parse import parse_kanban
from sprintboard.board.kanban.render import render_kanban
from sprintboard.board.local import LocalBoard
from sprintboard.board.snapshot import first_difference, parse_snapshot
from sprintboard.board.state import BoardState
from sprintboard.board.values import entry_text, one_line
from sprintboard.cli import main
from sprintboard.doors.mcp import build_mcp_server
from sprintboard.doors.web.app import TOKEN_HEADER, build_app
from sprintboard.workspace import init_workspace, open_board

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# any code point, control characters, separators, bidi overrides and lone surrogates included
ANY_CHAR = st.characters(exclude_categories=())
EDGY_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=24),
    st.text(st.sampled_from("ab \t\n\r\x1b\x00\u202e\u2028\xa0*`[]_~#-"), max_size=12),
    st.sampled_from(["", " ", "T1", "A\nB", "../../etc", "x" * 200, "ok title", "**[x]**"]),
)
EDGY_NUMBER = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 99, 100, 2**53, 2**63, 2**64, 1e400, -0.0, 1e-320]),
)
# protobuf's JSON cannot carry NaN or infinity as a number, so no peer can send one
WIRE_NUMBER = EDGY_NUMBER.filter(lambda v: not isinstance(v, float) or math.isfinite(v))
_ids = itertools.count()


def _round_trip(board: LocalBoard) -> BoardState:
    """The state reads back the same from the snapshot and from KANBAN.md; returns it."""
    state = board.snapshot()
    snap, _ = parse_snapshot(board.snapshot_path.read_bytes())
    assert first_difference(snap, state) is None
    doc = parse_kanban(render_kanban(state))
    assert doc.cards == cards_of(state)
    decisions, notes = entries_of(state)
    assert [e.text for e in doc.decisions] == [e.text for e in decisions]
    assert [e.text for e in doc.notes] == [e.text for e in notes]
    return state


def _canonical(value: str) -> str | None:
    try:
        return one_line(value)
    except ValueError:
        return None


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> LocalBoard:
    root = init_workspace(tmp_path_factory.mktemp("prop") / "ws", git=False)
    config = root / "sprintboard.toml"  # no WIP limit: examples claim many tasks
    config.write_text(
        config.read_text(encoding="utf-8")
        .replace("builder = 3", "builder = 100000")
        .replace("wip = 2", "wip = 100000"),
        encoding="utf-8",
    )
    board = open_board(root)
    board.create_tasks([{"id": "T1", "title": "Audit", "status": "ready"}])
    return board


@pytest.fixture(autouse=True, scope="module")
def _still_loads(board: LocalBoard) -> Iterator[None]:
    yield
    found = open_board(board.root).validate()  # after every door: the board still opens
    assert found.snapshot == "in step"


def _cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@EXAMPLES
@given(task_id=EDGY_TEXT, title=EDGY_TEXT, priority=EDGY_NUMBER)
def test_cli_add(board: LocalBoard, task_id: str, title: str, priority: float) -> None:
    tid = f"{task_id}{next(_ids)}" if task_id.isalnum() else task_id
    code = _cli("add", tid, title, "-p", str(priority), "-w", str(board.root))
    assert code in (0, 1, 2)
    state = _round_trip(board)
    if code == 0:
        task = state.tasks[tid]
        assert (task.title, task.priority) == (_canonical(title), int(float(str(priority))))


@EXAMPLES
@given(owner=EDGY_TEXT, reason=EDGY_TEXT, metric=EDGY_TEXT, value=EDGY_NUMBER)
def test_cli_edit_move_submit(
    board: LocalBoard, owner: str, reason: str, metric: str, value: float
) -> None:
    tid = f"C{next(_ids)}"
    w = ("-w", str(board.root))
    assert _cli("add", tid, "t", *w) == 0
    code = _cli("edit", tid, "--owner", owner, *w)
    assert code in (0, 1, 2)
    if code == 0:
        assert _round_trip(board).tasks[tid].agent == (owner or None)
    fence = board.claim(tid, agent="builder-alpha", host="alpha", ttl=60).fence
    code = _cli("submit", tid, "--fence", str(fence), "-m", f"{metric}={value}", *w)
    assert code in (0, 1, 2)
    if code == 0:
        assert _round_trip(board).tasks[tid].metrics == {metric: float(str(value))}
    code = _cli("move", tid, "blocked", "--force", "-r", reason, *w)
    assert code in (0, 1, 2)
    state = _round_trip(board)
    if code == 0 and _canonical(reason):
        assert state.tasks[tid].blocked_reason == _canonical(reason)


@EXAMPLES
@given(task_id=EDGY_TEXT, title=EDGY_TEXT, priority=EDGY_NUMBER, criterion=EDGY_TEXT)
def test_mcp_add_task(
    board: LocalBoard, task_id: str, title: str, priority: float, criterion: str
) -> None:
    server = build_mcp_server(board)
    tid = f"{task_id}{next(_ids)}" if task_id.isalnum() else task_id
    args: dict[str, Any] = {"id": tid, "title": title, "priority": priority}
    if criterion:
        args["criteria"] = [criterion]
    before = board.snapshot().seq
    try:
        asyncio.run(server.call_tool("add_task", args))
    except ToolError:  # sprintboard's one-line refusal; a crash is an UnexpectedToolError
        assert _round_trip(board).seq == before  # nothing written
        return
    task = _round_trip(board).tasks[tid]
    assert (task.title, task.priority) == (_canonical(title), priority)


@pytest.fixture(scope="module")
def web(board: LocalBoard) -> TestClient:
    app = build_app(board)
    return TestClient(app, headers={TOKEN_HEADER: app.state.token})


@EXAMPLES
@given(owner=EDGY_TEXT, priority=EDGY_NUMBER, text=EDGY_TEXT, reason=EDGY_TEXT)
def test_web_actions(
    board: LocalBoard, web: TestClient, owner: str, priority: float, text: str, reason: str
) -> None:
    tid = f"W{next(_ids)}"
    board.create_tasks([{"id": tid, "title": "w", "status": "ready"}])
    updated = board.snapshot().tasks[tid].updated
    body: dict[str, Any] = {"expect_updated": updated, "owner": owner}
    if isinstance(priority, int) or math.isfinite(priority):
        body["priority"] = priority
    r = web.post(f"/api/tasks/{tid}/edit", json=body)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        task = _round_trip(board).tasks[tid]
        assert task.agent == (owner or None) and task.priority == body.get("priority", 3)
    r = web.post("/api/decisions", json={"text": text})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert _round_trip(board).decisions[-1].text == entry_text(text)
    r = web.post(
        f"/api/tasks/{tid}/move", json={"to": "blocked", "expected": "ready", "reason": reason}
    )
    assert r.status_code in (200, 400, 409), r.text
    state = _round_trip(board)
    if r.status_code == 200:
        assert state.tasks[tid].blocked_reason == _canonical(reason)


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sprintboard.a2a.keys import keygen, pair

    tmp = tmp_path_factory.mktemp("a2a")
    hosts = [("alpha", []), ("beta", ["mlx"])]
    ws = init_workspace(tmp / "alpha", owner="alpha", hosts=hosts, git=False)
    pair(tmp / "beta-keys", "alpha", "beta", keygen(ws / ".sprintboard" / "keys", "alpha", "beta"))
    owner = open_owner(ws)
    beta = open_postbox(ws, "beta", keys=tmp / "beta-keys")
    owner.board.create_tasks([{"id": "T1", "title": "t", "status": "ready"}])
    lease = owner.board.claim("T1", agent="builder-beta", host="beta", ttl=30 * 24 * 3600)
    return owner, beta, lease.fence


@EXAMPLES
@given(
    note=EDGY_TEXT,
    task=st.one_of(st.just("T1"), EDGY_TEXT),
    fence=st.one_of(st.just("the lease's"), st.none(), WIRE_NUMBER, EDGY_TEXT),
    ttl=st.one_of(WIRE_NUMBER, EDGY_TEXT),
    value=st.one_of(WIRE_NUMBER, EDGY_TEXT),
)
def test_a2a_requests(
    peers: Any,
    caplog: pytest.LogCaptureFixture,
    note: str,
    task: str,
    fence: Any,
    ttl: Any,
    value: Any,
) -> None:
    owner, beta, held = peers
    board: LocalBoard = owner.board
    caplog.clear()
    fence = held if fence == "the lease's" else fence
    events = [
        {"op": "note.add", "task": task, "fields": {"text": note}, "fence": fence},
        {"op": "metric.set", "task": "T1", "fields": {"name": "m", "value": value}, "fence": held},
    ]
    sent = [
        beta.seal("alpha", "request", lambda m, e=e: messages.request(m, "apply", {"events": [e]}))
        for e in events
    ]
    sent.append(
        beta.seal(
            "alpha",
            "request",
            lambda m: messages.request(m, "claim", {"task": "T9", "agent": "b", "ttl": ttl}),
        )
    )
    before = board.snapshot().seq
    with caplog.at_level(logging.WARNING):
        beta.post(sent)
        owner.postbox.process(owner)
    assert not [r for r in caplog.records if r.exc_info], "a traceback in the daemon log"
    replies: dict[str, Received] = {}

    def keep(r: Received) -> Outcome:
        replies[r.env.reply_to or r.env.id] = r
        return Outcome("answer")

    beta.process(keep)
    state = _round_trip(board)
    for env in sent:
        if env.id in replies:
            data = replies[env.id].parsed.data
            assert data["ok"] or "\n" not in data["error"]
    if state.seq > before:
        for e in board.events(before):
            if e.op == "note.add":
                assert e.fields["text"] == note and state.notes[-1].text == note
            if e.op == "metric.set":
                assert state.tasks["T1"].metrics["m"] == value
