"""Who may write what (DESIGN.md contract 11): roles only from the config, done only when checked."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.board.authority import Actor, actor_of, authorize
from sprintboard.board.client import EventDraft
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.errors import (
    InvalidTransition,
    LeaseConflict,
    NotPermitted,
    StaleFence,
    UnknownTask,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"

POLICY = BoardPolicy(
    owner="alpha",
    agent_roles={"builder-1": "builder", "auditor-1": "auditor", "planner-1": "planner"},
    agent_hosts={"builder-1": "alpha", "auditor-1": "alpha", "planner-1": "alpha"},
)
CRITERIA = [{"text": "split written"}, {"text": "loss below 2"}]


def _submitted(board: LocalBoard, task: Any, task_id: str = "T1") -> None:
    board.create_tasks([task(task_id, criteria=CRITERIA)])
    lease = board.claim(task_id, agent="builder-1", host="alpha", ttl=60)
    board.submit(task_id, lease.fence, [], {})


def test_an_agent_finishes_only_with_every_criterion_checked(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    _submitted(board, task)
    seq = board.snapshot().seq
    with pytest.raises(InvalidTransition) as err:
        board.move("T1", "done", "auditor-1@alpha")
    text = str(err.value)
    assert "T1: cannot move awaiting_test -> done" in text  # the task and its real status
    assert "criteria not checked: #1 split written; #2 loss below 2" in text
    assert "--force" in text and "allowed: blocked, cancelled, done" in text  # moves and fix
    assert board.snapshot().seq == seq
    board.check_criterion("T1", 0, True, "file there", "auditor-1@alpha")
    with pytest.raises(InvalidTransition, match="criteria not checked: #2 loss below 2"):
        board.move("T1", "done", "auditor-1@alpha")
    board.check_criterion("T1", 1, True, "1.4", "auditor-1@alpha")
    assert board.move("T1", "done", "auditor-1@alpha").status == "done"


def test_a_name_the_config_does_not_know_gets_no_role(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    board.create_tasks([task("T1"), task("T2", role="auditor")])
    with pytest.raises(LeaseConflict, match="ghost is not an agent in sprintboard.toml"):
        board.claim("T1", agent="ghost", host="alpha", ttl=60)
    lease = board.claim("T1", agent="builder-1", host="alpha", ttl=60)
    board.submit("T1", lease.fence, [], {})
    claims_auditor = EventDraft("task.move", "T1", {"to": "done", "role": "auditor"}, "ghost@alpha")
    with pytest.raises(InvalidTransition, match="never carries a role"):
        board.apply([claims_auditor])
    with pytest.raises(InvalidTransition, match="only the Auditor.*ghost is not in sprintboard"):
        board.move("T1", "done", "ghost@alpha")
    with pytest.raises(NotPermitted, match="criteria are checked by the Auditor"):
        board.check_criterion("T1", 0, True, None, "ghost@alpha")
    with pytest.raises(NotPermitted, match="ghost is not an agent"):
        board.add_decision("ship it", actor="ghost@alpha")
    assert board.snapshot().tasks["T1"].status == "awaiting_test"


def test_open_claims_let_an_unknown_agent_build_but_never_finish(
    open_local: Any, task: Any
) -> None:
    opened = BoardPolicy(owner="alpha", open_claims=True, agent_roles=POLICY.agent_roles)
    board = open_local(opened)
    board.create_tasks([task("T1"), task("T2", role="auditor"), task("T3")])
    with pytest.raises(LeaseConflict, match="is auditor work; claude@alpha takes builder work"):
        board.claim("T2", agent="claude", host="alpha", ttl=60)
    lease = board.claim("T1", agent="claude", host="alpha", ttl=60)
    board.apply([EventDraft("note.add", "T1", {"text": "half way"}, "claude@alpha", lease.fence)])
    with pytest.raises(NotPermitted, match="writes only about a task it holds"):
        board.add_note("about T3", actor="claude@alpha", task="T3")
    with pytest.raises(StaleFence):
        board.apply(
            [EventDraft("metric.set", "T1", {"name": "x", "value": 1.0}, "claude@alpha", 9)]
        )
    board.submit("T1", lease.fence, [], {"loss": 1.0})
    with pytest.raises(InvalidTransition, match="only the Auditor"):
        board.move("T1", "done", "claude@alpha")


def test_an_agent_acts_only_from_its_configured_host(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    _submitted(board, task)
    board.check_criterion("T1", 0, True, None, "auditor-1@alpha")
    with pytest.raises(NotPermitted, match="auditor-1 runs on alpha in sprintboard.toml"):
        board.check_criterion("T1", 1, True, None, "auditor-1@beta")
    with pytest.raises(InvalidTransition, match="auditor-1 runs on alpha"):
        board.move("T1", "ready", "auditor-1@beta")
    board.create_tasks([task("T2")])
    with pytest.raises(NotPermitted, match="builder-1 runs on alpha in sprintboard.toml"):
        board.claim("T2", agent="builder-1", host="beta", ttl=60)


def test_a_person_forces_done_and_the_event_records_what_was_unchecked(
    open_local: Any, task: Any
) -> None:
    board = open_local(POLICY)
    _submitted(board, task)
    board.check_criterion("T1", 1, True, "ticked", "human:ana")
    with pytest.raises(InvalidTransition, match="a person moves a task to done with force"):
        board.move("T1", "done", "human:ana")
    with pytest.raises(InvalidTransition, match="only a person forces a move"):
        board.move("T1", "done", "auditor-1@alpha", force=True)
    assert board.move("T1", "done", "human:ana", force=True).status == "done"
    (event,) = [e for e in board.events() if e.op == "task.move" and e.fields["to"] == "done"]
    assert event.fields["unchecked"] == ["#1 split written"]
    assert event.actor == "human:ana" and "role" not in event.fields


def test_moving_a_leased_task_names_its_real_status(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    board.create_tasks([task("T1"), task("T2")])
    board.claim("T1", agent="builder-1", host="alpha", ttl=60)
    # Was: "cannot move in_progress -> blocked (the task is now ready, not in_progress ...)".
    assert board.move("T1", "blocked", "human:ana", reason="waits on legal").status == "blocked"
    assert board.snapshot().tasks["T1"].lease is None
    board.claim("T2", agent="builder-1", host="alpha", ttl=60)
    with pytest.raises(InvalidTransition) as err:
        board.move("T2", "done", "human:ana", expected="ready", force=True)
    assert "cannot move in_progress -> done (it is now in_progress, not ready" in str(err.value)
    assert "allowed: adapting, awaiting_test, blocked" in str(err.value)


TEAM = BoardPolicy(
    owner="alpha",
    open_claims=True,
    agent_roles={**POLICY.agent_roles, "negotiator-1": "negotiator"},
    agent_hosts={**POLICY.agent_hosts, "negotiator-1": "alpha"},
)


@pytest.mark.parametrize(
    ("actor", "who"),
    [
        ("planner-1@alpha", "planner-1 is a planner"),
        ("negotiator-1@alpha", "negotiator-1 is a negotiator"),
        ("builder-1@alpha", "builder-1 is a builder"),
        ("ghost@alpha", "ghost is not in sprintboard.toml"),
    ],
)
def test_only_the_auditor_finishes_even_when_every_criterion_is_checked(
    open_local: Any, task: Any, actor: str, who: str
) -> None:
    board = open_local(TEAM)
    _submitted(board, task)
    for index in range(len(CRITERIA)):
        board.check_criterion("T1", index, True, "ok", "auditor-1@alpha")
    seq = board.snapshot().seq
    with pytest.raises(InvalidTransition, match=f"only the Auditor moves a task to done; {who}"):
        board.move("T1", "done", actor)
    with pytest.raises(InvalidTransition, match="only the Auditor"):
        board.apply([EventDraft("task.move", "T1", {"to": "done"}, actor)])
    assert board.snapshot().seq == seq and board.snapshot().tasks["T1"].status == "awaiting_test"
    assert board.move("T1", "done", "auditor-1@alpha").status == "done"


def test_an_unknown_agent_cannot_declare_itself_the_auditor(open_local: Any, task: Any) -> None:
    board = open_local(TEAM)  # open claims: unnamed agents may build, nothing more
    board.create_tasks([task("T1", role="auditor"), task("T2")])
    with pytest.raises(NotPermitted, match="ghost is not in sprintboard.toml, so it takes only"):
        board.claim_next("ghost", role="auditor")
    with pytest.raises(LeaseConflict, match="is auditor work; ghost@alpha takes builder work"):
        board.claim("T1", agent="ghost", host="alpha", ttl=60)
    assert [t.id for t in board.ready(role="auditor")] == ["T1"]  # the work is there
    assert TEAM.claimant("ghost", "alpha", role="auditor").refusal is not None
    assert TEAM.claimant("ghost", "alpha").role == "builder"
    for claimed in (None, "auditor"):
        for fields in ({"to": "done"}, {"to": "done", "role": claimed}):
            with pytest.raises(InvalidTransition):
                board.apply([EventDraft("task.move", "T2", fields, "ghost@alpha")])
    with pytest.raises(NotPermitted, match="is a builder in sprintboard.toml, not a auditor"):
        board.claim_next("builder-1", role="auditor")
    assert board.snapshot().tasks["T1"].lease is None


def _cli(ws: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("sprintboard")
    where = ["-w", str(ws)] if ws else []
    return subprocess.run(
        [str(exe), *args, *where], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_imported_backlog_cannot_be_finished_unchecked_from_the_cli(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _cli(None, "init", str(ws), "--no-git").returncode == 0
    assert _cli(ws, "import", str(EXAMPLES / "oodatcaa-SPRINT_BACKLOG.md")).returncode == 0
    assert _cli(ws, "claim", "T001", "--agent", "builder-alpha").returncode == 0
    assert _cli(ws, "submit", "T001", "--fence", "1").returncode == 0
    done = _cli(ws, "move", "T001", "done", "--as", "auditor-1@alpha")
    assert done.returncode == 1
    assert "T001: cannot move awaiting_test -> done (criteria not checked: #1 " in done.stderr
    assert done.stderr.count("; #") == 7  # all 8 named
    forced = _cli(ws, "move", "T001", "done", "--force")
    assert forced.returncode == 0, forced.stderr
    log = orjson.loads(_cli(ws, "log", "--task", "T001", "--json").stdout)
    assert len(log[-1]["fields"]["unchecked"]) == 8


# -- the rules one draft at a time ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "policy", "expected"),
    [
        ("human:ana", POLICY, Actor("human:ana", "person", "ana")),
        ("ghost", POLICY, Actor("ghost", "unknown", "ghost")),
        ("system@alpha", POLICY, Actor("system@alpha", "board", "system", "alpha")),
        ("system@beta", POLICY, Actor("system@beta", "unknown", "system", "beta")),
        ("system@beta", BoardPolicy(), Actor("system@beta", "board", "system", "beta")),
        (
            "system@alpha",
            BoardPolicy(owner="alpha", agent_roles={"system": "planner"}),
            Actor("system@alpha", "agent", "system", "alpha", "planner"),
        ),
        ("ghost@alpha", POLICY, Actor("ghost@alpha", "unknown", "ghost", "alpha")),
        (
            "auditor-1@alpha",
            POLICY,
            Actor("auditor-1@alpha", "agent", "auditor-1", "alpha", "auditor"),
        ),
        (
            "auditor-1@beta",
            POLICY,
            Actor("auditor-1@beta", "agent", "auditor-1", "beta", "auditor", wrong_host="alpha"),
        ),
        (  # the name ends at the first `@`: no agent is named `builder-1@alpha`
            "builder-1@alpha@beta",
            POLICY,
            Actor("builder-1@alpha@beta", "agent", "builder-1", "alpha@beta", "builder", "alpha"),
        ),
        (
            "roamer@beta",
            BoardPolicy(agent_roles={"roamer": "builder"}),
            Actor("roamer@beta", "agent", "roamer", "beta", "builder"),
        ),
    ],
)
def test_an_actor_is_who_the_config_says(text: str, policy: BoardPolicy, expected: Actor) -> None:
    assert actor_of(text, policy) == expected


@pytest.fixture
def leased(open_local: Any, task: Any) -> LocalBoard:
    """T1 leased to builder-1 (fence 1), T2 to the unnamed `claude` (fence 2), T3 ready."""
    board = open_local(dataclasses.replace(POLICY, open_claims=True))
    board.create_tasks([task("T1", criteria=CRITERIA), task("T2"), task("T3")])
    board.claim("T1", agent="builder-1", host="alpha", ttl=60)
    board.claim("T2", agent="claude", host="alpha", ttl=60)
    return board


def _check(
    board: LocalBoard, op: str, task: str | None, actor: str, token: int | None = None, **f: Any
) -> EventDraft:
    """Authorize one draft about `task`, fenced with `token`, against the board now."""
    draft = EventDraft(op, task, f, actor, token)  # type: ignore[arg-type]
    return authorize(board.snapshot(), draft, board.policy)


def _refusal(kind: type[Exception], board: LocalBoard, *args: Any, **f: Any) -> str:
    with pytest.raises(kind) as err:
        _check(board, *args, **f)
    return str(err.value)


def test_people_and_the_board_write_anything_unfenced(leased: LocalBoard) -> None:
    for actor in ("human:ana", "system@alpha"):
        for op, fields in [
            ("lease.expire", {"reason": "x"}),
            ("criterion.check", {"index": 0, "done": True}),
            ("decision.add", {"text": "x"}),
            ("task.update", {"title": "x"}),
        ]:
            draft = _check(leased, op, "T1", actor, **fields)
            assert (draft.op, draft.actor, dict(draft.fields)) == (op, actor, fields)


def test_a_fenced_write_needs_the_current_lease(leased: LocalBoard) -> None:
    assert _refusal(
        StaleFence, leased, "note.add", "T1", "builder-1@alpha", 2, text="x"
    ).startswith("T1: fencing token 2 is stale (current: 1)")
    assert _refusal(StaleFence, leased, "note.add", "T3", "human:ana", 1, text="x").startswith(
        "T3: fencing token 1 is stale (current: None)"
    )
    assert _refusal(StaleFence, leased, "note.add", "T9", "human:ana", 1, text="x").startswith(
        "T9: fencing token 1 is stale (current: None)"
    )
    assert _check(leased, "note.add", "T1", "builder-1@alpha", 1, text="x").fence == 1


def test_an_agent_on_the_wrong_host_is_refused_whatever_it_writes(leased: LocalBoard) -> None:
    why = "builder-1 runs on alpha in sprintboard.toml; it cannot act as builder-1@beta. Run it on alpha, or change its host in the config"
    assert _refusal(NotPermitted, leased, "note.add", "T1", "builder-1@beta", text="x") == (
        f"T1: builder-1@beta may not note.add: {why}"
    )
    assert _refusal(
        InvalidTransition, leased, "task.move", "T1", "builder-1@beta", to="blocked"
    ) == (
        f"T1: cannot move in_progress -> blocked ({why}); allowed: adapting, awaiting_test, "
        "blocked, cancelled, integrating, needs_manual, ready"
    )


def test_what_a_named_agent_may_not_write(leased: LocalBoard) -> None:
    assert _refusal(NotPermitted, leased, "lease.expire", "T1", "auditor-1@alpha", reason="x") == (
        "T1: auditor-1@alpha may not lease.expire: only the board expires leases (at its next write)"
    )
    assert _refusal(
        NotPermitted, leased, "criterion.check", "T1", "builder-1@alpha", index=0, done=True
    ) == (
        "T1: builder-1@alpha may not criterion.check: criteria are checked by the Auditor or "
        "ticked by a person (KANBAN.md)"
    )
    grant = {"agent": "builder-1", "host": "beta", "ttl": 60, "expires": "x", "fence": 9}
    assert _refusal(NotPermitted, leased, "lease.grant", "T3", "builder-1@alpha", **grant) == (
        "T3: builder-1@alpha may not lease.grant: an agent claims only for itself, not for "
        "builder-1@beta"
    )
    grant["host"] = "alpha"
    assert _check(leased, "lease.grant", "T3", "builder-1@alpha", **grant).fields == grant
    for op, fields in [("decision.add", {"text": "x"}), ("task.update", {"title": "x"})]:
        assert _check(leased, op, "T3", "planner-1@alpha", **fields).op == op
    assert _check(leased, "criterion.check", "T1", "auditor-1@alpha", index=0, done=True).op


def test_what_an_unnamed_agent_may_write_about_the_task_it_holds(leased: LocalBoard) -> None:
    holder = "claude@alpha"
    for op, fields in [
        ("lease.heartbeat", {"expires": "x"}),
        ("lease.release", {"reason": "x"}),
        ("artifact.add", {"path": "a", "sha256": "0", "size": 1}),
        ("metric.set", {"name": "m", "value": 1}),
        ("note.add", {"text": "x"}),
        ("task.move", {"to": "awaiting_test"}),
    ]:
        assert _check(leased, op, "T2", holder, 2, **fields).op == op
    what = (
        "claude is not an agent in sprintboard.toml: add it under [[agents]] (name, role, host), "
        "or set [board] open_claims = true to let unnamed agents claim builder work. An unnamed "
        "agent writes only about a task it holds, with that lease's fence"
    )
    assert _refusal(NotPermitted, leased, "note.add", "T2", holder, text="x") == (
        f"T2: claude@alpha may not note.add: {what}"
    )
    assert _refusal(NotPermitted, leased, "decision.add", "T2", holder, 2, text="x") == (
        f"T2: claude@alpha may not decision.add: {what}"
    )
    assert _refusal(NotPermitted, leased, "task.update", "T2", holder, 2, title="x")
    assert _refusal(NotPermitted, leased, "note.add", "T2", "claude@beta", 2, text="x")
    assert _refusal(NotPermitted, leased, "note.add", None, holder, text="x") == (
        f"board: claude@alpha may not note.add: {what}"
    )
    assert _refusal(InvalidTransition, leased, "task.move", "T2", holder, to="blocked") == (
        "T2: cannot move in_progress -> blocked (claude is not an agent in sprintboard.toml: add "
        "it under [[agents]] (name, role, host), or set [board] open_claims = true to let unnamed "
        "agents claim builder work. An unnamed agent moves only a task it holds, with that "
        "lease's fence); allowed: adapting, awaiting_test, blocked, cancelled, integrating, "
        "needs_manual, ready"
    )
    assert _refusal(InvalidTransition, leased, "task.move", "T1", holder, 1, to="blocked")


def test_moves_by_people_and_by_agents(leased: LocalBoard) -> None:
    assert _check(leased, "task.move", "T3", "human:ana", to="blocked", reason="x").fields == {
        "to": "blocked",
        "reason": "x",
    }
    assert _check(leased, "task.move", "T3", "planner-1@alpha", to="needs_plan").op
    message = _refusal(InvalidTransition, leased, "task.move", "T3", "human:ana", to="done")
    assert message == (
        "T3: cannot move ready -> done (a person moves a task to done with force (--force, or "
        "tick its card in KANBAN.md); the event records any unchecked criteria); allowed: "
        "blocked, cancelled, in_progress, needs_manual, needs_plan"
    )
    done = _check(leased, "task.move", "T3", "human:ana", to="done", force=True)
    assert dict(done.fields) == {"to": "done", "force": True}  # nothing unchecked to record
    forced = _check(leased, "task.move", "T1", "human:ana", to="done", force=True)
    assert forced.fields["unchecked"] == ["#1 split written", "#2 loss below 2"]
    assert _refusal(
        InvalidTransition, leased, "task.move", "T3", "planner-1@alpha", to="needs_plan", force=True
    ) == (
        "T3: cannot move ready -> needs_plan (only a person forces a move; planner-1@alpha is an "
        "agent); allowed: blocked, cancelled, in_progress, needs_manual, needs_plan"
    )
    assert _refusal(
        InvalidTransition, leased, "task.move", "T1", "auditor-1@alpha", to="done"
    ).startswith(
        "T1: cannot move in_progress -> done (criteria not checked: #1 split written; #2 loss "
        "below 2. The Auditor checks them, or a person ticks them in KANBAN.md or moves the task "
        "with --force); allowed:"
    )
    assert _refusal(
        InvalidTransition, leased, "task.move", "T1", "builder-1@alpha", to="done"
    ).startswith(
        "T1: cannot move in_progress -> done (only the Auditor moves a task to done; builder-1 is "
        "a builder. Submit the result for the Auditor, or a person moves it with --force)"
    )
    assert _refusal(
        InvalidTransition, leased, "task.move", "T3", "human:ana", to="ready", role="x"
    ).startswith(
        "T3: cannot move ready -> ready (an event never carries a role: roles come from "
        "sprintboard.toml; drop `role`)"
    )


def test_a_host_heartbeat_comes_from_a_configured_agent_of_that_host(leased: LocalBoard) -> None:
    beat = {"host": "alpha"}
    assert _check(leased, "host.heartbeat", None, "builder-1@alpha", **beat).fields == beat
    assert _check(leased, "host.heartbeat", None, "human:ana", host="zeta").op == "host.heartbeat"
    why = "a host heartbeat comes from a configured agent of that same host"
    assert _refusal(
        NotPermitted, leased, "host.heartbeat", None, "builder-1@alpha", host="beta"
    ) == (f"board: builder-1@alpha may not host.heartbeat: {why}")
    assert _refusal(NotPermitted, leased, "host.heartbeat", None, "claude@alpha", **beat) == (
        f"board: claude@alpha may not host.heartbeat: {why}"
    )


def test_only_a_person_answers_a_question(leased: LocalBoard) -> None:
    why = "a person answers questions (`sprintboard answer`, the web board or KANBAN.md)"
    for actor, token in [("planner-1@alpha", None), ("builder-1@alpha", 1), ("claude@alpha", 2)]:
        task = "T2" if actor.startswith("claude") else "T1"
        message = _refusal(NotPermitted, leased, "question.answer", task, actor, token, text="x")
        assert message == f"{task}: {actor} may not question.answer: {why}"
    assert _check(leased, "question.answer", "T1", "human:ana", text="x").op == "question.answer"


def test_an_unnamed_agent_writes_only_the_ops_listed_for_it(leased: LocalBoard) -> None:
    # authorize is public: an op outside the list is refused even about the task it holds
    # (LocalBoard's value check refuses unknown ops first; this rule must not lean on that).
    assert _refusal(NotPermitted, leased, "task.delete", "T2", "claude@alpha", 2).startswith(
        "T2: claude@alpha may not task.delete: claude is not an agent in sprintboard.toml"
    )


@pytest.mark.parametrize(
    ("actor", "fields"),
    [
        ("human:ana", {"to": "done", "force": True}),
        ("human:ana", {"to": "done"}),
        ("auditor-1@alpha", {"to": "done"}),
        ("builder-1@alpha", {"agent": "builder-1", "host": "alpha"}),
    ],
)
def test_a_move_or_claim_without_a_task_names_no_task(
    leased: LocalBoard, actor: str, fields: dict[str, Any]
) -> None:
    op = "lease.grant" if "agent" in fields else "task.move"
    with pytest.raises(UnknownTask) as err:
        _check(leased, op, None, actor, **fields)
    assert err.value.task == ""
