"""Board fixtures: a workspace with a frozen clock and counter ids, so journals are byte-stable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy

OpenBoard = Callable[..., LocalBoard]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def open_local(tmp_path: Path, clock: FrozenClock) -> OpenBoard:
    """Open (or reopen) the board in tmp_path on host alpha."""

    def opener(policy: BoardPolicy | None = None, ids_start: int = 0) -> LocalBoard:
        return LocalBoard(
            tmp_path,
            host="alpha",
            policy=policy or BoardPolicy(owner="alpha", open_claims=True),
            clock=clock,
            ids=CounterIds(ids_start),
        )

    return opener


MakeTask = Callable[..., dict[str, object]]


@pytest.fixture
def task() -> MakeTask:
    """A task dict for `create_tasks`, ready unless told otherwise."""

    def make(task_id: str, **fields: object) -> dict[str, object]:
        return {"id": task_id, "title": f"task {task_id}", "status": "ready", **fields}

    return make


@pytest.fixture
def busy_board(open_local: OpenBoard, task: MakeTask) -> Callable[[], LocalBoard]:
    """The board in tmp_path with seven events: two tasks (T2 waits on T1), T1 claimed,
    heartbeat, submitted, and a decision."""

    def make() -> LocalBoard:
        board = open_local()
        board.create_tasks([task("T1"), task("T2", dependencies=["T1"], status="blocked")])
        lease = board.claim("T1", agent="b1", host="alpha", ttl=60)
        board.heartbeat("T1", lease.fence)
        board.submit("T1", lease.fence, [], {"val_loss": 1.25})
        board.add_decision("ship it")
        return board

    return make
