"""The status table's allowed moves (DESIGN.md contract 7); anything else needs `force`."""

from __future__ import annotations

from sprintboard.board.models import Status

__all__ = ["ALLOWED_MOVES", "allowed_moves"]

ALLOWED_MOVES: dict[Status, frozenset[Status]] = {
    "needs_plan": frozenset({"planning", "planning_complete", "ready", "blocked", "cancelled"}),
    "planning": frozenset({"planning_complete", "ready", "needs_plan", "blocked", "cancelled"}),
    "planning_complete": frozenset({"ready", "needs_plan", "blocked", "cancelled"}),
    "ready": frozenset({"in_progress", "needs_plan", "blocked", "needs_manual", "cancelled"}),
    "in_progress": frozenset(
        {
            "awaiting_test",
            "adapting",
            "integrating",
            "ready",
            "blocked",
            "needs_manual",
            "cancelled",
        }
    ),
    "adapting": frozenset({"in_progress", "awaiting_test", "ready", "blocked", "cancelled"}),
    "integrating": frozenset(
        {"awaiting_test", "ready_for_integrator", "ready", "blocked", "cancelled"}
    ),
    "awaiting_test": frozenset(
        {"testing", "done", "ready", "needs_manual", "needs_adapt", "blocked", "cancelled"}
    ),
    "testing": frozenset(
        {
            "done",
            "ready",
            "needs_manual",
            "needs_adapt",
            "ready_for_integrator",
            "blocked",
            "cancelled",
        }
    ),
    "ready_for_integrator": frozenset({"integrating", "done", "ready", "blocked", "cancelled"}),
    "needs_manual": frozenset({"done", "ready", "blocked", "cancelled"}),
    "blocked": frozenset({"ready", "needs_plan", "cancelled"}),
    "needs_adapt": frozenset({"adapting", "ready", "blocked", "cancelled"}),
    "done": frozenset(),
    "cancelled": frozenset(),
}


def allowed_moves(status: Status) -> list[str]:
    """The statuses `status` may move to without force, sorted."""
    return sorted(ALLOWED_MOVES[status])
