"""Sprint fixtures: the seed examples, a board on a frozen clock, and a task builder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Estimate, Task
from sprintboard.board.scheduling import BoardPolicy

# The seed documents live beside the repo (`../shared/examples`, DESIGN.md).
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def open_local(tmp_path: Path, clock: FrozenClock) -> Callable[..., LocalBoard]:
    """Open (or reopen) a board in tmp_path/ws on host alpha."""

    def opener(policy: BoardPolicy | None = None) -> LocalBoard:
        return LocalBoard(
            tmp_path / "ws",
            host="alpha",
            policy=policy or BoardPolicy(owner="alpha", open_claims=True),
            clock=clock,
            ids=CounterIds(),
        )

    return opener


@pytest.fixture
def mk() -> Callable[..., Task]:
    """A Task: `mk("T2", "T1", est=(10, 20), status="blocked")`."""

    def make(
        task_id: str, *deps: str, est: tuple[int, int] | None = (60, 60), **fields: object
    ) -> Task:
        task = Task(id=task_id, title=f"task {task_id}", dependencies=list(deps), status="ready")
        task.estimate = Estimate(*est) if est else None
        for name, value in fields.items():
            setattr(task, name, value)
        return task

    return make
