"""sprintboard: one task board for AI agents and people.

Names are imported on first use (PEP 562), so `import sprintboard` stays fast and
`import sprintboard.tools` loads no board, agent or LLM code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # workspace and board
    "init_workspace": "sprintboard.workspace",
    "open_board": "sprintboard.workspace",
    "find_workspace": "sprintboard.workspace",
    "load_config": "sprintboard.config",
    "WorkspaceConfig": "sprintboard.config",
    "LocalBoard": "sprintboard.board.local",
    "BoardClient": "sprintboard.board.client",
    "EventDraft": "sprintboard.board.client",
    "BoardState": "sprintboard.board.state",
    "BoardPolicy": "sprintboard.board.scheduling",
    "Task": "sprintboard.board.models",
    "Lease": "sprintboard.board.models",
    "Event": "sprintboard.board.models",
    "Criterion": "sprintboard.board.models",
    "Artifact": "sprintboard.board.models",
    "Step": "sprintboard.board.models",
    "Estimate": "sprintboard.board.models",
    "Status": "sprintboard.board.models",
    "column_of": "sprintboard.board.models",
    "board_status": "sprintboard.status",
    "StatusReport": "sprintboard.status",
    # clock and ids (the seam tests replace)
    "Clock": "sprintboard.board.clock",
    "SystemClock": "sprintboard.board.clock",
    "FrozenClock": "sprintboard.board.clock",
    "CounterIds": "sprintboard.board.clock",
    "UlidIds": "sprintboard.board.clock",
    # errors
    "SprintboardError": "sprintboard.errors",
    "ConfigError": "sprintboard.errors",
    "WorkspaceError": "sprintboard.errors",
    "BoardError": "sprintboard.errors",
    "JournalCorrupt": "sprintboard.errors",
    "JournalRolledBack": "sprintboard.errors",
    "KanbanParseError": "sprintboard.errors",
    "InvalidTransition": "sprintboard.errors",
    "UnknownTask": "sprintboard.errors",
    "LeaseConflict": "sprintboard.errors",
    "StaleFence": "sprintboard.errors",
    "WipLimitReached": "sprintboard.errors",
    "NotOwner": "sprintboard.errors",
    "LockTimeout": "sprintboard.errors",
    "ToolError": "sprintboard.errors",
    "MessageRejected": "sprintboard.errors",
    "LLMUnavailable": "sprintboard.errors",
}

__all__ = [
    "__version__",
    "Artifact",
    "BoardClient",
    "BoardError",
    "BoardPolicy",
    "BoardState",
    "Clock",
    "ConfigError",
    "CounterIds",
    "Criterion",
    "Estimate",
    "Event",
    "EventDraft",
    "FrozenClock",
    "InvalidTransition",
    "JournalCorrupt",
    "JournalRolledBack",
    "KanbanParseError",
    "LLMUnavailable",
    "Lease",
    "LeaseConflict",
    "LocalBoard",
    "LockTimeout",
    "MessageRejected",
    "NotOwner",
    "SprintboardError",
    "StaleFence",
    "Status",
    "StatusReport",
    "Step",
    "SystemClock",
    "Task",
    "ToolError",
    "UlidIds",
    "UnknownTask",
    "WipLimitReached",
    "WorkspaceConfig",
    "WorkspaceError",
    "board_status",
    "column_of",
    "find_workspace",
    "init_workspace",
    "load_config",
    "open_board",
]

if TYPE_CHECKING:
    from sprintboard.board.client import BoardClient, EventDraft
    from sprintboard.board.clock import Clock, CounterIds, FrozenClock, SystemClock, UlidIds
    from sprintboard.board.local import LocalBoard
    from sprintboard.board.models import (
        Artifact,
        Criterion,
        Estimate,
        Event,
        Lease,
        Status,
        Step,
        Task,
        column_of,
    )
    from sprintboard.board.scheduling import BoardPolicy
    from sprintboard.board.state import BoardState
    from sprintboard.config import WorkspaceConfig, load_config
    from sprintboard.errors import (
        BoardError,
        ConfigError,
        InvalidTransition,
        JournalCorrupt,
        JournalRolledBack,
        KanbanParseError,
        LeaseConflict,
        LLMUnavailable,
        LockTimeout,
        MessageRejected,
        NotOwner,
        SprintboardError,
        StaleFence,
        ToolError,
        UnknownTask,
        WipLimitReached,
        WorkspaceError,
    )
    from sprintboard.status import StatusReport, board_status
    from sprintboard.workspace import find_workspace, init_workspace, open_board


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sprintboard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
