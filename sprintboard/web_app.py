"""`sprintboard serve`: the board as a live web page on 127.0.0.1.

A Starlette app: the page (plain HTML + a small script, no build step), a JSON view of
the board, a server-sent-events stream that fires whenever the journal changes (whoever
changed it), and a few actions that go through the same `LocalBoard` API as everything
else. A page acting on what it saw earlier gets a 409 with the reason, never a silent
overwrite.
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
from sprintboard.board.models import STATUSES, Status
from sprintboard.errors import BoardError, UnknownTask
from sprintboard.status import StatusReport, board_status

__all__ = ["BoardView", "build_app"]


class GraphView(BaseModel):
    critical_path: list[str] = Field(default_factory=list)
    phases: list[list[str]] = Field(default_factory=list)


class DecisionRow(BaseModel):
    text: str
    actor: str
    ts: str
    task: str | None


class BoardView(BaseModel):
    """`GET /api/board`."""

    board: StatusReport
    graph: GraphView
    decisions: list[DecisionRow]
    statuses: list[str]
    standup: str | None


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


def _graph(board: LocalBoard) -> GraphView:
    try:
        from sprintboard.sprints.graph import analyze
    except ImportError:  # the graph room is optional for the page
        return GraphView()
    result = analyze(board.snapshot().tasks.values())
    return GraphView(
        critical_path=list(result.critical_path), phases=[list(p) for p in result.phases]
    )


def _latest_standup(board: LocalBoard) -> str | None:
    notes = sorted((board.root / "memory").glob("*.md"))
    return notes[-1].read_text(encoding="utf-8")[-4000:] if notes else None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _parse(request: Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return _error(400, f"bad request: {exc}")


def build_app(board: LocalBoard, *, poll_seconds: float = 0.1) -> Starlette:
    """The web board for `board`; `poll_seconds` is how often the stream checks the journal."""
    page = resources.files("sprintboard").joinpath("web_page.html").read_text(encoding="utf-8")

    async def index(_: Request) -> Response:
        return HTMLResponse(page)

    async def api_board(_: Request) -> Response:
        def build() -> BoardView:
            return BoardView(
                board=board_status(board),
                graph=_graph(board),
                decisions=[
                    DecisionRow(text=d.text, actor=d.actor, ts=d.ts, task=d.task)
                    for d in board.snapshot().decisions
                ],
                statuses=list(STATUSES),
                standup=_latest_standup(board),
            )

        view = await asyncio.to_thread(build)
        return Response(view.model_dump_json(), media_type="application/json")

    async def stream(request: Request) -> Response:
        async def events() -> AsyncIterator[str]:
            last = -1
            idle = 0.0
            while not await request.is_disconnected():
                seq = (await asyncio.to_thread(board.refresh)).seq
                if seq != last:
                    last, idle = seq, 0.0
                    yield f"event: board\ndata: {seq}\n\n"
                elif idle >= 15:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(poll_seconds)
                idle += poll_seconds

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

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/board", api_board),
            Route("/api/stream", stream),
            Route("/api/tasks/{task}/move", move, methods=["POST"]),
            Route("/api/tasks/{task}/edit", edit, methods=["POST"]),
            Route("/api/decisions", decision, methods=["POST"]),
        ]
    )


def serve(board: LocalBoard, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the web board with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(build_app(board), host=host, port=port, log_level="warning")
