"""kill -9 of the runner mid-task, then a restart: nothing lost, nothing done twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sprintboard.board.models import Criterion, Step, Task
from sprintboard.workspace import open_board

WORKER = Path(__file__).with_name("runner_worker.py")


def _slow(task: str, name: str, root: Path, gate: bool = False) -> Step:
    config: dict[str, object] = {
        "name": name, "log": str(root / "steps.log"), "out": f"{{run:{task}}}",
    }  # fmt: skip
    if gate:
        config["gate"] = str(root / "gate")
    return Step("slowstep", config)


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8"):
            return
        if proc.poll() is not None:
            pytest.fail(f"runner exited early with {proc.returncode}: {proc.stderr}")
        time.sleep(0.05)  # polling a real other process
    pytest.fail(f"{text!r} never appeared in {path}")


@pytest.mark.slow
def test_kill_nine_mid_task_then_restart(workspace: Path) -> None:
    board = open_board(workspace)
    board.create_tasks(
        [
            Task(
                id="T001",
                title="two steps, the second one slow",
                status="ready",
                steps=[_slow("T001", "a", workspace), _slow("T001", "b", workspace, gate=True)],
                criteria=[
                    Criterion("b written", check="file_exists {run:T001}/b.txt"),
                    Criterion("a ran", check="metric a_ok == 1"),
                ],
            ),  # fmt: skip
            Task(
                id="T002",
                title="after T001",
                status="blocked",
                dependencies=["T001"],
                steps=[_slow("T002", "c", workspace)],
                criteria=[Criterion("c written", check="file_exists {run:T002}/c.txt")],
            ),
        ]
    )
    log = workspace / "steps.log"
    cmd = [sys.executable, str(WORKER), str(workspace)]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(log, "start b", first)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    killed = board.snapshot().tasks["T001"]
    assert killed.status == "in_progress" and killed.lease is not None

    (workspace / "gate").touch()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert second.returncode == 0, second.stderr

    state = board.snapshot()
    assert {t.id: t.status for t in state.tasks.values()} == {"T001": "done", "T002": "done"}
    lines = log.read_text(encoding="utf-8").splitlines()
    # Step a finished before the kill and is not run again; b was interrupted and re-run
    # once; each step ended exactly once.
    assert lines.count("start a") == 1 and lines.count("end a") == 1
    assert lines.count("start b") == 2 and lines.count("end b") == 1
    assert lines.count("start c") == 1 and lines.count("end c") == 1
    events = board.events()
    grants = [(e.task, e.fields["agent"]) for e in events if e.op == "lease.grant"]
    assert sorted(grants) == [("T001", killed.lease.agent), ("T002", "builder-1")]
    assert not [e for e in events if e.op in ("lease.expire", "lease.release")]
    for to in ("awaiting_test", "done"):
        assert sorted(e.task for e in events if e.op == "task.move" and e.fields["to"] == to) == [
            "T001",
            "T002",
        ]
    texts = [d.text for d in state.decisions]
    assert len(texts) == len(set(texts))
    assert state.tasks["T001"].metrics["a_ok"] == 1.0 and state.tasks["T001"].attempt == 1
    assert {a.path for a in state.tasks["T001"].artifacts} >= {
        "runs/T001/1/a.txt",
        "runs/T001/1/b.txt",
    }
