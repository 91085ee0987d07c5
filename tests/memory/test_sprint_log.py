"""sprints/SPRINT_LOG.md: the lines worth a person's eye, heartbeats condensed, rotated by sprint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sprintboard.memory.sprint_log import update_sprint_log


def test_the_story_gives_the_golden_log(story: Any, golden: Callable[[str, str], None]) -> None:
    result = update_sprint_log(story.root, story.board.events())

    assert result.appended == 12 and result.rotated == []
    golden("SPRINT_LOG.md", (story.root / "sprints" / "SPRINT_LOG.md").read_text("utf-8"))


def test_heartbeats_are_condensed_into_the_line_that_ends_the_lease(story: Any) -> None:
    update_sprint_log(story.root, story.board.events())
    text = (story.root / "sprints" / "SPRINT_LOG.md").read_text("utf-8")

    assert "heartbeat" not in text.replace("2 heartbeats", "")
    assert "T001 in_progress → awaiting_test by builder-1@alpha: submitted" in text
    assert "(builder-1@alpha held it 20m, 2 heartbeats)" in text
    assert text.count("\n- ") == 12  # 4 heartbeat events and the artifact/metric gave no lines


def test_updating_twice_adds_nothing_and_keeps_lines_people_added(story: Any) -> None:
    path = story.root / "sprints" / "SPRINT_LOG.md"
    update_sprint_log(story.root, story.board.events())
    with path.open("a", encoding="utf-8") as fh:
        fh.write("- Ana: T007 owner is on holiday, expect nothing this week\n")
    before = path.read_bytes()

    assert update_sprint_log(story.root, story.board.events()).appended == 0
    assert path.read_bytes() == before

    # At 10:00 T002's lease has run out: this write expires it first, then adds the decision.
    story.board.add_decision("Ship docs after the eval", "human:ana")
    assert update_sprint_log(story.root, story.board.events()).appended == 2
    after = path.read_text("utf-8")
    assert after.startswith(before.decode())
    assert after.rstrip().splitlines()[-3:-1] == [
        "- 2026-11-23 10:00 T002 lease expired (builder-1@alpha held it 1h 30m, 2 heartbeats);"
        " back to ready",
        "- 2026-11-23 10:00 Decision by human:ana: Ship docs after the eval",
    ]


def test_a_new_sprint_rotates_the_log(story: Any, advance_to: Any) -> None:
    update_sprint_log(story.root, story.board.events())
    story.board.close_sprint("human:ana")
    advance_to(story.clock, "2026-11-24T09:00:00")
    story.board.start_sprint("S2", goal="evaluate", actor="human:ana")

    result = update_sprint_log(story.root, story.board.events())

    old = story.root / "sprints" / "S1" / "SPRINT_LOG.md"
    assert result.rotated == [old]
    old_text = old.read_text("utf-8")
    assert "**Sprint S1 closed** by human:ana: 1 done; not finished: T002" in old_text
    assert "S2" not in old_text
    new_text = (story.root / "sprints" / "SPRINT_LOG.md").read_text("utf-8")
    assert new_text.startswith("# Sprint log — S2\n")
    assert "**Sprint S2 started** by human:ana — goal: evaluate" in new_text
    # Both files together still cover the journal once: nothing is logged again.
    assert update_sprint_log(story.root, story.board.events()).appended == 0


def test_a_big_create_batch_is_one_line_with_the_ids_cut_short(story: Any) -> None:
    story.board.create_tasks(
        [{"id": f"X{i:02d}", "title": f"extra {i}", "status": "ready"} for i in range(12)],
        actor="planner-1@alpha",
    )
    story.board.create_tasks([{"id": "Y1", "title": "one more", "status": "ready"}])

    update_sprint_log(story.root, story.board.events())

    lines = (story.root / "sprints" / "SPRINT_LOG.md").read_text("utf-8").splitlines()
    assert lines[-3].endswith(
        "planner-1@alpha created 12 tasks: X00, X01, X02, X03, X04, X05, X06, X07, X08, X09"
        " and 2 more"
    )
    assert lines[-2].endswith("human:cli created 1 task: Y1")
