"""Backlog markdown: the oodatcaa example, the older variant, round trips, refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.board.models import Criterion, SprintInfo, Step, Task
from sprintboard.errors import SprintFileError
from sprintboard.sprints.backlog import parse_backlog, render_backlog

Mk = Callable[..., Task]

OLD_VARIANT = """\
# Sprint 2 Backlog

## Work Items

### W001: Set up the data pipeline
**Type:** Task
**Priority:** P0 (Critical Path)
**Assigned:** Needs planning
**Dependencies:** None

**Acceptance Criteria:**
- Pipeline reads the raw dump
- Rows are deduplicated
  across all shards

**Estimated Time:** 2-3 hours

### W002: Train the first adapter
**Priority:** P1
**Status:** In Progress
**Assigned:** builder-7
**Dependencies:** W001 (pipeline)
**Estimated Time:** 90 min
"""


def _example(examples: Path) -> tuple[Path, str]:
    path = examples / "oodatcaa-SPRINT_BACKLOG.md"
    return path, path.read_text(encoding="utf-8")


def test_example_backlog_parses_every_field(examples: Path) -> None:
    path, text = _example(examples)
    backlog = parse_backlog(text, path)
    assert [t.id for t in backlog.tasks] == [f"T00{i}" for i in range(1, 9)]
    t1, t6 = backlog.tasks[0], backlog.tasks[5]
    assert (t1.title, t1.type, t1.complexity, t1.status, t1.priority) == (
        "Training Framework Research & Selection", "Story", "M", "ready", 1,
    )  # fmt: skip
    assert t1.estimate is not None and (t1.estimate.low, t1.estimate.high) == (120, 180)
    assert len(t1.criteria) == 8 and not any(c.done for c in t1.criteria)
    assert t1.criteria[7].text == "Dependencies added to `pyproject.toml`"
    assert t1.description.startswith("Research and select the optimal training framework")
    assert t1.description.endswith("- Document installation and configuration steps")
    assert t1.links == "OBJECTIVE.md → Training System (Core) → QLoRA Setup → Framework selection"
    assert t6.dependencies == ["T002", "T004"] and t6.status == "blocked"
    assert t6.blocked_reason is None  # waiting on dependencies, not blocked by a person
    assert backlog.sprint.goal == "Training System Foundation — Dataset creation and QLoRA setup"
    assert backlog.lines["T001"] == 12


def test_example_summary_disagreement_is_a_warning(examples: Path) -> None:
    path, text = _example(examples)
    backlog = parse_backlog(text, path)
    assert backlog.stated_critical_path == ["T001", "T003", "T004", "T005", "T006", "T008"]
    assert len(backlog.stated_phases) == 6
    path_warning, phase_warning = backlog.warnings
    assert "T006 does not depend on T005" in path_warning
    assert "T005 is a leaf" in path_warning
    assert "T001 → T003 → T004 → T006 → T008 (840-1200 min)" in path_warning
    assert path_warning.startswith(f"{path}:")
    assert "6 stated phases" in phase_warning and "give 5" in phase_warning


def test_render_then_parse_gives_the_same_tasks_and_sprint(examples: Path) -> None:
    path, text = _example(examples)
    backlog = parse_backlog(text, path)
    again = parse_backlog(render_backlog(backlog.tasks, backlog.sprint), Path("BACKLOG.md"))
    assert again.tasks == backlog.tasks
    assert again.sprint == backlog.sprint
    assert again.warnings == []  # the regenerated Summary agrees with the dependencies


def test_summary_is_regenerated_not_copied(examples: Path) -> None:
    path, text = _example(examples)
    backlog = parse_backlog(text, path)
    backlog.tasks[0].complexity = "S"
    out = render_backlog(backlog.tasks, backlog.sprint)
    assert "- Small (S): 1 item (T001)" in out
    assert "- Medium (M): 5 items (T002, T003, T005, T007, T008)" in out
    assert "T001 → T003 → T004 → T006 → T008 (840-1,200 minutes)" in out
    assert "T005 → T006" not in out
    assert "- Phase 4: T005 (Dataset Validation & Quality Pipeline) + T006" in out
    assert "**Estimated Total Time:** 1,260-1,800 minutes (21-30 hours)" in out
    assert "**Next Steps:**" in out  # free text after the Summary is kept


def test_steps_checks_and_every_modelled_field_round_trip(mk: Mk) -> None:
    task = mk("T010", "T009", est=(30, 45), status="blocked", priority=0)
    task.steps = [Step("dedup", {"inputs": ["data/a.jsonl"], "near_threshold": 0.9}), Step("audit")]
    task.criteria = [
        Criterion("Split written", check="file_exists data/train.jsonl"),
        Criterion("Loss is low", done=True, check="metric val_loss < 2.5"),
        Criterion("Reviewed by a person", done=True),
    ]
    task.caps, task.role, task.agent = ["mlx", "gpu"], "auditor", "aud-1"
    task.parent, task.blocked_reason, task.complexity = "T001", "needs data access", "L"
    task.description, task.links = "Line one\n- a bullet\n\nafter a gap", "OBJECTIVE.md → x"
    tasks = [mk("T009", est=None), task]
    text = render_backlog(tasks, SprintInfo(id="SPRINT-2026-001", goal="Ship it"))
    assert '- `dedup` `{"inputs": ["data/a.jsonl"], "near_threshold": 0.9}`' in text
    assert "- [x] Loss is low `check: metric val_loss < 2.5`" in text
    backlog = parse_backlog(text, Path("BACKLOG.md"))
    assert backlog.tasks == tasks
    assert (backlog.sprint.id, backlog.sprint.goal) == ("SPRINT-2026-001", "Ship it")


def test_older_variant(tmp_path: Path) -> None:
    backlog = parse_backlog(OLD_VARIANT, tmp_path / "old.md")
    w1, w2 = backlog.tasks
    assert (w1.id, w1.priority, w1.status, w1.agent) == ("W001", 0, "needs_plan", None)
    assert [c.text for c in w1.criteria] == [
        "Pipeline reads the raw dump",
        "Rows are deduplicated across all shards",
    ]
    assert w1.estimate is not None and (w1.estimate.low, w1.estimate.high) == (120, 180)
    assert w1.dependencies == []
    assert (w2.status, w2.agent, w2.dependencies, w2.priority) == (
        "in_progress",
        "builder-7",
        ["W001"],
        1,
    )
    assert w2.estimate is not None and w2.estimate.high == 90
    again = parse_backlog(render_backlog(backlog.tasks, backlog.sprint), tmp_path / "b.md")
    assert again.tasks == backlog.tasks
    assert "**Priority:** P0 (Critical Path)" in render_backlog(backlog.tasks, backlog.sprint)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("# S Backlog\n## Work Items\n### T1: a\n### T1: b\n", 4, "duplicate task id T1"),
        (
            "### T1: a\n**Acceptance Criteria:**\n- [ ] x `check: teleport now`\n",
            3,
            "unknown check kind 'teleport'",
        ),
        ("### T1: a\n**Steps:**\n- `dedup` `{not json}`\n", 3, "config is not JSON"),
        ("### T1: a\n<<<<<<< HEAD\n**Type:** A\n=======\n**Type:** B\n>>>>>>> x\n", 2, "2, 4, 6"),
    ],
)
def test_refused_with_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "BACKLOG.md"
    with pytest.raises(SprintFileError, match=reason) as info:
        parse_backlog(text, path)
    assert (info.value.path, info.value.line) == (path, line)
    assert str(info.value).startswith(f"{path}:{line}: ")
