"""The public API is pinned: a change to `sprintboard.__all__` is a visible diff here."""

from __future__ import annotations

import sprintboard

EXPECTED = {
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
}


def test_all_is_pinned() -> None:
    assert set(sprintboard.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in sprintboard.__all__:
        assert getattr(sprintboard, name) is not None, name
