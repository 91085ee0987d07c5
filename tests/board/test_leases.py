"""Leases at their edges: every fenced operation refuses a stale token, tokens strictly increase,
expiry happens exactly at `expires`, and a task waits for all of its dependencies.

The reducer is tested on its own where LocalBoard's authorization would refuse first: a
journal line is replayed through `reduce` alone, so its own checks must hold too.
"""

from __future__ import annotations

from typing import Any

import pytest

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Artifact, Event
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.board.state import BoardState, reduce
from sprintboard.errors import BoardError, InvalidValue, LeaseConflict, StaleFence

AUDITED = BoardPolicy(owner="alpha", open_claims=True, agent_roles={"aud": "auditor"})


def _replayed(board: LocalBoard) -> BoardState:
    """The state the journal gives when replayed through the reducer alone."""
    state = BoardState()
    for event in board.events():
        reduce(state, event)
    return state


def _line(state: BoardState, op: Any, task: str | None, token: int | None, **fields: Any) -> Event:
    """A hand-written journal line following `state` (as a forged or corrupt journal has)."""
    return Event(
        seq=state.seq + 1,
        id=f"alpha:forged-{state.seq + 1}",
        ts="2026-01-01T01:00:00.000Z",
        actor="human:mallory",
        op=op,
        task=task,
        fields=fields,
        fence=token,
    )


def _regranted(board: LocalBoard, clock: FrozenClock) -> tuple[int, int]:
    """T1 leased to b1, expired, then leased to b2: (old fence, new fence)."""
    board.create_tasks([{"id": "T1", "title": "t", "status": "ready"}])
    old = board.claim("T1", agent="b1", host="alpha", ttl=60)
    clock.advance(61)
    new = board.claim("T1", agent="b2", host="alpha", ttl=60)
    return old.fence, new.fence


# -- 1. release with a stale fence ----------------------------------------------------------


def test_a_stale_release_is_refused_and_the_new_holder_keeps_the_task(
    open_local: Any, clock: FrozenClock
) -> None:
    board = open_local()
    old, new = _regranted(board, clock)
    seq = board.snapshot().seq
    with pytest.raises(StaleFence) as err:
        board.release("T1", old)
    assert (err.value.given, err.value.current) == (old, new)
    t1 = board.snapshot().tasks["T1"]
    assert (t1.status, t1.lease and t1.lease.agent, board.snapshot().seq) == (
        "in_progress",
        "b2",
        seq,
    )
    board.release("T1", new)
    t1 = board.snapshot().tasks["T1"]
    assert (t1.status, t1.lease, t1.agent) == ("ready", None, None)


def test_replaying_a_stale_release_line_is_refused_by_the_reducer(
    open_local: Any, clock: FrozenClock
) -> None:
    board = open_local()
    old, new = _regranted(board, clock)
    state = _replayed(board)
    for fence in (old, None, new + 1):
        with pytest.raises(StaleFence):
            reduce(state, _line(state, "lease.release", "T1", fence, reason="stale"))
    assert state.tasks["T1"].lease is not None and state.tasks["T1"].lease.fence == new
    reduce(state, _line(state, "lease.release", "T1", new, reason="done with it"))
    assert (state.tasks["T1"].lease, state.tasks["T1"].status) == (None, "ready")


def test_heartbeat_and_fenced_moves_and_results_check_the_fence_in_the_reducer(
    open_local: Any, clock: FrozenClock
) -> None:
    board = open_local()
    old, new = _regranted(board, clock)
    state = _replayed(board)
    stale = [
        _line(state, "lease.heartbeat", "T1", old, expires="2026-01-02T00:00:00.000Z"),
        _line(state, "task.move", "T1", old, to="awaiting_test"),
        _line(state, "artifact.add", "T1", old, path="a", sha256="0" * 64, size=1),
        _line(state, "metric.set", "T1", old, name="loss", value=1.0),
    ]
    for line in stale:
        with pytest.raises(StaleFence):
            reduce(state, line)
    t1 = state.tasks["T1"]
    assert (t1.status, t1.artifacts, t1.metrics) == ("in_progress", [], {})
    assert t1.lease is not None and t1.lease.expires != "2026-01-02T00:00:00.000Z"


def test_an_expiry_needs_a_lease_but_no_fence(open_local: Any, clock: FrozenClock) -> None:
    board = open_local()
    board.create_tasks([{"id": "T1", "title": "t", "status": "ready"}])
    state = _replayed(board)
    with pytest.raises(LeaseConflict, match="holds no lease"):
        reduce(state, _line(state, "lease.expire", "T1", None, reason="x"))
    with pytest.raises(LeaseConflict, match="holds no lease"):
        reduce(state, _line(state, "lease.release", "T1", 1, reason="x"))


# -- 2. fences strictly increase ------------------------------------------------------------


def test_a_grant_reusing_the_last_fence_is_refused(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1"), task("T2"), task("T3")])
    board.claim("T3", agent="b3", host="alpha", ttl=60)
    first = board.claim("T1", agent="b1", host="alpha", ttl=60)
    reused = {
        "agent": "b2",
        "host": "alpha",
        "ttl": 60,
        "expires": "2026-01-01T00:01:00.000Z",
        "fence": first.fence,
    }
    with pytest.raises(BoardError, match=f"fencing token {first.fence} is not above"):
        board.apply([EventDraft("lease.grant", "T2", reused, "human:ana")])
    with pytest.raises(BoardError, match="is not above"):
        board.apply(
            [EventDraft("lease.grant", "T2", {**reused, "fence": first.fence - 1}, "human:ana")]
        )
    assert board.snapshot().tasks["T2"].lease is None
    board.apply([EventDraft("lease.grant", "T2", {**reused, "fence": first.fence + 1}, "human:a")])
    assert board.snapshot().fence == first.fence + 1


def test_fences_increase_across_releases_and_expiries(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    fences = []
    for _ in range(3):
        lease = board.claim("T1", agent="b1", host="alpha", ttl=60)
        fences.append(lease.fence)
        board.release("T1", lease.fence)
    fences.append(board.claim("T1", agent="b1", host="alpha", ttl=60).fence)
    clock.advance(60)
    fences.append(board.claim("T1", agent="b2", host="alpha", ttl=60).fence)
    assert fences == [1, 2, 3, 4, 5]
    assert board.snapshot().fence == 5 and _replayed(board).fence == 5


def test_a_grant_is_refused_unless_the_task_is_ready_and_free(open_local: Any, task: Any) -> None:
    board = open_local()
    board.create_tasks([task("T1"), task("T2", status="needs_plan")])
    board.claim("T1", agent="b1", host="alpha", ttl=60)
    state = _replayed(board)
    grant = {"agent": "b2", "host": "alpha", "ttl": 60, "expires": "2026-01-02T00:00:00.000Z"}
    with pytest.raises(LeaseConflict, match="cannot be claimed while in_progress"):
        reduce(state, _line(state, "lease.grant", "T1", None, fence=9, **grant))
    with pytest.raises(LeaseConflict, match="cannot be claimed while needs_plan"):
        reduce(state, _line(state, "lease.grant", "T2", None, fence=9, **grant))
    state.tasks["T1"].status = "ready"  # a lease left on a ready task: still not free
    with pytest.raises(LeaseConflict, match="already leased to b1@alpha"):
        reduce(state, _line(state, "lease.grant", "T1", None, fence=9, **grant))


def test_a_grant_records_the_whole_lease(open_local: Any, task: Any, clock: FrozenClock) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    lease = board.claim("T1", agent="b1", host="beta", ttl=90)
    t1 = board.snapshot().tasks["T1"]
    start = "2026-01-01T00:00:00.000Z"
    assert (lease.agent, lease.host, lease.fence, lease.ttl) == ("b1", "beta", 1, 90)
    assert (lease.acquired, lease.last_heartbeat, lease.expires) == (
        start,
        start,
        "2026-01-01T00:01:30.000Z",
    )
    assert (t1.status, t1.agent, t1.host, t1.attempt, t1.updated) == (
        "in_progress",
        "b1",
        "beta",
        1,
        start,
    )
    clock.advance(30)
    beat = board.heartbeat("T1", lease.fence)
    assert (beat.expires, beat.last_heartbeat, beat.acquired) == (
        "2026-01-01T00:02:00.000Z",
        "2026-01-01T00:00:30.000Z",
        start,
    )
    board.release("T1", lease.fence)
    again = board.claim("T1", agent="b1", host="beta", ttl=90)
    assert (again.fence, board.snapshot().tasks["T1"].attempt) == (2, 2)


# -- 3. expiry exactly at `expires` ---------------------------------------------------------


def test_a_lease_expires_exactly_at_its_expiry_time(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    lease = board.claim("T1", agent="b1", host="alpha", ttl=60)
    clock.advance(59.999)
    assert board.expire_leases() == []
    board.heartbeat("T1", lease.fence)  # still held a millisecond before
    clock.advance(60)  # exactly the new expiry
    assert board.expire_leases() == ["T1"]
    t1 = board.snapshot().tasks["T1"]
    assert (t1.status, t1.lease, t1.agent) == ("ready", None, None)
    (expiry,) = [e for e in board.events() if e.op == "lease.expire"]
    assert expiry.actor == "system@alpha" and expiry.fence == lease.fence
    assert expiry.fields["reason"] == ("lease of b1@alpha expired at 2026-01-01T00:01:59.999Z")


def test_a_heartbeat_at_the_expiry_moment_is_too_late(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    lease = board.claim("T1", agent="b1", host="alpha", ttl=60)
    clock.advance(60)
    with pytest.raises(StaleFence):
        board.heartbeat("T1", lease.fence)
    assert board.expire_leases() == ["T1"]  # the refused write committed nothing, not even this


def test_expiry_keeps_a_task_that_left_the_active_statuses(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local(AUDITED)
    board.create_tasks([task("T1"), task("T2")])
    for tid in ("T1", "T2"):
        board.claim(tid, agent="b1", host="alpha", ttl=60)
    board.move("T2", "adapting", "human:ana")  # still active: an expiry returns it to ready
    state = _replayed(board)
    state.tasks["T1"].status = "awaiting_test"  # a lease left on a task in review
    reduce(state, _line(state, "lease.expire", "T1", None, reason="expired"))
    reduce(state, _line(state, "lease.expire", "T2", None, reason="expired"))
    assert (state.tasks["T1"].status, state.tasks["T1"].lease) == ("awaiting_test", None)
    assert (state.tasks["T2"].status, state.tasks["T2"].lease) == ("ready", None)


# -- 5. a task waits for every dependency ---------------------------------------------------


def test_a_task_with_two_dependencies_waits_for_both(open_local: Any, task: Any) -> None:
    board = open_local(AUDITED)
    waiting = task("T3", status="blocked", dependencies=["T1", "T2"])
    board.create_tasks([task("T1"), task("T2"), waiting])
    for tid in ("T1", "T2"):
        lease = board.claim(tid, agent="b1", host="alpha", ttl=60)
        board.submit(tid, lease.fence, [], {})
    board.move("T1", "done", "aud@alpha")
    t3 = board.snapshot().tasks["T3"]
    assert (t3.status, t3.blocked_reason) == ("blocked", None)
    assert [t.id for t in board.ready()] == []
    with pytest.raises(LeaseConflict, match="waits on T2"):
        board.claim("T3", agent="b1", host="alpha", ttl=60)
    board.move("T2", "done", "aud@alpha")
    assert board.snapshot().tasks["T3"].status == "ready"
    assert [t.id for t in board.ready()] == ["T3"]


def test_a_waiting_task_is_claimable_once_its_dependencies_are_done(
    open_local: Any, task: Any
) -> None:
    """Claiming moves it to ready first (the board's move), then grants the lease."""
    board = open_local(AUDITED)
    board.create_tasks([task("T1", status="done"), task("T2", status="blocked", dependencies=[])])
    board.create_tasks([task("T3", status="blocked", dependencies=["T1"])])
    assert board.snapshot().tasks["T3"].status == "ready"  # promoted as it was created
    board.move("T3", "blocked", "human:ana", reason="parked")
    with pytest.raises(LeaseConflict) as err:
        board.claim("T3", agent="b1", host="alpha", ttl=60)
    assert str(err.value) == "T3: cannot be claimed while blocked"
    assert board.snapshot().tasks["T2"].status == "blocked"  # no dependencies: never promoted
    state = _replayed(board)
    state.tasks["T2"].blocked_reason = None
    from sprintboard.board.leases import claim_drafts

    drafts = claim_drafts(state, "T2", "b1", "alpha", 60, FrozenClock().now(), board="own")
    assert [(d.op, d.task, d.actor) for d in drafts] == [
        ("task.move", "T2", "system@own"),
        ("lease.grant", "T2", "b1@alpha"),
    ]
    board.claim("T2", agent="b1", host="alpha", ttl=60)  # on the board: moved, then leased
    t2 = board.snapshot().tasks["T2"]
    assert (t2.status, t2.lease and t2.lease.agent) == ("in_progress", "b1")
    assert drafts[0].fields == {"to": "ready", "from": "blocked", "reason": "dependencies done"}


# -- what each lease operation writes -------------------------------------------------------


def _ops(board: LocalBoard, since: int) -> list[tuple[Any, ...]]:
    return [(e.op, e.actor, e.fence, e.fields) for e in board.events(since)]


def test_a_submit_writes_artifacts_metrics_and_the_move_under_the_holders_fence(
    open_local: Any, task: Any
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    lease = board.claim("T1", agent="b1", host="beta", ttl=60)
    seq = board.snapshot().seq
    arts = [Artifact("runs/T1/1/a.jsonl", "a" * 64, 3), Artifact("runs/T1/1/b.png", "b" * 64, 4)]
    board.submit("T1", lease.fence, arts, {"val_loss": 1, "acc": 0.5})
    f = lease.fence
    assert _ops(board, seq) == [
        ("artifact.add", "b1@beta", f, {"path": arts[0].path, "sha256": "a" * 64, "size": 3}),
        ("artifact.add", "b1@beta", f, {"path": arts[1].path, "sha256": "b" * 64, "size": 4}),
        ("metric.set", "b1@beta", f, {"name": "acc", "value": 0.5}),
        ("metric.set", "b1@beta", f, {"name": "val_loss", "value": 1.0}),
        ("task.move", "b1@beta", f, {"to": "awaiting_test", "reason": "submitted"}),
    ]
    t1 = board.snapshot().tasks["T1"]
    assert (t1.status, t1.lease, t1.metrics) == ("awaiting_test", None, {"acc": 0.5, "val_loss": 1})


def test_release_and_heartbeat_are_written_as_the_holder(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local()
    board.create_tasks([task("T1")])
    lease = board.claim("T1", agent="b1", host="beta", ttl=120)
    seq = board.snapshot().seq
    clock.advance(30)
    board.heartbeat("T1", lease.fence)
    board.release("T1", lease.fence, reason="out of memory")
    board.claim("T1", agent="b2", host="alpha", ttl=60)
    board.release("T1", lease.fence + 1)
    assert _ops(board, seq) == [
        ("lease.heartbeat", "b1@beta", 1, {"expires": "2026-01-01T00:02:30.000Z"}),
        ("lease.release", "b1@beta", 1, {"reason": "out of memory"}),
        ("lease.grant", "b2@alpha", None, {
            "agent": "b2", "host": "alpha", "ttl": 60,
            "expires": "2026-01-01T00:01:30.000Z", "fence": 2,
        }),
        ("lease.release", "b2@alpha", 2, {"reason": "released"}),
    ]  # fmt: skip


def test_drafts_for_a_task_nobody_holds(open_local: Any, task: Any) -> None:
    from sprintboard.board.leases import heartbeat_drafts, holder, release_drafts

    board = open_local()
    board.create_tasks([task("T1")])
    state = board.snapshot()
    now = FrozenClock().now()
    assert holder(state.tasks["T1"]) == "unknown@unknown"
    (beat,) = heartbeat_drafts(state, "T1", 7, now)
    assert (beat.actor, beat.fence, beat.fields) == (
        "unknown@unknown",
        7,
        {"expires": "2026-01-01T00:00:00.000Z"},
    )
    (release,) = release_drafts(state, "T1", 7, "why")
    assert (release.actor, release.fence, release.fields) == (
        "unknown@unknown",
        7,
        {"reason": "why"},
    )
    with pytest.raises(StaleFence):
        board.heartbeat("T1", 7)


def test_a_claim_is_refused_while_leased_or_waiting(open_local: Any, task: Any) -> None:
    board = open_local()
    waiting = task("T2", status="blocked", dependencies=["T1", "T3"])
    board.create_tasks([task("T1"), waiting, task("T3", status="done")])
    board.move("T3", "ready", "human:ana", force=True)  # reopened: T2 waits on it again
    board.claim("T1", agent="b1", host="alpha", ttl=60)
    with pytest.raises(LeaseConflict) as err:
        board.claim("T1", agent="b2", host="alpha", ttl=60)
    assert str(err.value) == "T1: already leased to b1@alpha"
    with pytest.raises(LeaseConflict) as err:
        board.claim("T2", agent="b2", host="alpha", ttl=60)
    assert str(err.value) == "T2: waits on T1, T3"


def test_every_overdue_lease_expires_in_one_write(
    open_local: Any, task: Any, clock: FrozenClock
) -> None:
    board = open_local()
    board.create_tasks([task("T1"), task("T2"), task("T3")])
    board.claim("T1", agent="b1", host="alpha", ttl=60)
    board.claim("T2", agent="b2", host="beta", ttl=30)
    board.claim("T3", agent="b3", host="alpha", ttl=3600)
    clock.advance(60)
    assert board.expire_leases() == ["T1", "T2"]
    expiries = [
        (e.task, e.actor, e.fence, e.fields["reason"])
        for e in board.events()
        if e.op == "lease.expire"
    ]
    assert expiries == [
        ("T1", "system@alpha", 1, "lease of b1@alpha expired at 2026-01-01T00:01:00.000Z"),
        ("T2", "system@alpha", 2, "lease of b2@beta expired at 2026-01-01T00:00:30.000Z"),
    ]


def test_a_claim_takes_a_ttl_from_one_second_to_the_most_a_lease_may_last(
    open_local: Any, task: Any
) -> None:
    from sprintboard.board.values import MAX_TTL

    board = open_local()
    board.create_tasks([task("T1"), task("T2")])
    for ttl in (0, MAX_TTL + 1):
        with pytest.raises(InvalidValue) as err:
            board.claim("T1", agent="b1", host="alpha", ttl=ttl)
        assert str(err.value).startswith(f"T1: ttl {ttl}: must be between 1 and {MAX_TTL}")
    assert board.claim("T1", agent="b1", host="alpha", ttl=1).ttl == 1
    assert board.claim("T2", agent="b2", host="alpha", ttl=MAX_TTL).ttl == MAX_TTL
