"""The Auditor's verdicts, and the Builder's block when a step fails for good."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sprintboard.agents.hosting import board_for_host
from sprintboard.agents.runner import Runner, RunnerOptions
from sprintboard.agents.runtime import open_checkpointer
from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Criterion, Step, Task
from sprintboard.config import load_config

RunAs = Callable[..., Runner]


@pytest.fixture
def run_as(workspace: Path, configure: Callable[..., None]) -> Iterator[RunAs]:
    configure(workspace, allow=["true", "python -c *"])
    board = board_for_host(workspace, "alpha", clock=FrozenClock(), ids=CounterIds())
    runners: list[Runner] = []
    with open_checkpointer(workspace) as saver:

        def make(*roles: str) -> Runner:
            config = load_config(workspace)
            runners.append(
                Runner(workspace, "alpha", board, config, saver, RunnerOptions(roles=roles))
            )
            return runners[-1]

        yield make
        for r in runners:
            r.pool.shutdown(wait=True)


def _submitted(board: LocalBoard, criteria: list[Criterion], metrics: dict[str, float]) -> None:
    board.create_tasks(
        [Task(id="T001", title="t", status="ready", steps=[Step("audit", {})], criteria=criteria)]
    )
    lease = board.claim("T001", agent="builder-1", host="alpha", ttl=600)
    board.submit("T001", lease.fence, [], metrics)


def test_all_checks_pass_moves_to_done(run_as: RunAs, workspace: Path) -> None:
    runner = run_as("auditor")
    board = runner.board
    assert isinstance(board, LocalBoard)
    (workspace / "out.txt").write_text("x", encoding="utf-8")
    _submitted(
        board,
        [
            Criterion("file", check="file_exists out.txt"),
            Criterion("loss", check="metric loss <= 1.5"),
            Criterion("cmd", check="command python -c 'import sys; sys.exit(0)'"),
        ],
        {"loss": 1.5},
    )
    runner.tick()
    runner.tick()  # a second pass does nothing: the audit thread of attempt 1 is finished
    task = board.snapshot().tasks["T001"]
    assert task.status == "done" and all(c.done for c in task.criteria)
    moves = [e for e in board.events() if e.op == "task.move" and e.fields["to"] == "done"]
    assert len(moves) == 1 and moves[0].actor == "auditor-1@alpha"
    assert task.criteria[1].result == "loss = 1.5 (<= 1.5)"


def test_failed_checks_go_back_with_the_criteria_listed(run_as: RunAs) -> None:
    runner = run_as("auditor")
    board = runner.board
    assert isinstance(board, LocalBoard)
    _submitted(
        board,
        [
            Criterion("file", check="file_exists missing.txt"),
            Criterion("loss", check="metric loss < 1"),
            Criterion("cmd", check="command python -c 'import sys; sys.exit(3)'"),
        ],
        {"loss": 2.0},
    )
    runner.tick()
    task = board.snapshot().tasks["T001"]
    assert task.status == "ready" and task.agent == "builder-1"  # back to its Builder
    reason = [e for e in board.events() if e.op == "task.move"][-1].fields["reason"]
    assert "#1 file: missing.txt does not exist" in reason
    assert "#2 loss: loss = 2 (< 1)" in reason
    assert "#3 cmd:" in reason and "exited 3" in reason


def test_unchecked_or_unlisted_command_criteria_need_a_person(run_as: RunAs) -> None:
    runner = run_as("auditor")
    board = runner.board
    assert isinstance(board, LocalBoard)
    _submitted(
        board,
        [
            Criterion("reviewed by a person"),
            Criterion("danger", check="command rm -rf /tmp/nothing-here"),
        ],
        {},
    )
    runner.tick()
    task = board.snapshot().tasks["T001"]
    assert task.status == "needs_manual"
    reason = [e for e in board.events() if e.op == "task.move"][-1].fields["reason"]
    assert "#1 reviewed by a person: no machine check" in reason
    assert "not in [auditor] allow_commands" in reason
    assert not (task.criteria[0].done or task.criteria[1].done)


def test_the_third_failed_attempt_blocks_the_task(run_as: RunAs) -> None:
    runner = run_as("auditor")
    board = runner.board
    assert isinstance(board, LocalBoard)
    _submitted(board, [Criterion("loss", check="metric loss < 1")], {"loss": 2.0})
    for _ in range(2):
        runner.tick()
        lease = board.claim("T001", agent="builder-1", host="alpha", ttl=600)
        board.submit("T001", lease.fence, [], {"loss": 2.0})
    runner.tick()
    task = board.snapshot().tasks["T001"]
    assert task.status == "blocked" and task.attempt == 3
    assert task.blocked_reason is not None and task.blocked_reason.startswith(
        "failed after 3 attempts"
    )


def test_a_step_that_keeps_failing_blocks_the_task_with_its_reason(run_as: RunAs) -> None:
    runner = run_as("builder")
    board = runner.board
    assert isinstance(board, LocalBoard)
    board.create_tasks(
        [
            Task(
                id="T001",
                title="audit a missing file",
                status="ready",
                steps=[Step("audit", {"inputs": ["nope.jsonl"], "out_dir": "{run:T001}"})],
            )
        ]
    )
    runner.tick()
    for future in list(runner.futures.values()):
        assert future.result(timeout=60)["outcome"] == "failed"
    task = board.snapshot().tasks["T001"]
    assert task.status == "blocked" and task.lease is None
    assert task.blocked_reason is not None
    assert "T001 step 1 (audit): failed after 2 tries" in task.blocked_reason


def test_importing_the_cli_does_not_load_langgraph() -> None:
    code = "import sys, sprintboard, sprintboard.cli; print('langgraph' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert out.stdout.strip() == "False"


def test_a_task_without_criteria_needs_a_person(run_as: RunAs) -> None:
    runner = run_as("auditor")
    board = runner.board
    assert isinstance(board, LocalBoard)
    _submitted(board, [], {})
    runner.tick()
    assert board.snapshot().tasks["T001"].status == "needs_manual"


def test_an_allow_list_matches_whole_commands_as_written(tmp_path: Path) -> None:
    """Issue 16: `make check` allowed never runs `make check "--eval=$(shell ...)"`, and a
    filled-in placeholder cannot add arguments."""
    from sprintboard.agents.auditor import Auditor, AuditorSettings
    from sprintboard.board.scheduling import BoardPolicy

    board = LocalBoard(
        tmp_path, host="alpha", policy=BoardPolicy(owner="alpha"), clock=FrozenClock()
    )
    marker = tmp_path / "PWNED"
    hostile = f"--eval=$(shell touch {marker})"
    board.create_tasks(
        [
            Task(
                id="T001",
                title="t",
                status="ready",
                criteria=[
                    Criterion("make", check=f"command make check {shlex.quote(hostile)}"),
                    Criterion(
                        "python", check=f"command python -c {shlex.quote(_touch(marker))} -x"
                    ),
                    Criterion("ok", check="command python -c 'import sys; sys.exit(0)'"),
                    Criterion(
                        "run", check="command python -c 'import sys; sys.exit(0)' {run:T001}"
                    ),
                ],
            )
        ]
    )
    auditor = Auditor(
        board, tmp_path, settings=AuditorSettings(allow_commands=("make check", "python -c * ..."))
    )
    state = board.snapshot()
    verdicts = [auditor.run_check(state, state.tasks["T001"], i) for i in range(4)]
    assert [v["verdict"] for v in verdicts] == ["manual", "manual", "pass", "pass"]
    assert "not in [auditor] allow_commands" in verdicts[0]["detail"]
    assert not marker.exists()


def _touch(path: Path) -> str:
    return f"open({str(path)!r}, 'w')"
