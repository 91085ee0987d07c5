"""LocalBoard rules: the status table, leases and fencing, WIP, capabilities, who may finish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sprintboard.board.clock import FrozenClock
from sprintboard.board.models import Artifact
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.errors import (
    BoardError,
    InvalidTransition,
    LeaseConflict,
    NotOwner,
    StaleFence,
    UnknownTask,
    WipLimitReached,
)


def test_illegal_move_lists_the_allowed_ones(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1", status="needs_plan")])
    with pytest.raises(InvalidTransition) as err:
        board.move("T1", "awaiting_test")
    assert "needs_plan -> awaiting_test" in str(err.value)
    assert "planning" in err.value.allowed and "ready" in err.value.allowed
    assert board.snapshot().tasks["T1"].status == "needs_plan"


def test_blocking_needs_a_reason_and_unblocking_clears_it(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    with pytest.raises(InvalidTransition, match="say why"):
        board.move("T1", "blocked")
    board.move("T1", "blocked", reason="HTTP 402 from the provider")
    t = board.snapshot().tasks["T1"]
    assert (t.status, t.blocked_reason, t.column) == (
        "blocked",
        "HTTP 402 from the provider",
        "Blocked",
    )
    board.move("T1", "ready")
    assert board.snapshot().tasks["T1"].blocked_reason is None


def test_only_the_auditor_or_a_forcing_person_finishes(open_local: Any, task: Any) -> None:
    board = open_local(BoardPolicy(owner="alpha", agent_roles={"b1": "builder", "aud": "auditor"}))
    board.create_tasks([task("T1"), task("T2")])
    lease = board.claim("T1", agent="b1", host="alpha", ttl=60)
    board.submit("T1", lease.fence, [], {})
    with pytest.raises(InvalidTransition, match="only the Auditor"):
        board.move("T1", "done", "b1@alpha")
    with pytest.raises(InvalidTransition, match="force"):
        board.move("T1", "done", "human:ana")
    board.move("T1", "done", "aud@alpha")
    board.move("T2", "done", "human:ana", force=True)
    assert {t.status for t in board.snapshot().tasks.values()} == {"done"}


def test_claim_grants_increasing_fences_and_refuses_a_second_claim(
    open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1"), task("T2")])
    first = board.claim("T1", agent="b1", host="alpha", ttl=60)
    second = board.claim("T2", agent="b2", host="alpha", ttl=60)
    assert second.fence > first.fence
    with pytest.raises(LeaseConflict, match="already leased to b1@alpha"):
        board.claim("T1", agent="b2", host="alpha", ttl=60)
    with pytest.raises(UnknownTask):
        board.claim("T9", agent="b2", host="alpha", ttl=60)


def test_stale_fence_is_refused_and_records_nothing(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    old = board.claim("T1", agent="b1", host="alpha", ttl=60)
    clock.advance(61)
    new = board.claim("T1", agent="b2", host="beta", ttl=60)  # the old lease expired first
    assert new.fence > old.fence
    seq = board.snapshot().seq
    art = Artifact(path="runs/T1/1/out.jsonl", sha256="0" * 64, size=3)
    with pytest.raises(StaleFence) as err:
        board.submit("T1", old.fence, [art], {"val_loss": 0.1})
    assert (err.value.given, err.value.current) == (old.fence, new.fence)
    with pytest.raises(StaleFence):
        board.heartbeat("T1", old.fence)
    state = board.snapshot()
    assert (
        state.seq == seq and state.tasks["T1"].artifacts == [] and state.tasks["T1"].metrics == {}
    )


def test_expired_lease_returns_the_task_with_a_journal_entry(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    lease = board.claim("T1", agent="b1", host="alpha", ttl=900)
    clock.advance(600)
    board.heartbeat("T1", lease.fence)
    clock.advance(600)
    assert board.expire_leases() == []  # the heartbeat extended it
    clock.advance(301)
    assert board.expire_leases() == ["T1"]
    t = board.snapshot().tasks["T1"]
    assert (t.status, t.lease, t.agent) == ("ready", None, None)
    expiry = [e for e in board.events() if e.op == "lease.expire"]
    assert len(expiry) == 1 and "b1@alpha" in expiry[0].fields["reason"]


def test_wip_limits_per_agent_and_per_role(open_local: Any, task: Any) -> None:
    policy = BoardPolicy(
        owner="alpha", open_claims=True, wip_per_role={"builder": 2}, wip_per_agent={"b1": 1}
    )
    board = open_local(policy)
    board.create_tasks([task(f"T{i}") for i in range(1, 5)])
    board.claim("T1", agent="b1", host="alpha", ttl=60)
    with pytest.raises(WipLimitReached, match="agent b1"):
        board.claim("T2", agent="b1", host="alpha", ttl=60)
    board.claim("T2", agent="b2", host="alpha", ttl=60)
    with pytest.raises(WipLimitReached, match="role builder"):
        board.claim("T3", agent="b3", host="alpha", ttl=60)


def test_capabilities_are_checked_at_claim(open_local: Any, task: Any) -> None:
    policy = BoardPolicy(
        owner="alpha",
        open_claims=True,
        host_caps={"alpha": frozenset(), "beta": frozenset({"mlx"})},
    )
    board = open_local(policy)
    board.create_tasks([task("T1", caps=["mlx"])])
    assert board.ready(caps=[]) == []
    assert [t.id for t in board.ready(caps=["mlx"])] == ["T1"]
    with pytest.raises(LeaseConflict, match="needs mlx"):
        board.claim("T1", agent="b1", host="alpha", ttl=60)
    assert board.claim("T1", agent="b2", host="beta", ttl=60).host == "beta"


def test_waiting_task_becomes_ready_when_dependencies_are_done(open_local: Any, task: Any) -> None:
    board = open_local(BoardPolicy(owner="alpha", open_claims=True, agent_roles={"aud": "auditor"}))
    board.create_tasks([task("T1"), task("T2", status="blocked", dependencies=["T1"])])
    t2 = board.snapshot().tasks["T2"]
    assert t2.column == "Backlog"  # blocked without a reason = waiting on dependencies
    assert [t.id for t in board.ready()] == ["T1"]
    with pytest.raises(LeaseConflict, match="waits on T1"):
        board.claim("T2", agent="b1", host="alpha", ttl=60)
    lease = board.claim("T1", agent="b1", host="alpha", ttl=60)
    board.submit("T1", lease.fence, [], {})
    board.move("T1", "done", "aud@alpha")
    assert board.snapshot().tasks["T2"].status == "ready"
    assert [
        e.fields.get("reason") for e in board.events() if e.task == "T2" and e.op == "task.move"
    ] == ["dependencies done"]


def test_unknown_dependency_and_duplicate_id_are_refused(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    with pytest.raises(BoardError, match="unknown task.*T7"):
        board.create_tasks([task("T2", dependencies=["T7"])])
    with pytest.raises(BoardError, match="already exists"):
        board.create_tasks([task("T3"), task("T1")])
    assert list(board.snapshot().tasks) == ["T1"]  # the batch is all or nothing


def test_bad_task_fields_are_refused_with_the_field_named(open_local: Any) -> None:
    board = open_local()
    with pytest.raises(BoardError, match="priority"):
        board.create_tasks([{"id": "T1", "title": "x", "priority": "high"}])


def test_unknown_fields_survive(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1", negotiation_decision="split in two")])
    assert open_local().snapshot().tasks["T1"].extra == {"negotiation_decision": "split in two"}


def test_a_non_owner_host_cannot_open_the_board(tmp_path: Path, clock: FrozenClock) -> None:
    from sprintboard.board.local import LocalBoard

    with pytest.raises(NotOwner, match="beta"):
        LocalBoard(tmp_path, host="beta", policy=BoardPolicy(owner="alpha"), clock=clock)


def test_snapshots_handed_out_are_never_mutated(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    before = board.snapshot()
    board.claim("T1", agent="b1", host="alpha", ttl=60)
    assert before.tasks["T1"].status == "ready" and before.tasks["T1"].lease is None
    assert board.snapshot().tasks["T1"].status == "in_progress"


def test_a_snapshot_is_never_changed_by_later_writes_to_its_tasks(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    import copy

    board = open_local(BoardPolicy(owner="alpha", open_claims=True, agent_roles={"aud": "auditor"}))
    board.create_tasks([task("T1", criteria=[{"text": "a"}])])
    lease = board.claim("T1", agent="b1", host="alpha", ttl=60)
    before = board.snapshot()
    kept = copy.deepcopy(before)
    clock.advance(10)
    board.heartbeat("T1", lease.fence)
    board.check_criterion("T1", 0, True, "ok", "aud@alpha")
    board.submit("T1", lease.fence, [Artifact("a", "0" * 64, 1)], {"loss": 1.0})
    board.add_decision("d", task="T1")
    board.start_sprint("S1")
    assert before == kept
    after = board.snapshot().tasks["T1"]
    assert after.criteria[0].done and after.artifacts and after.lease is None


def test_the_sprint_decisions_and_notes_outlive_later_writes(open_local: Any, task: Any) -> None:
    board = open_local()
    board.start_sprint("S1", goal="ship", wip_limits={"builder": 2})
    board.add_decision("d1")
    board.add_note("n1", task=None)
    board.create_tasks([task("T1")])
    board.claim("T1", agent="b1", host="alpha", ttl=60)
    for state in (board.snapshot(), open_local().snapshot()):
        assert (state.sprint.id, state.sprint.goal, state.sprint.wip_limits) == (
            "S1",
            "ship",
            {"builder": 2},
        )
        assert [d.text for d in state.decisions] == ["d1"]
        assert [n.text for n in state.notes] == ["n1"]
