"""The one scheduling rule: what a claimant may take (role, caps, assignment, WIP) and in what order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sprintboard.board.models import Estimate, Lease, SprintInfo, Step, Task
from sprintboard.board.scheduling import (
    BoardPolicy,
    Claimant,
    NextUp,
    NothingToTake,
    check_claim,
    claimable,
    held,
    next_tasks,
    next_up,
    nothing_to_take,
    unknown_agent,
    wip_room,
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
    ranked = ["urgent", "long", "short", "twin"]
    assert _ids(next_tasks(state, BoardPolicy())) == ranked
    for limit in range(6):  # a limit keeps the best first of the full ranking
        assert _ids(next_tasks(state, BoardPolicy(), limit=limit)) == ranked[:limit], limit


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


# -- the claimant as the config sees it -----------------------------------------------------

CAPS = BoardPolicy(
    owner="alpha",
    open_claims=True,
    agent_roles={"b-alpha": "builder", "b-beta": "builder"},
    agent_hosts={"b-alpha": "alpha", "b-beta": "beta"},
    agent_caps={"b-beta": frozenset({"cuda"})},
    host_caps={"alpha": frozenset(), "beta": frozenset({"mlx"})},
)


def _caps(*names: str) -> frozenset[str]:
    return frozenset(names)


@pytest.mark.parametrize(
    ("policy", "args", "expected"),
    [
        (POLICY, ((), {"host": "h", "role": "builder", "caps": ["x"]}),
         Claimant(None, "h", "builder", _caps("x"))),
        (POLICY, (("ghost", "alpha"), {"role": "builder", "caps": ["x"]}),
         Claimant("ghost", "alpha", "builder", _caps("x"), refusal=unknown_agent("ghost"))),
        (CAPS, (("ghost", "alpha"), {"role": "auditor", "caps": ["x"]}),
         Claimant("ghost", "alpha", "auditor", _caps("x"),
                  refusal="ghost is not in sprintboard.toml, so it takes only builder work")),
        (CAPS, (("ghost", "beta"), {}), Claimant("ghost", "beta", "builder", _caps("mlx"))),
        (CAPS, (("b-alpha", "alpha"), {"role": "auditor", "caps": ["x"]}),
         Claimant("b-alpha", "alpha", "auditor", _caps("x"),
                  refusal="b-alpha is a builder in sprintboard.toml, not a auditor")),
        (CAPS, (("b-beta", "alpha"), {"caps": ["x"]}),
         Claimant("b-beta", "alpha", "builder", _caps("x"),
                  refusal="b-beta runs on beta in sprintboard.toml, not on alpha")),
        (CAPS, (("b-beta",), {}),
         Claimant("b-beta", "beta", "builder", _caps("cuda", "mlx"), known=True)),
        (CAPS, (("b-beta", "beta"), {"role": "builder", "caps": ["mlx", "tpu"]}),
         Claimant("b-beta", "beta", "builder", _caps("mlx"), known=True)),
        (BoardPolicy(agent_roles={"b": "builder"}), (("b", "h"), {"caps": ["x"]}),
         Claimant("b", "h", "builder", _caps("x"), known=True)),
    ],
)  # fmt: skip
def test_a_claimant_gets_role_host_and_caps_from_the_config(
    policy: BoardPolicy, args: tuple[tuple[str, ...], dict[str, Any]], expected: Claimant
) -> None:
    positional, keywords = args
    assert policy.claimant(*positional, **keywords) == expected


def test_hosts_and_capabilities_of_an_agent() -> None:
    assert CAPS.host_for("b-beta", "gamma", "alpha") == "gamma"
    assert CAPS.host_for("b-beta", None, "alpha") == "beta"
    assert CAPS.host_for("ghost", None, "alpha") == "alpha"
    assert CAPS.caps_of("b-beta", "beta") == {"cuda", "mlx"}
    assert CAPS.caps_of("b-beta", None) == {"cuda"}
    assert CAPS.caps_of("ghost", "beta") == {"mlx"} and CAPS.caps_of("ghost", "nowhere") == set()
    assert CAPS.tracks_caps and not BoardPolicy(host_caps={"a": frozenset()}).tracks_caps


def test_held_counts_leases_and_on_request_the_promised_work(mk: Mk) -> None:
    state = _state(
        mk("L1", status="in_progress", lease=_lease("b-alpha")),
        mk("L2", status="in_progress", lease=_lease("b-beta"), role="auditor"),
        mk("P1", agent="b-alpha"),  # assigned, not claimed: a promise
        mk("P2", agent="b-alpha", status="blocked", blocked_reason="x"),  # not ready: none
        mk("P3", agent="b-beta"),
    )
    assert held(state) == 2
    assert (held(state, agent="b-alpha"), held(state, role="builder")) == (1, 1)
    assert held(state, agent="b-alpha", reserved=True) == 2
    assert held(state, reserved=True) == 2  # promises count only for a named agent
    assert held(state, agent="b-beta", role="auditor", reserved=True) == 2


def test_wip_room_checks_the_agent_then_its_configured_role(mk: Mk) -> None:
    roles = {"b1": "builder"}
    state = _state(
        mk("L1", status="in_progress", lease=_lease("b0")),
        mk("L2", status="in_progress", lease=_lease("b2")),
        mk("L3", status="in_progress", lease=_lease("b3"), role="auditor"),
        wip={"auditor": 1, "builder": 2},
    )
    sprint_limits = BoardPolicy(agent_roles=roles, open_claims=True)
    assert wip_room(state, sprint_limits, agent="b1") == (
        "role builder holds 2 task(s), its WIP limit is 2"
    )
    assert wip_room(state, sprint_limits, agent="b9") is None  # no role known, no agent limit
    assert wip_room(state, sprint_limits, role="auditor") == (
        "role auditor holds 1 task(s), its WIP limit is 1"
    )
    config_wins = BoardPolicy(agent_roles=roles, wip_per_role={"builder": 3}, open_claims=True)
    assert wip_room(state, config_wins, agent="b1") is None
    check_claim(state, config_wins, mk("A"), "b1", "alpha")
    with pytest.raises(WipLimitReached) as err:
        check_claim(state, sprint_limits, mk("A"), "b1", "alpha")
    assert (err.value.scope, err.value.limit) == ("role builder", 2)
    agent_limit = BoardPolicy(wip_per_agent={"b0": 1}, open_claims=True)
    assert wip_room(state, agent_limit, agent="b0") == (
        "agent b0 holds 1 task(s), its WIP limit is 1"
    )
    with pytest.raises(WipLimitReached) as err:
        check_claim(state, agent_limit, mk("A"), "b0", "alpha")
    assert (err.value.scope, err.value.limit) == ("agent b0", 1)


def test_a_refused_claim_names_the_task(mk: Mk) -> None:
    state = _state(mk("A", caps=["mlx", "cuda"]))
    with pytest.raises(LeaseConflict) as err:
        check_claim(state, POLICY, state.tasks["A"], "ghost", "alpha")
    assert err.value.task == "A" and str(err.value).startswith("A: cannot be claimed: ghost is")
    with pytest.raises(LeaseConflict) as err:
        check_claim(state, POLICY, state.tasks["A"], "b-beta", "beta")
    assert str(err.value) == "A: needs cuda; b-beta@beta lacks it"
    with pytest.raises(LeaseConflict) as err:
        check_claim(state, POLICY, state.tasks["A"], "b-alpha", "alpha")
    assert str(err.value) == "A: needs cuda, mlx; b-alpha@alpha lacks it"


def test_work_assigned_to_a_host_goes_to_that_host_only(mk: Mk) -> None:
    state = _state(mk("A", agent="b-beta", host="beta"), mk("B", agent="b-beta"))
    beta = Claimant("b-beta", "beta", "builder", None)
    assert [beta.assigned_elsewhere(t) for t in state.tasks.values()] == [False, False]
    elsewhere = Claimant("b-beta", "gamma", "builder", None)
    assert [elsewhere.assigned_elsewhere(t) for t in state.tasks.values()] == [True, False]
    anywhere = Claimant("b-beta", None, "builder", None)
    assert [anywhere.assigned_elsewhere(t) for t in state.tasks.values()] == [False, False]


def test_next_and_nothing_to_take_use_the_claimants_own_words(mk: Mk) -> None:
    state = _state(mk("G", caps=["mlx"]), mk("R", role="auditor"))
    assert _ids(next_tasks(state, POLICY, agent="b-beta", host="beta")) == ["G"]
    assert next_tasks(state, POLICY, agent="b-beta", host="beta", caps=[]) == []
    assert next_tasks(state, POLICY, agent="b-beta", host="alpha") == []
    assert nothing_to_take(state, POLICY, agent="b-beta", host="beta", caps=[]).reason == (
        "no ready task fits b-beta@beta (role builder, caps [])"
    )
    assert nothing_to_take(state, POLICY, agent="b-beta", host="beta").reason == (
        "no ready task fits b-beta@beta (role builder, caps [mlx])"
    )
    assert nothing_to_take(state, BoardPolicy(), role="planner").reason == (
        "no ready task fits a planner-role agent (role planner)"
    )
    assert nothing_to_take(state, BoardPolicy()).reason == (
        "no ready task fits a any-role agent (any role)"
    )
    assert nothing_to_take(state, POLICY, agent="b-beta", host="alpha").reason == (
        "b-beta runs on beta in sprintboard.toml, not on alpha"
    )
    assert nothing_to_take(state, POLICY, agent="b-alpha", role="auditor").reason == (
        "b-alpha is a builder in sprintboard.toml, not a auditor"
    )
    busy = _state(mk("X", status="in_progress", lease=_lease("b-alpha")), mk("A"))
    full = nothing_to_take(busy, BoardPolicy(wip_per_role={"builder": 1}), role="builder")
    assert (full.reason, full.wip_limit) == (
        "role builder holds 1 task(s), its WIP limit is 1",
    ) * 2
    assert nothing_to_take(busy, POLICY, agent="b-alpha").wip_limit == (
        "agent b-alpha holds 1 task(s), its WIP limit is 1"
    )


def test_limits_count_only_what_they_limit(mk: Mk) -> None:
    state = _state(
        mk("L1", status="in_progress", lease=_lease("b-beta", "beta")),
        mk("P1", agent="b-alpha"),
        mk("P2"),
        mk("P3"),
        mk("A"),
    )
    assert held(state, agent="b-alpha", reserved=True) == 1  # its promise, not others' work
    check_claim(state, POLICY, state.tasks["A"], "b-alpha", "alpha")  # b-beta's lease: not its
    assert _ids(next_tasks(state, POLICY, agent="b-alpha")) == ["P1", "P2", "P3", "A"]


def test_an_unnamed_agent_is_held_to_the_builder_limit_and_its_hosts_caps(mk: Mk) -> None:
    opened = BoardPolicy(
        open_claims=True,
        wip_per_role={"builder": 1},
        host_caps={"alpha": frozenset(), "beta": frozenset({"mlx"})},
    )
    free = _state(mk("G", caps=["mlx"]), mk("A"))
    assert _ids(next_tasks(free, opened, agent="ghost", host="beta")) == ["G", "A"]
    assert _ids(next_tasks(free, opened, agent="ghost", host="alpha")) == ["A"]
    assert _ids(claimable(free, POLICY, agent="b-beta", host="alpha")) == []  # wrong host
    busy = _state(mk("X", status="in_progress", lease=_lease("b0")), mk("A"))
    assert next_tasks(busy, opened, agent="ghost", host="alpha") == []
    assert nothing_to_take(free, CAPS, agent="b-beta", caps=["cuda", "mlx", "tpu"]).reason == (
        "no ready task fits b-beta@beta (role builder, caps [cuda, mlx])"
    )


def test_next_up_asks_for_the_agent_or_for_a_role_with_no_caps(mk: Mk) -> None:
    state = _state(
        mk("G", caps=["mlx"], priority=1),
        mk("A", priority=2),
        mk("B", priority=3),
        mk("R", role="auditor"),
        mk("M", agent="b-beta", host="beta", priority=4),
    )
    # without an agent: builder work needing no capability, host and assignment ignored
    assert _ids(next_up(state, POLICY).tasks) == ["A", "B", "M"]
    assert _ids(next_up(state, POLICY, caps=["mlx"], host="beta").tasks) == ["G", "A", "B", "M"]
    assert _ids(next_up(state, POLICY, role="auditor").tasks) == ["R"]
    assert _ids(next_up(state, POLICY, limit=1).tasks) == ["A"]
    assert next_up(state, POLICY).why is None
    # an agent: its own role, host, caps and assignments from the config; `caps=[]` is no
    # narrowing ("none given"), unlike a role's empty caps above
    assert _ids(next_up(state, POLICY, agent="b-beta").tasks) == ["M", "G", "A", "B"]
    assert _ids(next_up(state, POLICY, agent="b-beta", caps=[]).tasks) == ["M", "G", "A", "B"]
    assert _ids(next_up(state, POLICY, agent="b-beta", caps=["cuda"]).tasks) == ["M", "A", "B"]
    assert _ids(next_up(state, POLICY, agent="b-beta", host="beta", limit=2).tasks) == ["M", "G"]
    assert _ids(next_up(state, POLICY, agent="b-alpha").tasks) == ["A", "B"]
    assert _ids(next_up(state, POLICY, agent="aud").tasks) == ["R"]


def test_next_up_says_why_there_is_nothing(mk: Mk) -> None:
    state = _state(mk("G", caps=["mlx"]))
    assert next_up(state, POLICY) == NextUp(
        [], NothingToTake("no ready task fits a builder-role agent (role builder, caps [])")
    )
    assert next_up(state, POLICY, role="auditor", caps=["mlx"]) == NextUp(
        [], NothingToTake("no ready task fits a auditor-role agent (role auditor, caps [mlx])")
    )
    assert next_up(state, POLICY, agent="b-alpha") == NextUp(
        [], NothingToTake("no ready task fits b-alpha@alpha (role builder, caps [])")
    )
    assert next_up(state, POLICY, agent="b-beta", host="alpha") == NextUp(
        [], NothingToTake("b-beta runs on beta in sprintboard.toml, not on alpha")
    )
    busy = _state(mk("X", status="in_progress", lease=_lease("b-alpha")), mk("A"))
    assert next_up(busy, POLICY, agent="b-alpha") == NextUp(
        [],
        NothingToTake(
            "agent b-alpha holds 1 task(s), its WIP limit is 1",
            "agent b-alpha holds 1 task(s), its WIP limit is 1",
        ),
    )
