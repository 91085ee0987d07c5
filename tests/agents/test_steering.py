"""A person's change mid-run (priority, block with a reason, reassign) steers the next decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sprintboard.agents.hosting import board_for_host
from sprintboard.agents.runner import ROLES, Runner, RunnerOptions
from sprintboard.agents.runtime import open_checkpointer
from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Criterion, Step, Task
from sprintboard.config import load_config


def _audit_task(task_id: str, source: str) -> Task:
    return Task(
        id=task_id,
        title=f"Audit {source}",
        status="ready",
        steps=[Step("audit", {"inputs": [source], "out_dir": f"{{run:{task_id}}}", "fix": True, "plot": False})],
        criteria=[Criterion("clean rows", check=f"file_exists {{run:{task_id}}}/src0.clean.jsonl")],
    )  # fmt: skip


@pytest.fixture
def make_runner(
    workspace: Path,
    sources: Callable[..., list[str]],
    configure: Callable[..., None],
    clock: FrozenClock,
) -> Iterator[Callable[..., Runner]]:
    """Five ready audit tasks; two Builders of WIP 1 (role WIP 2); runners on one board."""
    configure(workspace, builders=2, role_wip=2)
    src = sources(workspace, count=1)[0]
    board = board_for_host(workspace, "alpha", clock=clock, ids=CounterIds())
    assert isinstance(board, LocalBoard)
    board.create_tasks([_audit_task(f"T00{n}", src) for n in range(1, 6)])
    runners: list[Runner] = []
    with open_checkpointer(workspace) as saver:

        def make(roles: tuple[str, ...] = ROLES) -> Runner:
            options = RunnerOptions(roles=roles)
            runners.append(
                Runner(workspace, "alpha", board, load_config(workspace), saver, options)
            )
            return runners[-1]

        yield make
        for run in runners:
            run.pool.shutdown(wait=True)


@pytest.fixture
def runner(make_runner: Callable[..., Runner]) -> Runner:
    return make_runner()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def _settle(runner: Runner) -> None:
    for future in list(runner.futures.values()):
        future.result(timeout=60)


def _assignments(runner: Runner) -> list[str]:
    return [d.text for d in runner.board.snapshot().decisions if d.text.startswith("Assigned")]


def test_person_changes_steer_the_next_assignments(runner: Runner) -> None:
    board = runner.board
    assert isinstance(board, LocalBoard)
    runner.tick()
    assert [t.split(" (")[0] for t in _assignments(runner)] == [
        "Assigned T001 to builder-1@alpha",
        "Assigned T002 to builder-2@alpha",
    ]
    _settle(runner)

    # A person steps in while T001 and T002 are being built.
    board.update_task("T005", {"priority": 1}, actor="human:alice")
    board.move("T003", "blocked", actor="human:alice", reason="waiting on legal review")
    board.update_task("T004", {"agent": "builder-2"}, actor="human:alice")
    runner.tick()
    _settle(runner)

    state = board.snapshot()
    later = _assignments(runner)[2:]
    # Without the edits builder-1 would take T003 next; now T005 (raised to P1) goes first.
    assert [t.split(" (")[0] for t in later] == ["Assigned T005 to builder-1@alpha"]
    assert state.tasks["T004"].lease is None and state.tasks["T004"].agent == "builder-2"
    assert state.tasks["T004"].attempt == 1  # builder-2 took the task the person gave it
    assert state.tasks["T003"].status == "blocked"
    assert state.tasks["T003"].blocked_reason == "waiting on legal review"
    assert state.tasks["T003"].attempt == 0 and state.tasks["T003"].agent is None
    assert not any("T003" in d.text for d in state.decisions)

    runner.tick()
    _settle(runner)
    runner.tick()
    done = {t.id for t in board.snapshot().tasks.values() if t.status == "done"}
    assert done == {"T001", "T002", "T004", "T005"}


def test_expired_lease_is_recovered_with_a_decision(
    make_runner: Callable[..., Runner], clock: FrozenClock
) -> None:
    runner = make_runner(("negotiator",))
    board = runner.board
    assert isinstance(board, LocalBoard)
    board.claim("T001", agent="builder-2", host="alpha", ttl=60)  # an agent that then died
    clock.advance(61)
    runner.tick()
    state = board.snapshot()
    assert state.tasks["T001"].lease is None
    recovered = [d for d in state.decisions if d.text.startswith("Recovered T001")]
    assert len(recovered) == 1 and "expired" in recovered[0].text
    ops = [e.op for e in board.events() if e.task == "T001"]
    assert ops[:4] == ["task.create", "lease.grant", "lease.expire", "decision.add"]
    # Back in the pool: the Negotiator hands it to a live Builder.
    assert state.tasks["T001"].status == "ready" and state.tasks["T001"].agent == "builder-1"


def test_a_task_without_steps_waits_for_a_person(make_runner: Callable[..., Runner]) -> None:
    runner = make_runner()
    board = runner.board
    assert isinstance(board, LocalBoard)
    board.create_tasks([Task(id="T100", title="Write the design doc", status="ready", priority=0)])
    for _ in range(3):
        runner.tick()
        _settle(runner)
    task = board.snapshot().tasks["T100"]
    assert task.status == "ready" and task.attempt == 0 and task.agent is None
    notes = [d.text for d in board.snapshot().decisions if d.task == "T100"]
    assert notes == [
        'T100 has no tool steps and no builder in sprintboard.toml has worker = "command" or '
        '"llm": no agent will do it; it waits for a person'
    ]
