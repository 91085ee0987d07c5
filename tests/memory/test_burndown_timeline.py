"""A sprint shorter than two days burns down per change, not per day."""

from __future__ import annotations

from pathlib import Path

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.memory.burndown import compute_burndown


def test_short_sprint_timeline_steps_down_with_each_finished_task(tmp_path: Path) -> None:
    clock = FrozenClock()
    board = LocalBoard(
        tmp_path,
        host="alpha",
        policy=BoardPolicy(owner="alpha", open_claims=True),
        clock=clock,
        ids=CounterIds(),
    )
    board.start_sprint("S1", "short")
    board.create_tasks([{"id": f"T{i}", "title": f"t{i}", "status": "ready"} for i in range(3)])
    for i in range(3):
        clock.advance(60)
        board.move(f"T{i}", "done", "human:ana", force=True)
    burndown = compute_burndown(board.events(), clock.now())
    assert len(burndown.days) == 1
    assert [p.remaining_tasks for p in burndown.timeline] == [3, 2, 1, 0]
    assert [p.ts[11:16] for p in burndown.timeline] == ["00:01", "00:01", "00:02", "00:03"]
