"""`sprintboard mcp`: the board as an MCP server, so any MCP-capable coding agent can take work.

Tools go through the same `BoardClient` API as the built-in agents, under the same leases
and fencing; a refused call comes back as an MCP tool error with sprintboard's message.
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

from sprintboard.board.client import BoardClient
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Lease
from sprintboard.board.values import one_line
from sprintboard.errors import SprintboardError
from sprintboard.files import workspace_file_ref
from sprintboard.status import TaskRow, board_status

__all__ = ["LeaseInfo", "build_mcp_server"]

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


def build_mcp_server(board: BoardClient, *, default_ttl: int = 900) -> MCPServer:
    """An MCP server over `board` (the owner's `LocalBoard` or a host's `RemoteBoard`) with
    tools and the KANBAN.md / backlog resources."""
    root = board.root
    server: MCPServer = MCPServer(
        name="sprintboard",
        instructions=(
            "A shared task board. Call next_task, then claim it and keep the fence; "
            "heartbeat while working; complete with artifacts and metrics. "
            "A stale fence means you lost the lease: stop and claim again."
        ),
    )

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
    def claim(task: str, agent: str, ttl: int = default_ttl) -> LeaseInfo:
        """Claim a task; the returned fence must accompany heartbeats and the result.

        `agent` is looked up in sprintboard.toml (its role, host, capabilities, WIP); a name
        it does not list may claim builder work only with `[board] open_claims = true`, and
        never finishes a task."""
        lease = board.claim(task, agent=agent, host=board.host, ttl=ttl)
        return _lease_info(task, lease)

    @server.tool()
    @_as_tool_errors
    def claim_next(agent: str, ttl: int = default_ttl) -> LeaseInfo | None:
        """Claim the task next_task(agent=...) ranks first, in one step; None if none fits."""
        got = board.claim_next(agent, ttl=ttl)
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

    @server.resource("sprintboard://kanban", mime_type="text/markdown")
    def kanban() -> str:
        """KANBAN.md as people see it (off the owner: rendered from the owner's snapshot)."""
        if isinstance(board, LocalBoard):
            return (root / "KANBAN.md").read_text(encoding="utf-8")
        from sprintboard.board.kanban.render import render_kanban

        return render_kanban(board.snapshot())

    @server.resource("sprintboard://backlog", mime_type="text/markdown")
    def backlog() -> str:
        """The current sprint's BACKLOG.md."""
        sprint = board.snapshot().sprint.id
        path = root / "sprints" / str(sprint) / "BACKLOG.md"
        if sprint is None or not path.is_file():
            return "(no sprint backlog yet)"
        return path.read_text(encoding="utf-8")

    return server


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
