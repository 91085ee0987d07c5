"""`sprintboard serve`: the board as a live web page on 127.0.0.1.

A Starlette app: the page (plain HTML + a small script, no build step), a JSON view of
the board, a server-sent-events stream that sends the changed cards whenever the journal
changes (whoever changed it; see `web_feed`), and a few actions that go through the same
`LocalBoard` API as everything else. A page acting on what it saw earlier gets a 409
with the reason, never a silent overwrite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Status
from sprintboard.doors.web.feed import BoardFeed, sse
from sprintboard.doors.web.views import BoardDelta, BoardView, board_view
from sprintboard.errors import BoardError, UnknownTask

__all__ = ["BoardView", "build_app"]

_KEEP_ALIVE_SECONDS = 15.0


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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _parse(request: Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return _error(400, f"bad request: {exc}")


def build_app(board: LocalBoard, *, wait_seconds: float = 0.5) -> Starlette:
    """The web board for `board`; its `BoardFeed` is `app.state.feed`.

    `wait_seconds`: how long the feed's watcher outlives the last open page.
    """
    page = (
        resources.files("sprintboard.doors.web").joinpath("page.html").read_text(encoding="utf-8")
    )
    feed = BoardFeed(board, wait_seconds=wait_seconds)

    async def index(_: Request) -> Response:
        return HTMLResponse(page)

    async def api_board(_: Request) -> Response:
        view = await asyncio.to_thread(board_view, board)
        return Response(view.model_dump_json(), media_type="application/json")

    async def stream(_: Request) -> Response:
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

    async def act(request: Request, model: type[BaseModel], run: Any) -> Response:
        action = await _parse(request, model)
        if isinstance(action, Response):
            return action
        try:
            await asyncio.to_thread(run, action)
        except UnknownTask as exc:
            return _error(404, str(exc))
        except BoardError as exc:
            return _error(409, str(exc))
        return JSONResponse({"ok": True, "seq": board.snapshot().seq})

    async def move(request: Request) -> Response:
        task = request.path_params["task"]

        def run(a: MoveAction) -> None:
            board.move(task, a.to, a.actor, reason=a.reason, force=a.force, expected=a.expected)

        return await act(request, MoveAction, run)

    async def edit(request: Request) -> Response:
        task = request.path_params["task"]

        def run(a: EditAction) -> None:
            fields: dict[str, Any] = {}
            if a.priority is not None:
                fields["priority"] = a.priority
            if a.owner is not None:
                fields["agent"] = a.owner or None
            board.update_task(task, fields, a.actor, expect_updated=a.expect_updated)

        return await act(request, EditAction, run)

    async def decision(request: Request) -> Response:
        def run(a: DecisionAction) -> None:
            board.add_decision(a.text, a.actor)

        return await act(request, DecisionAction, run)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/board", api_board),
            Route("/api/stream", stream),
            Route("/api/tasks/{task}/move", move, methods=["POST"]),
            Route("/api/tasks/{task}/edit", edit, methods=["POST"]),
            Route("/api/decisions", decision, methods=["POST"]),
        ]
    )
    app.state.feed = feed
    return app


def serve(board: LocalBoard, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the web board with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(build_app(board), host=host, port=port, log_level="warning")
