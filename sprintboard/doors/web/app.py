"""`sprintboard serve`: the board as a live web page on 127.0.0.1.

A Starlette app: the page (plain HTML + a small script, no build step), a JSON view of
the board, a server-sent-events stream that sends the changed cards whenever the journal
changes (whoever changed it; see `web_feed`), and a few actions that go through the same
`LocalBoard` API as everything else. A page acting on what it saw earlier gets a 409
with the reason, never a silent overwrite.

It answers only its own pages (DESIGN.md contract 11): every request must name the
served address in `Host` (`localhost`, `127.0.0.1` or `[::1]` with the served port, so a
rebound DNS name cannot read the board); a write must be `application/json`, come from
no other origin, carry the page's per-server token (`X-Sprintboard-Token`, in the page's
`<meta>`; another site cannot read it) and stay under `MAX_BODY` bytes.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Status
from sprintboard.board.values import entry_text, one_line
from sprintboard.doors.web.extras import BurndownImage, task_details
from sprintboard.doors.web.feed import BoardFeed, sse
from sprintboard.doors.web.page_data import BoardDelta, BoardPage, board_page
from sprintboard.errors import (
    BoardError,
    InvalidValue,
    PortTaken,
    UnknownTask,
    field_name,
    problem_text,
)

__all__ = ["MAX_BODY", "TOKEN_HEADER", "BoardPage", "build_app"]

_KEEP_ALIVE_SECONDS = 15.0
MAX_BODY = 64 * 1024
"""Largest request body a write may have, in bytes."""
TOKEN_HEADER = "X-Sprintboard-Token"
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field("human:web", pattern=r"^human:[\w.-]+$")


class MoveAction(_Action):
    to: Status
    expected: Status
    """The status the page showed; a task that moved on since is refused (409)."""
    reason: str | None = None
    force: bool = False


class EditAction(_Action):
    expect_updated: str | None
    priority: int | None = None
    owner: str | None = None


class DecisionAction(_Action):
    text: str = Field(min_length=1)


class AnswerAction(_Action):
    text: str = Field(min_length=1)
    question: str | None = None
    """The question's id (default: the task's oldest open one)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _served_hosts(request: Request) -> set[str]:
    """`Host` values that name this server: the loopback names and the address it serves
    on, with its port (bare when it is the default port 80)."""
    server = request.scope.get("server") or ("127.0.0.1", 80)
    address, port = str(server[0]), int(server[1] or 80)
    names = {*_LOOPBACK, f"[{address}]" if ":" in address else address}
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:
        hosts |= names
    return hosts


def _foreign(request: Request) -> Response | None:
    """A 403 for a request that does not name this server (DNS rebinding), else None."""
    if request.headers.get("host", "").lower() not in _served_hosts(request):
        return _error(403, "unknown Host: this board answers only on the address it serves")
    return None


async def _read_json(request: Request, token: str) -> Any:
    """The body of a write, or the error response that refuses it."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return _error(415, "send the action as application/json")
    origin = request.headers.get("origin")
    if origin is not None and origin.lower().removeprefix("http://") not in _served_hosts(request):
        return _error(403, f"cross-origin request from {origin!r} refused")
    if not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
        return _error(403, "missing or wrong page token; reload the page")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return _error(413, f"the body is over {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return _error(413, f"the body is over {MAX_BODY} bytes")
    return bytes(body)


async def _parse(request: Request, model: type[BaseModel], token: str) -> Any:
    body = await _read_json(request, token)
    if isinstance(body, Response):
        return body
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        return _error(
            400, f"bad request: {problem_text(exc.errors()[0])} at {field_name(exc.errors()[0])}"
        )


def _move(board: LocalBoard, task: str, a: MoveAction) -> None:
    reason = None if a.reason is None else one_line(a.reason, "reason", empty=True) or None
    board.move(task, a.to, a.actor, reason=reason, force=a.force, expected=a.expected)


def _edit(board: LocalBoard, task: str, a: EditAction) -> None:
    fields: dict[str, Any] = {}
    if a.priority is not None:
        fields["priority"] = a.priority
    if a.owner is not None:
        fields["agent"] = a.owner or None
    board.update_task(task, fields, a.actor, expect_updated=a.expect_updated)


def _decide(board: LocalBoard, _: str, a: DecisionAction) -> None:
    board.add_decision(entry_text(a.text, "decision"), a.actor)


def _answer(board: LocalBoard, task: str, a: AnswerAction) -> None:
    board.answer(task, entry_text(a.text, "answer"), a.actor, a.question)


# The writes the page may make: path, the action's body, and the board call it becomes.
_ACTIONS: list[tuple[str, type[BaseModel], Callable[[LocalBoard, str, Any], None]]] = [
    ("/api/tasks/{task}/move", MoveAction, _move),
    ("/api/tasks/{task}/edit", EditAction, _edit),
    ("/api/decisions", DecisionAction, _decide),
    ("/api/tasks/{task}/answer", AnswerAction, _answer),
]

Endpoint = Callable[[Request], Awaitable[Response]]


def _action(
    board: LocalBoard, token: str, model: type[BaseModel], run: Callable[..., None]
) -> Endpoint:
    """An endpoint that checks and parses the body, then runs it on the board off the loop;
    the board's refusals become 404 (unknown task), 400 (bad value) or 409 (conflict)."""

    async def endpoint(request: Request) -> Response:
        action = await _parse(request, model, token)
        if isinstance(action, Response):
            return action
        task = str(request.path_params.get("task", ""))
        try:
            await asyncio.to_thread(run, board, task, action)
        except UnknownTask as exc:
            return _error(404, str(exc))
        except InvalidValue as exc:
            return _error(400, str(exc))
        except BoardError as exc:
            return _error(409, str(exc))
        return JSONResponse({"ok": True, "seq": board.snapshot().seq})

    return endpoint


def _stream(feed: BoardFeed) -> Endpoint:
    """`/api/stream`: the seq the deltas start from, then every delta, with keep-alives."""

    async def endpoint(_: Request) -> Response:
        async def events() -> AsyncIterator[str]:
            sub, seq = await feed.subscribe()
            try:
                # first the seq the deltas start from: a page showing another one refetches
                yield sse(BoardDelta(seq=seq))
                while True:
                    try:
                        yield await asyncio.wait_for(sub.queue.get(), _KEEP_ALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
            finally:  # Starlette cancels the generator when the page goes away
                feed.unsubscribe(sub)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    return endpoint


def _guarded(endpoint: Endpoint) -> Endpoint:
    async def checked(request: Request) -> Response:
        return _foreign(request) or await endpoint(request)

    return checked


def build_app(board: LocalBoard, *, wait_seconds: float = 0.5) -> Starlette:
    """The web board for `board`; its `BoardFeed` is `app.state.feed`.

    `wait_seconds`: how long the feed's watcher outlives the last open page.
    """
    token = secrets.token_urlsafe(32)
    html = (
        resources.files("sprintboard.doors.web")
        .joinpath("page.html")
        .read_text(encoding="utf-8")
        .replace("{{SPRINTBOARD_TOKEN}}", token)
    )
    feed = BoardFeed(board, wait_seconds=wait_seconds)

    async def index(_: Request) -> Response:
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def api_board(_: Request) -> Response:
        page = await asyncio.to_thread(board_page, board)
        return Response(page.model_dump_json(), media_type="application/json")

    chart = BurndownImage(board)

    async def api_burndown(_: Request) -> Response:
        png = await asyncio.to_thread(chart.png)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def api_task(request: Request) -> Response:
        try:
            doc = task_details(board, str(request.path_params["task"]))
        except UnknownTask as exc:
            return _error(404, str(exc))
        return Response(doc.model_dump_json(), media_type="application/json")

    routes = [
        Route("/", _guarded(index)),
        Route("/api/board", _guarded(api_board)),
        Route("/api/burndown.png", _guarded(api_burndown)),
        Route("/api/tasks/{task}", _guarded(api_task)),
        Route("/api/stream", _guarded(_stream(feed))),
    ]
    routes += [
        Route(path, _guarded(_action(board, token, model, run)), methods=["POST"])
        for path, model, run in _ACTIONS
    ]
    app = Starlette(routes=routes)
    app.state.feed = feed
    app.state.token = token
    return app


def serve(
    board: LocalBoard,
    host: str = "127.0.0.1",
    port: int = 8765,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the web board with uvicorn until interrupted; `ready` gets the URL once the port
    is bound. PortTaken when another process has the port (uvicorn would say `Errno 98`
    and exit 3)."""
    import errno
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(host, port) from None
        raise
    bound = sock.getsockname()[1]
    if ready is not None:
        ready(f"http://{host}:{bound}/")
    config = uvicorn.Config(build_app(board), host=host, port=bound, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
