"""The one scheduling rule: what a claimant may take (role, caps, assignment, WIP) and in what order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sprintboard.board.models import Estimate, Lease, SprintInfo, Step, Task
from sprintboard.board.scheduling import (
    BoardPolicy,
    check_claim,
    claimable,
    next_tasks,
    nothing_to_take,
)
from sprintboard.board.state import BoardState
from sprintboard.errors import LeaseConflict, WipLimitReached

Mk = Callable[..., Task]

POLICY = BoardPolicy(
    owner="alpha",
    wip_per_agent={"b-alpha": 1, "b-beta": 1},
    agent_roles={"b-alpha": "builder", "b-beta": "builder", "aud": "auditor"},
    agent_hosts={"b-alpha": "alpha", "b-beta": "beta", "aud": "alpha"},
    host_caps={"alpha": frozenset(), "beta": frozenset({"mlx"})},
)


@pytest.fixture
def mk() -> Mk:
    def make(task_id: str, *deps: str, est: int = 60, **fields: Any) -> Task:
        task = Task(id=task_id, title=task_id, status="ready", dependencies=list(deps))
        task.estimate = Estimate(est, est)
        for name, value in fields.items():
            setattr(task, name, value)
        return task

    return make


def _state(*tasks: Task, wip: dict[str, int] | None = None) -> BoardState:
    return BoardState(sprint=SprintInfo(wip_limits=wip or {}), tasks={t.id: t for t in tasks})


def _lease(agent: str, host: str = "alpha") -> Lease:
    return Lease(agent, host, 1, "2026-01-01T00:00:00Z", 900, "2026-01-01T00:15:00Z", "x")


def _ids(tasks: list[Task]) -> list[str]:
    return [t.id for t in tasks]


def test_open_tasks_need_done_dependencies_no_lease_and_the_claimants_fit(mk: Mk) -> None:
    state = _state(
        mk("A", status="done"),
        mk("B", "A"),
        mk("C", "B"),
        mk("D", "A", status="blocked"),  # waiting on dependencies, which are done
        mk("E", status="blocked", blocked_reason="waiting for a person"),
        mk("F", lease=_lease("b1"), status="in_progress"),
        mk("G", caps=["mlx"]),
        mk("H", role="auditor"),
    )
    open_policy = BoardPolicy()
    assert _ids(claimable(state, open_policy)) == ["B", "D", "G", "H"]
    assert _ids(claimable(state, open_policy, role="builder", caps=[])) == ["B", "D"]
    assert _ids(claimable(state, open_policy, caps=["mlx", "cuda"])) == ["B", "D", "G", "H"]
    # A named agent's role and capabilities come from the config, not from the caller.
    assert _ids(claimable(state, POLICY, agent="b-alpha")) == ["B", "D"]
    assert _ids(claimable(state, POLICY, agent="b-beta")) == ["B", "D", "G"]
    assert _ids(claimable(state, POLICY, agent="aud")) == ["H"]
    assert _ids(claimable(state, POLICY, agent="b-alpha", caps=["mlx"])) == ["B", "D"]


def test_rank_is_priority_then_least_slack_then_board_order(mk: Mk) -> None:
    state = _state(
        mk("short", est=10, priority=2),
        mk("long", est=100, priority=2),
        mk("tail", "long", est=100, priority=2),
        mk("urgent", est=1, priority=1),
        mk("twin", est=10, priority=2),
    )
    assert _ids(next_tasks(state, BoardPolicy())) == ["urgent", "long", "short", "twin"]


def test_work_assigned_to_an_agent_goes_to_it_first_and_to_no_one_else(mk: Mk) -> None:
    state = _state(
        mk("A", priority=1),
        mk("B", priority=3, agent="b-alpha"),
        mk("C", priority=2, agent="b-beta", host="beta"),
    )
    assert _ids(next_tasks(state, POLICY, agent="b-alpha")) == ["B", "A"]
    assert _ids(next_tasks(state, POLICY, agent="b-beta")) == ["C", "A"]
    # Without an agent there is no assignment to honour: the plain ranking.
    assert _ids(next_tasks(state, POLICY, role="builder")) == ["A", "C", "B"]


def test_wip_per_agent_and_per_role_leave_no_room(mk: Mk) -> None:
    busy = mk("X", status="in_progress", lease=_lease("b-alpha"))
    state = _state(busy, mk("A"), mk("B"))
    assert next_tasks(state, POLICY, agent="b-alpha") == []
    empty = nothing_to_take(state, POLICY, agent="b-alpha", host="alpha")
    assert empty.wip_limit == "agent b-alpha holds 1 task(s), its WIP limit is 1"
    assert _ids(next_tasks(state, POLICY, agent="b-beta")) == ["A", "B"]
    full_role = _state(busy, mk("A"), wip={"builder": 1})
    assert next_tasks(full_role, BoardPolicy(), role="builder") == []
    assert _ids(next_tasks(full_role, BoardPolicy(), role="auditor")) == []
    with pytest.raises(WipLimitReached, match="agent b-alpha"):
        check_claim(state, POLICY, state.tasks["A"], "b-alpha", "alpha")


def test_by_worker_keeps_only_work_a_tool_builder_can_do(mk: Mk) -> None:
    state = _state(mk("manual", priority=1), mk("tool", steps=[Step("audit", {})]))
    assert _ids(next_tasks(state, POLICY, agent="b-alpha", by_worker=True)) == ["tool"]
    assert _ids(next_tasks(state, POLICY, agent="b-alpha")) == ["manual", "tool"]


def test_by_worker_sends_step_less_tasks_to_command_and_llm_builders_whose_caps_cover(
    mk: Mk,
) -> None:
    policy = BoardPolicy(
        owner="alpha",
        agent_roles={"tools-1": "builder", "coder": "builder", "writer": "builder"},
        agent_hosts={"tools-1": "alpha", "coder": "alpha", "writer": "alpha"},
        agent_caps={"coder": frozenset({"code"}), "writer": frozenset()},
        agent_workers={"tools-1": "tools", "coder": "command", "writer": "llm"},
    )
    state = _state(
        mk("tool", steps=[Step("audit", {})]),
        mk("code", caps=["code"]),
        mk("any"),
    )
    assert _ids(next_tasks(state, policy, agent="tools-1", by_worker=True)) == ["tool"]
    assert _ids(next_tasks(state, policy, agent="coder", by_worker=True)) == ["code", "any"]
    assert _ids(next_tasks(state, policy, agent="writer", by_worker=True)) == ["any"]
    why = policy.claimant("coder").worker_misfit(state.tasks["tool"])
    assert why is not None and "command worker" in why


def test_an_unknown_agent_takes_nothing_unless_claims_are_open(mk: Mk) -> None:
    state = _state(mk("A"), mk("R", role="auditor"))
    assert next_tasks(state, POLICY, agent="ghost", host="alpha") == []
    why = nothing_to_take(state, POLICY, agent="ghost", host="alpha").reason
    assert "ghost is not an agent in sprintboard.toml" in why and "open_claims = true" in why
    with pytest.raises(LeaseConflict, match="not an agent in sprintboard.toml"):
        check_claim(state, POLICY, state.tasks["A"], "ghost", "alpha")
    opened = BoardPolicy(open_claims=True, agent_roles={"aud": "auditor"})
    assert _ids(next_tasks(state, opened, agent="ghost", host="alpha")) == ["A"]
    with pytest.raises(LeaseConflict, match="is auditor work; ghost@alpha takes builder work"):
        check_claim(state, opened, state.tasks["R"], "ghost", "alpha")  # own words give no role


def test_an_agent_claims_only_from_its_own_host(mk: Mk) -> None:
    state = _state(mk("A"))
    with pytest.raises(
        LeaseConflict, match="b-beta runs on beta in sprintboard.toml, not on alpha"
    ):
        check_claim(state, POLICY, state.tasks["A"], "b-beta", "alpha")
    assert next_tasks(state, POLICY, agent="b-beta", host="alpha") == []
    assert _ids(next_tasks(state, POLICY, agent="b-beta", host="beta")) == ["A"]


def test_capabilities_not_tracked_anywhere_are_not_checked(mk: Mk) -> None:
    state = _state(mk("G", caps=["mlx"]))
    untracked = BoardPolicy(agent_roles={"b": "builder"})
    assert _ids(next_tasks(state, untracked, agent="b")) == ["G"]
    check_claim(state, untracked, state.tasks["G"], "b", "alpha")
