"""Two hosts, separate workspaces and processes, one shared (synced) A2A directory: a sprint where only beta
has `mlx`; beta killed with -9 mid-task; the late result from the killed run is fenced off."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.a2a import messages
from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.ledger import Ledger
from sprintboard.a2a.node import open_postbox
from sprintboard.workspace import open_board

pytestmark = pytest.mark.slow


def _ledger(a2a: Path, host: str) -> list[tuple[str, str]]:
    return [(line.action, line.ref) for line in Ledger(a2a, host).lines()]


def test_sprint_across_hosts_with_kill_9_and_fencing(cluster: Any) -> None:
    ws, a2a, wait_for = cluster.alpha_ws, cluster.alpha_a2a, cluster.wait_for
    board = open_board(ws, host="alpha")
    board.start_sprint("S1", "train an adapter")
    board.create_tasks(
        [
            {"id": "T1", "title": "prepare data", "status": "ready"},
            {"id": "T2", "title": "train adapter", "status": "ready", "caps": ["mlx"]},
            {"id": "T3", "title": "train bigger adapter", "status": "ready", "caps": ["mlx"]},
        ]
    )
    cluster.serve_owner()

    # alpha cannot take the mlx tasks, only its own
    assert [t.id for t in board.ready(caps=[])] == ["T1"]
    lease = board.claim("T1", "builder-alpha", "alpha", 60)
    board.submit("T1", lease.fence, [], {"rows": 10})

    # beta does T2 through messages only
    run = cluster.worker("T2", "finish")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "submitted" in out and "awaiting_test" in out
    t2 = board.snapshot().tasks["T2"]
    assert t2.status == "awaiting_test" and t2.metrics == {"val_loss": 1.25}
    (art,) = t2.artifacts
    assert art.path == "runs/T2/1/T2-adapter.txt"
    assert (ws / art.path).read_text(encoding="utf-8").startswith("adapter for T2")

    # beta claims T3 with a 1 s lease, then dies (kill -9) mid-task
    hung = cluster.worker("T3", "hang", ttl=1)
    line = hung.stdout.readline() if hung.stdout else ""
    assert line.startswith("claimed"), (line, hung.stderr.read() if hung.stderr else "")
    killed_fence = int(line.split()[1])
    os.kill(hung.pid, signal.SIGKILL)
    hung.wait(timeout=10)

    # the owner's daemon expires the lease and puts T3 back to ready
    wait_for(lambda: board.snapshot().tasks["T3"].status == "ready", 60, "T3 re-queued")
    assert any(e.op == "lease.expire" and e.task == "T3" for e in board.events())

    # another run finishes it, with a newer fence
    rerun = cluster.worker("T3", "finish")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    new_fence = int(out.split("submitted ")[1].split()[0])
    assert new_fence > killed_fence
    before = board.snapshot().tasks["T3"]

    # the killed run's result arrives late (e.g. a synced folder catching up): refused
    late_file = ws / "late.txt"
    late_file.write_bytes(b"stale adapter from the killed run\n")
    stale = BlobStore(a2a / "blobs").put(late_file, name="T3-adapter.txt")
    box = open_postbox(cluster.beta_ws, "beta", keys=cluster.beta_keys)
    box.send(
        "alpha",
        "result",
        lambda m: messages.result(m, "T3", "S1", [stale], {"val_loss": 9.9}),
        task="T3",
        fence=killed_fence,
    )
    wait_for(lambda: ("refuse", "T3") in _ledger(a2a, "alpha"), 60, "late result refused")
    after = board.snapshot().tasks["T3"]
    assert after.metrics == before.metrics == {"val_loss": 1.25}
    assert after.artifacts == before.artifacts
    assert not (ws / "runs" / "T3" / "1").exists()  # the stale attempt was never promoted
    assert (ws / "runs" / "T3" / "2" / "T3-adapter.txt").exists()

    # the auditor closes the sprint: every task done
    for task in ("T1", "T2", "T3"):
        board.move(task, "done", actor="auditor-1@alpha")
    board.close_sprint()
    state = board.snapshot()
    assert {t.status for t in state.tasks.values()} == {"done"}
    assert state.sprint.status == "closed"
    ledger = [orjson.loads(x) for x in (a2a / "ledger/alpha.jsonl").read_bytes().splitlines()]
    assert set(ledger[0]) == {"ts", "agent", "action", "target", "context", "ref"}
    assert {"delegate", "accept", "heartbeat", "complete", "refuse"} <= {
        x["action"] for x in ledger
    }
    # archived after the ledger line is written: wait for the batch to finish
    wait_for(lambda: not os.listdir(a2a / "alpha/inbox/cur"), 60, "inbox drained")
    assert not os.listdir(a2a / "alpha/inbox/new")
