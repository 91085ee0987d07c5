"""`sprintboard mcp`: the board as an MCP server, so any MCP-capable coding agent can take work.

Tools go through the same `BoardClient` API as the built-in agents, under the same leases
and fencing; a refused call comes back as an MCP tool error with sprintboard's message.
`get_task` is `show --json`; `note` and `ask` are the conversation with people; the
`primer` prompt is `sprintboard prime`. The server is built from small parts, one per
kind of tool (reading, leases, results, conversation, owner-only), the resources and the
prompt.
On a host that is not the owner the client is a `RemoteBoard` (every call a signed message
to the owner): the same tools, answered by the owner; `add_task` and `standup` say they
run on the owner, and the KANBAN.md resource is rendered from the owner's snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from sprintboard.board import values
from sprintboard.board.client import BoardClient
from sprintboard.board.document import TaskDocument
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Lease
from sprintboard.board.values import one_line
from sprintboard.errors import SprintboardError
from sprintboard.files import workspace_file_ref
from sprintboard.status import TaskRow, board_status

__all__ = ["LeaseInfo", "NoteInfo", "QuestionAsked", "build_mcp_server"]

F = TypeVar("F", bound=Callable[..., Any])


class LeaseInfo(BaseModel):
    """A granted lease: keep `fence` and send it with every heartbeat and result."""

    task: str
    agent: str
    host: str
    fence: int
    expires: str


def _lease_info(task: str, lease: Lease) -> LeaseInfo:
    return LeaseInfo(
        task=task, agent=lease.agent, host=lease.host, fence=lease.fence, expires=lease.expires
    )


def _as_tool_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SprintboardError as exc:
            raise ToolError(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _row(board: Any, task_id: str) -> TaskRow:
    return next(r for r in board_status(board).tasks if r.id == task_id)


def _owner_board(board: BoardClient, what: str) -> LocalBoard:
    """The owner's `LocalBoard`, for what only the owner does (it writes the journal).

    Raises:
        ToolError: this server runs on another host.
    """
    if isinstance(board, LocalBoard):
        return board
    owner = getattr(board, "owner", "the owner")
    raise ToolError(f"{what} runs on the board owner {owner}; this server is on {board.host}")


_INSTRUCTIONS = (
    "A shared task board. claim_next(agent) takes the task ranked first for you and gives "
    "a fence; get_task(task) is the whole task (criteria, dependencies and their files, "
    "notes, answers). Heartbeat with the fence while working, note progress, ask a person "
    "when stuck, complete with artifacts and metrics. A stale fence means you lost the "
    "lease: stop and claim again. The `primer` prompt says it all in full."
)


def build_mcp_server(board: BoardClient, *, default_ttl: int = 900) -> MCPServer:
    """An MCP server over `board` (the owner's `LocalBoard` or a host's `RemoteBoard`) with
    the board's tools, the KANBAN.md / backlog resources and the primer prompt."""
    server: MCPServer = MCPServer(name="sprintboard", instructions=_INSTRUCTIONS)
    _reading_tools(server, board)
    _lease_tools(server, board, default_ttl)
    _result_tools(server, board)
    _conversation_tools(server, board)
    _owner_tools(server, board)
    _resources(server, board)
    _prompts(server, board)
    return server


def _reading_tools(server: MCPServer, board: BoardClient) -> None:
    @server.tool()
    @_as_tool_errors
    def list_tasks(status: str | None = None) -> list[TaskRow]:
        """List the board's tasks, optionally only those with one status."""
        rows = board_status(board).tasks
        return [r for r in rows if status is None or r.status == status]

    @server.tool()
    @_as_tool_errors
    def next_task(
        role: str | None = None, caps: list[str] | None = None, agent: str | None = None
    ) -> TaskRow | None:
        """The task to take next. With `agent`, ranked for that agent (its role, host,
        capabilities and WIP from sprintboard.toml: what claim_next takes); without, for
        an agent of `role` (default builder) with these capabilities (default none)."""
        ranked = board.next_up(agent, role, caps, limit=1).tasks
        return _row(board, ranked[0].id) if ranked else None

    @server.tool()
    @_as_tool_errors
    def get_task(task: str) -> TaskDocument:
        """The whole task (what `sprintboard show TASK --json` prints): description,
        criteria with the Auditor's last results, dependencies and their artifacts, lease,
        notes, questions with their answers, decisions."""
        return board.task(values.task_id(task))


def _lease_tools(server: MCPServer, board: BoardClient, default_ttl: int) -> None:
    @server.tool()
    @_as_tool_errors
    def claim(task: str, agent: str, ttl: int = default_ttl) -> LeaseInfo:
        """Claim a task; the returned fence must accompany heartbeats and the result.

        `agent` is looked up in sprintboard.toml (its role, host, capabilities, WIP); a name
        it does not list may claim builder work only with `[board] open_claims = true`, and
        never finishes a task."""
        lease = board.claim(task, agent=agent, host=board.host, ttl=ttl)
        return _lease_info(task, lease)

    @server.tool()
    @_as_tool_errors
    def claim_next(
        agent: str, role: str | None = None, caps: list[str] | None = None, ttl: int = default_ttl
    ) -> LeaseInfo | None:
        """Claim the task next_task(agent=...) ranks first, in one step (`role`, `caps`
        only narrow what the config gives the agent); None if none fits. Then get_task."""
        got = board.claim_next(agent, role, caps, ttl)
        if got is None or got.lease is None:
            return None
        return _lease_info(got.id, got.lease)

    @server.tool()
    @_as_tool_errors
    def heartbeat(task: str, fence: int) -> LeaseInfo:
        """Extend a lease; fails if the fence is stale (the lease was lost)."""
        lease = board.heartbeat(task, fence)
        return _lease_info(task, lease)

    @server.tool()
    @_as_tool_errors
    def release(task: str, fence: int, reason: str = "released") -> TaskRow:
        """Give the lease back (the task returns to ready for someone else)."""
        board.release(task, fence, one_line(reason, "reason"))
        return _row(board, task)


def _result_tools(server: MCPServer, board: BoardClient) -> None:
    root = board.root

    @server.tool()
    @_as_tool_errors
    def complete(
        task: str,
        fence: int,
        artifacts: list[str] | None = None,
        metrics: dict[str, float] | None = None,
    ) -> TaskRow:
        """Hand in a result (files relative to the workspace, and metrics) for the Auditor."""
        arts = []
        for rel in artifacts or []:
            path = root / one_line(rel, "artifact path")
            # resolved: a link must not lead a remote caller out of the workspace
            resolved = path.resolve()
            if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
                raise ToolError(f"{rel}: not a file inside the workspace")
            arts.append(workspace_file_ref(root, path))
        board.submit(task, fence, arts, dict(metrics or {}))
        return _row(board, task)

    @server.tool()
    @_as_tool_errors
    def block(
        task: str, reason: str, actor: str = "human:mcp", fence: int | None = None
    ) -> TaskRow:
        """Block a task with a reason a person can act on (`fence`: as its lease holder,
        which a host that is not the owner must be)."""
        board.move(task, "blocked", actor, reason=one_line(reason, "reason"), fence=fence)
        return _row(board, task)


class NoteInfo(BaseModel):
    """A note as recorded."""

    task: str
    actor: str
    ts: str


class QuestionAsked(BaseModel):
    """A question waiting for a person; its answer shows in get_task."""

    question_id: str


def _conversation_tools(server: MCPServer, board: BoardClient) -> None:
    @server.tool()
    @_as_tool_errors
    def note(task: str, text: str, agent: str, fence: int | None = None) -> NoteInfo:
        """Leave a progress note people see on the board (`fence`: your lease's; needed
        off the owner host or for an agent sprintboard.toml does not list)."""
        got = board.note(task, text, agent, fence)
        return NoteInfo(task=task, actor=got.actor, ts=got.ts)

    @server.tool()
    @_as_tool_errors
    def ask(task: str, question: str, agent: str, fence: int | None = None) -> QuestionAsked:
        """Ask a person about your task; keep the lease (heartbeat) and read the answer in
        get_task's `questions` once someone answers."""
        return QuestionAsked(question_id=board.ask(task, question, agent, fence).id)


def _owner_tools(server: MCPServer, board: BoardClient) -> None:
    @server.tool()
    @_as_tool_errors
    def add_task(
        id: str,
        title: str,
        priority: int = 3,
        dependencies: list[str] | None = None,
        description: str = "",
        criteria: list[str] | None = None,
        actor: str = "human:mcp",
    ) -> TaskRow:
        """Add a task (ready, or waiting on its dependencies)."""
        from sprintboard.board.codec import criterion_to_dict
        from sprintboard.board.criteria import parse_criterion

        owner = _owner_board(board, "add_task")
        deps = list(dependencies or [])
        data = {
            "id": id,
            "title": one_line(title, "title"),
            "priority": priority,
            "dependencies": deps,
            "description": description,
            "status": "blocked" if deps else "ready",
            "criteria": [criterion_to_dict(parse_criterion(c)) for c in criteria or []],
        }
        owner.create_tasks([data], actor=actor)
        return _row(owner, id)

    @server.tool()
    @_as_tool_errors
    def standup() -> str:
        """Today's standup, built from the journal (facts only)."""
        owner = _owner_board(board, "standup")
        try:
            from sprintboard.memory.standup import render_standup
        except ImportError:
            raise ToolError("standups are not available in this installation") from None
        return str(render_standup(owner))


def _resources(server: MCPServer, board: BoardClient) -> None:
    @server.resource("sprintboard://kanban", mime_type="text/markdown")
    def kanban() -> str:
        """KANBAN.md as people see it (off the owner: rendered from the owner's snapshot)."""
        if isinstance(board, LocalBoard):
            return (board.root / "KANBAN.md").read_text(encoding="utf-8")
        from sprintboard.board.kanban.render import render_kanban

        return render_kanban(board.snapshot())

    @server.resource("sprintboard://backlog", mime_type="text/markdown")
    def backlog() -> str:
        """The current board's tasks as a sprint BACKLOG.md, wherever they came from (an
        import, the planner, KANBAN.md, add_task)."""
        from sprintboard.sprints.backlog import render_backlog

        state = board.snapshot()
        return render_backlog(list(state.tasks.values()), state.sprint)


def _prompts(server: MCPServer, board: BoardClient) -> None:
    @server.prompt()
    def primer(agent: str | None = None) -> str:
        """How to work this board (protocol, commands, tools, sprint goal, your role): for
        your AGENTS.md / CLAUDE.md; the same text as `sprintboard prime --agent NAME`."""
        from sprintboard.board.primer import primer as make_primer
        from sprintboard.config import load_config

        return make_primer(board.snapshot(), load_config(board.root), agent)


def serve_stdio(
    workspace: Path | None = None, host: str | None = None, *, timeout: float = 30.0
) -> None:
    """Run the MCP server on stdin/stdout for the workspace's board, from any host (off the
    owner each call waits up to `timeout` seconds for the owner's answer)."""
    from sprintboard.a2a.node import open_client
    from sprintboard.config import load_config
    from sprintboard.workspace import find_workspace

    root = find_workspace(workspace)
    board = open_client(root, host, timeout=timeout)
    build_mcp_server(board, default_ttl=load_config(root).board.default_ttl).run("stdio")
