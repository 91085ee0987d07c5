"""Where a runner gets its board: the one factory every agent host goes through.

On the owner host it is the `LocalBoard`; on other hosts it is the A2A `RemoteBoard`
(every call a signed message to the owner). Agents only ever see the `BoardClient` it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sprintboard.a2a.node import open_client
from sprintboard.agents.planner import llm_backend
from sprintboard.agents.runner import PlanRequest, Runner, RunnerOptions, RunSummary
from sprintboard.agents.runtime import open_checkpointer
from sprintboard.board.client import BoardClient
from sprintboard.board.clock import Clock, IdSource
from sprintboard.board.local import LocalBoard
from sprintboard.config import WorkspaceConfig, load_config
from sprintboard.tools.registry import load_tool_modules
from sprintboard.workspace import find_workspace, kanban_sync

__all__ = ["board_for_host", "run_host"]


def board_for_host(
    workspace: Path | None,
    host: str,
    *,
    clock: Clock | None = None,
    ids: IdSource | None = None,
) -> BoardClient:
    """The board as host `host` sees it.

    Raises:
        WorkspaceError, ConfigError: no workspace or a bad `sprintboard.toml`.
        ConfigError: off the owner, the `[a2a]` transport is misconfigured (git without
            `remote`, keys inside the shared directory).
    """

    # the runner is its host's reader: it also takes what the owner pushes (assignments)
    return open_client(workspace, host, reader=True, clock=clock, ids=ids)


def run_host(
    workspace: Path | None,
    host: str,
    options: RunnerOptions | None = None,
    *,
    plan: PlanRequest | None = None,
    llm: bool = False,
    backend: Any = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    run_tool: Callable[[str, Any], Any] | None = None,
    worker_backend: Any = None,
) -> RunSummary:
    """Run the agents of `host`: plan `plan` first (if given), then the wake loop.

    With `llm` (and no `backend` given) the Planner asks the `[llm]` endpoint first and
    falls back to the recipe (when one was named or matched) when it is unavailable. `llm`
    workers talk to `worker_backend`, else to `[llm]`. The team's tools (`[tools] modules`)
    are registered first, so plans and workers see them.

    Raises:
        WorkspaceError, ConfigError, BoardError: see `board_for_host`; a plan that does not
            validate.
    """

    root = find_workspace(workspace)
    config = load_config(root)
    load_tool_modules(config.tools.modules)
    board = board_for_host(root, host, clock=clock, ids=ids)
    if llm and backend is None:
        backend = llm_backend(config.llm)
    with open_checkpointer(root) as saver, ExitStack() as stack:
        runner = Runner(
            root,
            host,
            board,
            config,
            saver,
            options,
            backend=backend,
            run_tool=run_tool,
            worker_backend=worker_backend,
        )
        if plan is not None:
            runner.plan(plan)
        if isinstance(board, LocalBoard) and not runner.options.once:
            # People's KANBAN.md edits become journal events, which wake the loop.
            stack.enter_context(_kanban_watcher(board, config))
        return runner.run()


def _kanban_watcher(board: LocalBoard, config: WorkspaceConfig) -> Any:
    # watchdog loads only when a host watches KANBAN.md (start-up time)
    from sprintboard.board.kanban.watcher import KanbanWatcher

    cfg = config.kanban
    return KanbanWatcher(
        board,
        kanban_sync(board),
        polling=cfg.polling,
        debounce=cfg.debounce,
        rescan=cfg.rescan,
    )
