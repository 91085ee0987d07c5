"""The reducer on its own: what each journal line does to the state, and which lines it refuses.

Replay folds the journal through `reduce` alone (no authorization runs then), so every rule
the state depends on is checked here line by line: a refused line names the task and what
to do, and leaves the state exactly as it was.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sprintboard.board.models import Artifact, Criterion, Estimate, Event, Step
from sprintboard.board.state import BoardState, reduce
from sprintboard.errors import (
    BoardError,
    InvalidTransition,
    LeaseConflict,
    StaleFence,
    UnknownTask,
)


class Journal:
    """Hand-written journal lines folded one by one; line N is dated minute N."""

    def __init__(self) -> None:
        self.state = BoardState()
        self.seq = 0

    def ts(self, seq: int | None = None) -> str:
        return f"2026-01-01T00:{self.seq if seq is None else seq:02d}:00.000Z"

    def event(self, op: str, on: str | None, token: int | None, actor: str, **f: Any) -> Event:
        seq = self.seq + 1
        return Event(seq, f"alpha:{seq:026d}", self.ts(seq), actor, op, on, f, token)  # type: ignore[arg-type]

    def __call__(
        self,
        op: str,
        on: str | None = "T1",
        *,
        token: int | None = None,
        actor: str = "human:ana",
        **fields: Any,
    ) -> BoardState:
        """Fold one line about task `on`, carrying fencing token `token`."""
        reduce(self.state, self.event(op, on, token, actor, **fields))
        self.seq += 1
        assert (self.state.seq, self.state.updated) == (self.seq, self.ts())
        return self.state

    def refused(
        self,
        kind: type[BoardError],
        op: str,
        on: str | None = "T1",
        *,
        token: int | None = None,
        **fields: Any,
    ) -> str:
        """Fold a line that must be refused; returns the message. Nothing may change."""
        before = copy.deepcopy(self.state)
        with pytest.raises(kind) as err:
            reduce(self.state, self.event(op, on, token, "human:ana", **fields))
        assert self.state == before
        assert (self.state.seq, self.state.updated) == (before.seq, before.updated)
        return str(err.value)

    def create(self, task_id: str = "T1", **fields: Any) -> None:
        self("task.create", task_id, task={"id": task_id, "title": "t", **fields})

    def grant(self, task_id: str = "T1", fence: int = 1, agent: str = "b1") -> None:
        expires = "2026-01-01T01:00:00.000Z"
        self("lease.grant", task_id, agent=agent, host="beta", ttl=60, expires=expires, fence=fence)


@pytest.fixture
def j() -> Journal:
    return Journal()


def test_create_dates_the_task_and_refuses_a_second_one(j: Journal) -> None:
    j.create(status="ready", priority=1)
    j.create("T2", created="2025-12-31T00:00:00.000Z")
    t1, t2 = j.state.tasks["T1"], j.state.tasks["T2"]
    assert (t1.status, t1.priority, t1.created, t1.updated) == ("ready", 1, j.ts(1), j.ts(1))
    assert (t2.created, t2.updated) == ("2025-12-31T00:00:00.000Z", j.ts(2))
    assert list(j.state.tasks) == ["T1", "T2"]
    assert j.refused(BoardError, "task.create", task={"id": "T1", "title": "again"}) == (
        "T1: a task with this id already exists"
    )
    assert j.refused(BoardError, "task.create", task={"id": "T3", "title": "x", "status": "x"}) == (
        "T3: unknown status 'x'"
    )


def test_update_sets_each_field_and_refuses_status_and_lease(j: Journal) -> None:
    j.create()
    j(
        "task.update",
        title="new",
        criteria=[{"text": "a"}, Criterion("b", done=True)],
        steps=[{"tool": "dedup", "config": {"x": 1}}, Step("audit")],
        estimate={"low": 5, "high": 9},
        agent="b1",
        extra={"k": "v"},
    )
    t1 = j.state.tasks["T1"]
    assert (t1.title, t1.agent, t1.extra, t1.updated) == ("new", "b1", {"k": "v"}, j.ts(2))
    assert t1.criteria == [Criterion("a"), Criterion("b", done=True)]
    assert t1.steps == [Step("dedup", {"x": 1}), Step("audit")]
    assert t1.estimate == Estimate(5, 9)
    j("task.update", estimate=Estimate(1, 2))
    assert j.state.tasks["T1"].estimate == Estimate(1, 2)
    j("task.update", estimate=None)
    assert j.state.tasks["T1"].estimate is None
    message = j.refused(BoardError, "task.update", title="x", status="done", lease=None)
    assert message == "T1: task.update cannot change lease, status; use move/claim/release"
    assert j.refused(UnknownTask, "task.update", "T9", title="x") == (
        "unknown task 'T9'; `sprintboard status` lists the tasks"
    )
    assert j.refused(BoardError, "task.update", None, title="x") == (
        f"event alpha:{j.seq + 1:026d} (task.update) names no task"
    )


def test_a_grant_leases_the_task_and_counts_the_attempt(j: Journal) -> None:
    j.create(status="ready")
    j.grant(fence=3)
    t1 = j.state.tasks["T1"]
    assert t1.lease is not None
    assert (t1.lease.agent, t1.lease.host, t1.lease.fence, t1.lease.ttl) == ("b1", "beta", 3, 60)
    assert (t1.lease.acquired, t1.lease.last_heartbeat) == (j.ts(2), j.ts(2))
    assert t1.lease.expires == "2026-01-01T01:00:00.000Z"
    assert (t1.status, t1.agent, t1.host, t1.attempt, t1.updated) == (
        "in_progress",
        "b1",
        "beta",
        1,
        j.ts(2),
    )
    assert j.state.fence == 3
    j("lease.release", token=3, reason="later")
    j.grant(fence=4)
    assert j.state.tasks["T1"].attempt == 2


def test_refused_grants_say_why(j: Journal) -> None:
    j.create(status="ready")
    j.create("T2")
    j.grant(fence=2)
    grant = {"agent": "b2", "host": "a", "ttl": 1, "expires": "2026-01-02T00:00:00.000Z"}
    assert j.refused(LeaseConflict, "lease.grant", **grant, fence=3) == (
        "T1: cannot be claimed while in_progress"
    )
    assert j.refused(LeaseConflict, "lease.grant", "T2", **grant, fence=3) == (
        "T2: cannot be claimed while needs_plan"
    )
    j.state.tasks["T1"].status = "ready"
    assert j.refused(LeaseConflict, "lease.grant", **grant, fence=3) == (
        "T1: already leased to b1@beta"
    )
    j("task.move", "T2", to="ready")
    assert j.refused(BoardError, "lease.grant", "T2", **grant, fence=2) == (
        "T2: fencing token 2 is not above 2"
    )


def test_a_heartbeat_moves_the_expiry_and_checks_the_fence(j: Journal) -> None:
    j.create(status="ready")
    j.grant(fence=1)
    j("lease.heartbeat", token=1, expires="2026-01-01T02:00:00.000Z")
    lease = j.state.tasks["T1"].lease
    assert lease is not None
    assert (lease.expires, lease.last_heartbeat, lease.acquired) == (
        "2026-01-01T02:00:00.000Z",
        j.ts(3),
        j.ts(2),
    )
    message = j.refused(StaleFence, "lease.heartbeat", token=2, expires="x")
    assert message.startswith("T1: fencing token 2 is stale (current: 1)")
    j("lease.release", token=1, reason="x")
    assert j.refused(StaleFence, "lease.heartbeat", token=1, expires="x").startswith(
        "T1: fencing token 1 is stale (current: None)"
    )


def test_release_and_expiry_return_active_work_to_ready(j: Journal) -> None:
    j.create(status="ready")
    j.create("T2", status="ready")
    j.grant(fence=1)
    j.grant("T2", fence=2)
    j("task.move", "T2", to="adapting")
    j("lease.release", token=1, reason="x")
    j("lease.expire", "T2", token=None, reason="y")
    for tid in ("T1", "T2"):
        task = j.state.tasks[tid]
        assert (task.status, task.lease, task.agent, task.updated) == (
            "ready",
            None,
            None,
            j.ts(6 if tid == "T1" else 7),
        )
    assert j.refused(LeaseConflict, "lease.release", token=1) == "T1: holds no lease"


def test_a_criterion_is_checked_by_index(j: Journal) -> None:
    j.create(criteria=[{"text": "a"}, {"text": "b"}])
    j("criterion.check", index=1, done=True, result="1.4 < 2")
    j("criterion.check", index=0, done=1)
    t1 = j.state.tasks["T1"]
    assert [(c.done, c.result) for c in t1.criteria] == [(True, None), (True, "1.4 < 2")]
    assert t1.updated == j.ts(3)
    j("criterion.check", index=1, done=False)
    assert (t1.criteria[1].done, t1.criteria[1].result) == (False, None)
    assert j.refused(BoardError, "criterion.check", index=2, done=True) == (
        "T1: no criterion #3 (it has 2)"
    )
    assert j.refused(BoardError, "criterion.check", index=-1, done=True) == (
        "T1: no criterion #0 (it has 2)"
    )


def test_artifacts_replace_by_path_and_metrics_are_numbers(j: Journal) -> None:
    j.create(status="ready")
    j.grant(fence=1)
    j("artifact.add", token=1, path="a.jsonl", sha256="1" * 64, size="10")
    j("artifact.add", token=1, path="b.jsonl", sha256="2" * 64, size=20)
    j("artifact.add", token=None, path="a.jsonl", sha256="3" * 64, size=30)  # a person's
    assert j.state.tasks["T1"].updated == j.ts(5)
    j("metric.set", token=1, name="loss", value="1.5")
    j("metric.set", token=None, name=7, value=2)
    t1 = j.state.tasks["T1"]
    assert t1.artifacts == [Artifact("b.jsonl", "2" * 64, 20), Artifact("a.jsonl", "3" * 64, 30)]
    assert t1.metrics == {"loss": 1.5, "7": 2.0} and t1.updated == j.ts(7)
    assert j.refused(StaleFence, "artifact.add", token=2, path="c", sha256="", size=1)
    assert j.refused(StaleFence, "metric.set", token=2, name="x", value=1)


def test_decisions_and_notes_keep_who_when_and_which_task(j: Journal) -> None:
    j.create()
    j("decision.add", "T1", text="use MLX", actor="negotiator-1@alpha")
    j("note.add", "T1", text="GPU down")
    (decision,), (note,) = j.state.decisions, j.state.notes
    assert (decision.id, decision.text, decision.actor, decision.ts, decision.task) == (
        f"alpha:{2:026d}",
        "use MLX",
        "negotiator-1@alpha",
        j.ts(2),
        "T1",
    )
    assert (note.id, note.text, note.actor, note.ts, note.task) == (
        f"alpha:{3:026d}",
        "GPU down",
        "human:ana",
        j.ts(3),
        "T1",
    )


def test_a_sprint_starts_and_closes(j: Journal) -> None:
    j("sprint.start", None, id="S1", goal="ship", wip_limits={"builder": 2}, extra={"k": 1})
    sprint = j.state.sprint
    assert (sprint.id, sprint.goal, sprint.status, sprint.started) == (
        "S1",
        "ship",
        "in_progress",
        j.ts(1),
    )
    assert (sprint.wip_limits, sprint.extra, sprint.closed) == ({"builder": 2}, {"k": 1}, None)
    j("sprint.close", None)
    assert (j.state.sprint.status, j.state.sprint.closed) == ("closed", j.ts(2))
    j("sprint.start", None, id="S2", wip_limits=None)
    assert (j.state.sprint.id, j.state.sprint.goal, j.state.sprint.wip_limits) == ("S2", "", {})
    assert j.state.sprint.extra == {}
    assert (
        j.refused(BoardError, "task.delete", None)
        == f"event alpha:{4:026d}: unknown op 'task.delete'"
    )


def test_moves_follow_the_status_table_unless_forced(j: Journal) -> None:
    j.create(status="needs_plan")
    assert j.refused(InvalidTransition, "task.move", to="nowhere") == (
        "T1: cannot move needs_plan -> nowhere (unknown status); allowed: blocked, cancelled, "
        "planning, planning_complete, ready"
    )
    assert j.refused(InvalidTransition, "task.move", to="done") == (
        "T1: cannot move needs_plan -> done; allowed: blocked, cancelled, planning, "
        "planning_complete, ready"
    )
    assert j.refused(InvalidTransition, "task.move", to="planning", **{"from": "ready"}) == (
        "T1: cannot move needs_plan -> planning (it is now needs_plan, not ready as you saw it; "
        "reload and retry); allowed: blocked, cancelled, planning, planning_complete, ready"
    )
    j("task.move", to="planning", **{"from": "needs_plan"})
    j("task.move", to="done", force=True)
    t1 = j.state.tasks["T1"]
    assert (t1.status, t1.done_at, t1.updated) == ("done", j.ts(3), j.ts(3))


def test_a_move_sets_and_clears_what_goes_with_the_status(j: Journal) -> None:
    j.create(status="ready")
    j("task.move", to="blocked", reason="disk full")
    assert j.state.tasks["T1"].blocked_reason == "disk full"
    j("task.move", to="ready")
    assert j.state.tasks["T1"].blocked_reason is None
    j("task.move", to="blocked", reason="")
    assert j.state.tasks["T1"].blocked_reason is None
    j("task.move", to="ready")
    j("task.move", to="done", force=True)
    j("task.move", to="cancelled", reason="not needed", force=True)
    t1 = j.state.tasks["T1"]
    assert (t1.status, t1.done_at, t1.extra) == (
        "cancelled",
        j.ts(6),
        {"cancelled_reason": "not needed"},
    )
    j("task.move", to="ready", force=True)
    assert (j.state.tasks["T1"].done_at, j.state.tasks["T1"].updated) == (None, j.ts(8))
    j("task.move", to="cancelled")  # ready -> cancelled is in the table
    assert j.state.tasks["T1"].extra == {"cancelled_reason": "not needed"}  # no new reason


def test_a_move_out_of_the_active_statuses_ends_the_lease(j: Journal) -> None:
    j.create(status="ready")
    j.grant(fence=1)
    j("task.move", to="adapting", token=1)
    assert j.state.tasks["T1"].lease is not None  # still active: still leased
    assert j.refused(StaleFence, "task.move", to="awaiting_test", token=2).startswith(
        "T1: fencing token 2 is stale (current: 1)"
    )
    j("task.move", to="awaiting_test", token=1)
    t1 = j.state.tasks["T1"]
    assert (t1.status, t1.lease, t1.agent) == ("awaiting_test", None, "b1")
