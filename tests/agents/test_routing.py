"""Issue 27, item 1: the Negotiator routes only to hosts seen alive, and takes back what a
host that went silent did not claim; `--once` says what waits on whom."""

from __future__ import annotations

from pathlib import Path

import pytest

from sprintboard.agents.negotiator import Negotiator
from sprintboard.agents.runtime import run_thread
from sprintboard.board.client import EventDraft
from sprintboard.board.clock import FrozenClock
from sprintboard.board.hosts import SILENT_AFTER_S, alive_hosts
from sprintboard.board.local import LocalBoard
from sprintboard.board.waits import waits
from sprintboard.errors import NotPermitted
from sprintboard.workspace import init_workspace, open_board

STEP = {"tool": "audit", "config": {"inputs": ["data/a.jsonl"], "out_dir": "runs/x"}}


@pytest.fixture
def board(tmp_path: Path) -> LocalBoard:
    """The tour's workspace: alpha owns (builder-alpha, WIP 2), beta has mlx (builder-beta,
    WIP 2), builders may hold 3 at once; five audits that need no mlx."""
    root = init_workspace(tmp_path / "ws", hosts=[("alpha", []), ("beta", ["mlx"])], git=False)
    b = open_board(root, host="alpha", clock=FrozenClock())
    b.create_tasks(
        [
            {
                "id": f"T{n}",
                "title": f"audit {n}",
                "status": "ready",
                "priority": 2,
                "steps": [STEP],
            }
            for n in range(1, 6)
        ]
    )
    return b


def _negotiate(board: LocalBoard, saver: object = None) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    assert isinstance(board.clock, FrozenClock)
    graph = Negotiator(board, agent="negotiator-1", policy=board.policy, clock=board.clock).graph(
        saver or InMemorySaver()
    )
    seq = board.snapshot().seq
    run_thread(graph, f"negotiator:alpha:{seq}", {"seq": seq, "recovered": [], "assigned": []})


def _assigned(board: LocalBoard) -> dict[str, str | None]:
    return {t.id: t.host for t in board.snapshot().tasks.values() if t.agent}


def _beat(board: LocalBoard) -> None:
    board.apply([EventDraft("host.heartbeat", None, {"host": "beta"}, "builder-beta@beta")])


def test_a_host_never_seen_gets_nothing_and_the_wait_names_it(board: LocalBoard) -> None:
    _negotiate(board)
    assert set(_assigned(board).values()) == {"alpha"}  # before: T3 went to beta and stranded
    assert len(_assigned(board)) == 2
    alive = alive_hosts(board.snapshot(), "alpha", board.clock.now())
    assert alive == {"alpha"}


def test_a_beating_host_gets_work_and_loses_it_when_silent(board: LocalBoard) -> None:
    _beat(board)
    _negotiate(board)
    routed = _assigned(board)
    assert sorted(routed.values()) == ["alpha", "alpha", "beta"]
    on_beta = next(t for t, h in routed.items() if h == "beta")
    assert isinstance(board.clock, FrozenClock)
    board.clock.advance(SILENT_AFTER_S + 1)  # beta never claimed it and stopped beating
    _negotiate(board)
    task = board.snapshot().task(on_beta)
    assert task.agent is None and task.host is None
    assert any(
        f"Took {on_beta} back from builder-beta@beta" in d.text for d in board.snapshot().decisions
    )


def test_a_host_beats_only_for_itself(board: LocalBoard) -> None:
    with pytest.raises(NotPermitted):
        board.apply([EventDraft("host.heartbeat", None, {"host": "beta"}, "builder-alpha@alpha")])
    with pytest.raises(NotPermitted):
        board.apply([EventDraft("host.heartbeat", None, {"host": "beta"}, "stranger@beta")])
    _beat(board)
    snap = board.snapshot()
    assert snap.hosts_seen == {"beta": snap.updated}


def test_mlx_work_waits_for_the_silent_host_with_the_command_to_run(board: LocalBoard) -> None:
    board.create_tasks(
        [{"id": "T9", "title": "train", "status": "ready", "caps": ["mlx"], "steps": [STEP]}]
    )
    alive = alive_hosts(board.snapshot(), "alpha", board.clock.now())
    found = {w.task: w for w in waits(board.snapshot(), board.policy, alive, here="alpha")}
    assert found["T9"].line == (
        "T9 waits for host beta: run `sprintboard agents run --host beta` there"
    )
    assert found["T1"].on == "agent"  # builder-alpha takes it at its next tick
