"""The dependency graph report: phases, critical path bounds, slack, cycles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.board.models import Task
from sprintboard.errors import BoardError
from sprintboard.sprints.backlog import parse_backlog
from sprintboard.sprints.graph import analyze, validate_graph

Mk = Callable[..., Task]


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
