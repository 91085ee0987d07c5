"""The dependency graph: phases, critical path bounds, slack, cycles, ready set, `next`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.board.models import Lease, SprintInfo, Task
from sprintboard.board.policy import BoardPolicy
from sprintboard.board.state import BoardState
from sprintboard.errors import BoardError
from sprintboard.sprints.backlog import parse_backlog
from sprintboard.sprints.graph import analyze, next_tasks, ready_tasks, validate_graph

Mk = Callable[..., Task]


def _state(*tasks: Task, wip: dict[str, int] | None = None) -> BoardState:
    return BoardState(sprint=SprintInfo(wip_limits=wip or {}), tasks={t.id: t for t in tasks})


def _lease(agent: str) -> Lease:
    return Lease(agent, "alpha", 1, "2026-01-01T00:00:00Z", 900, "2026-01-01T00:15:00Z", "x")


def test_example_backlog_critical_path_phases_and_slack(examples: Path) -> None:
    path = examples / "oodatcaa-SPRINT_BACKLOG.md"
    backlog = parse_backlog(path.read_text(encoding="utf-8"), path)
    result = analyze(backlog.tasks)
    assert result.critical_path == ["T001", "T003", "T004", "T006", "T008"]
    assert (result.length_min, result.length_max) == (840, 1200)
    assert result.phases == [
        ["T001"],
        ["T002", "T003"],
        ["T004"],
        ["T005", "T006", "T007"],
        ["T008"],
    ]
    assert result.cycles == [] and result.warnings == []
    assert {t for t, s in result.slack.items() if s == 0} == set(result.critical_path)
    assert result.slack["T005"] == 240  # a leaf: it may slip until the end of T008
    assert result.unblocks["T004"] == ["T005", "T006", "T007", "T008"]
    assert result.unblocks["T005"] == []


def test_bounds_take_the_longest_chain_of_each_estimate(mk: Mk) -> None:
    # By low estimates A->B is longest (100); by high estimates C->B is (300).
    tasks = [mk("A", est=(90, 100)), mk("C", est=(10, 290)), mk("B", "A", "C", est=(10, 10))]
    result = analyze(tasks)
    assert result.critical_path == ["C", "B"]
    assert (result.length_min, result.length_max) == (100, 300)
    assert result.slack == {"A": 190, "C": 0, "B": 0}


def test_remaining_work_counts_finished_tasks_as_zero(mk: Mk) -> None:
    tasks = [mk("A", est=(100, 100), status="done"), mk("B", "A", est=(5, 5))]
    assert analyze(tasks).length_max == 105
    assert analyze(tasks, remaining=True).length_max == 5


def test_cycle_is_reported_with_its_path_and_blocks_only_what_waits_on_it(mk: Mk) -> None:
    tasks = [mk("A"), mk("B", "A", "D"), mk("C", "B"), mk("D", "C"), mk("E", "D"), mk("F", "A")]
    result = analyze(tasks)
    assert result.cycles == [["B", "C", "D", "B"]]
    assert result.phases == [["A"], ["F"]]
    assert any("B → C → D → B" in w for w in result.warnings)
    assert any("1 task(s) wait on a cycle" in w and "E" in w for w in result.warnings)
    with pytest.raises(BoardError, match="cycle B → C → D → B"):
        validate_graph(tasks)


def test_self_dependency_is_a_cycle(mk: Mk) -> None:
    assert analyze([mk("A", "A")]).cycles == [["A", "A"]]


def test_validate_graph_names_unknown_ids_and_duplicates(mk: Mk) -> None:
    with pytest.raises(BoardError, match=r"T2 -> T9"):
        validate_graph([mk("T1"), mk("T2", "T1", "T9")])
    with pytest.raises(BoardError, match="duplicate task id.*T1"):
        validate_graph([mk("T1"), mk("T1")])
    validate_graph([mk("T1"), mk("T2", "T1")])
    warnings = analyze([mk("T2", "T9")]).warnings
    assert warnings == ["T2 depends on unknown task T9; that dependency is ignored"]


def test_ready_set_needs_done_dependencies_no_lease_and_caps(mk: Mk) -> None:
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
    assert [t.id for t in ready_tasks(state)] == ["B", "D", "G", "H"]
    assert [t.id for t in ready_tasks(state, role="builder", caps=[])] == ["B", "D"]
    assert [t.id for t in ready_tasks(state, caps=["mlx", "cuda"])] == ["B", "D", "G", "H"]


def test_next_ranks_by_priority_then_least_slack(mk: Mk) -> None:
    state = _state(
        mk("short", est=(10, 10), priority=2),
        mk("long", est=(100, 100), priority=2),
        mk("tail", "long", est=(100, 100), priority=2),
        mk("urgent", est=(1, 1), priority=1),
    )
    assert [t.id for t in next_tasks(state)] == ["urgent", "long", "short"]


def test_next_respects_wip_per_role_and_per_agent(mk: Mk) -> None:
    busy = mk("X", status="in_progress", lease=_lease("b1"))
    state = _state(busy, mk("A"), mk("B"), wip={"builder": 1})
    assert next_tasks(state, role="builder") == []
    assert [t.id for t in next_tasks(state, role="auditor")] == []
    roomy = _state(busy, mk("A"), mk("B"))
    policy = BoardPolicy(wip_per_agent={"b1": 1}, agent_roles={"b1": "builder", "b2": "builder"})
    assert next_tasks(roomy, agent="b1", policy=policy) == []
    assert [t.id for t in next_tasks(roomy, agent="b2", policy=policy)] == ["A", "B"]


def test_next_uses_the_agents_caps_from_the_policy(mk: Mk) -> None:
    state = _state(mk("A", caps=["mlx"]), mk("B"))
    policy = BoardPolicy(agent_caps={"cpu-1": frozenset()}, agent_roles={"cpu-1": "builder"})
    assert [t.id for t in next_tasks(state, agent="cpu-1", policy=policy)] == ["B"]
