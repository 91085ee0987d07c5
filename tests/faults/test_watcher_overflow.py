"""Fault 4: thousands of messages land in the owner's inbox at once.

inotify drops events when its queue overflows, so the daemon cannot rely on being woken.
The first test makes the observer deaf (it never wakes the loop: the worst an overflow can
do) and shows the timed rescan alone handles every message exactly once; the second drops
the same burst on a real `sprintboard a2a serve` process.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from sprintboard.a2a import messages
from sprintboard.a2a.daemon import Daemon
from sprintboard.a2a.envelope import Envelope
from sprintboard.a2a.maildir import Maildir
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.postbox import Postbox
from sprintboard.board.local import LocalBoard
from sprintboard.workspace import open_board

PROGRESS = 3000
NOTES = 200


def _progress(i: int, message_id: str) -> dict[str, Any]:
    return messages.progress(message_id, "T1", "S1", f"step {i}")


def _note(fence: int, i: int, message_id: str) -> dict[str, Any]:
    # A remote host writes only about a task it holds, with the lease's fence.
    event = {"op": "note.add", "task": "T1", "fields": {"text": f"n{i}"}, "fence": fence}
    return messages.request(message_id, "apply", {"events": [event]})


def _beta_holds_t1(board: LocalBoard) -> int:
    board.start_sprint("S1")
    board.create_tasks([{"id": "T1", "title": "train", "status": "ready", "caps": ["mlx"]}])
    return board.claim("T1", "builder-beta", "beta", 3600).fence


def _burst(beta: Postbox, fence: int) -> tuple[list[Envelope], list[Envelope]]:
    """PROGRESS ledger-only messages and NOTES board writes, sealed and then sent at once."""
    progress = [
        beta.seal("alpha", "progress", partial(_progress, i), task="T1") for i in range(PROGRESS)
    ]
    notes = [beta.seal("alpha", "request", partial(_note, fence, i)) for i in range(NOTES)]
    burst = progress + notes
    # Back to back in batches of 500: `Maildir.deliver_many` holds one open file per
    # message until its group fsync, so one batch of 3,200 can exceed `ulimit -n`.
    for at in range(0, len(burst), 500):
        beta.post(burst[at : at + 500])
    return progress, notes


def _check_all_handled_once(a2a: Path, ws: Path) -> None:
    inbox = a2a / "alpha" / "inbox"
    assert not os.listdir(inbox / "new") and not os.listdir(inbox / "cur")
    assert len(os.listdir(a2a / "alpha" / "archive")) == PROGRESS + NOTES
    ledger = (a2a / "ledger" / "alpha.jsonl").read_text(encoding="utf-8")
    steps = [f"T1: step {i}" for i in range(PROGRESS)]
    assert sum(ledger.count(f'"{s}"') for s in steps) == PROGRESS  # each one, once
    notes = [n.text for n in open_board(ws, host="alpha").snapshot().notes]
    assert sorted(notes) == sorted(f"n{i}" for i in range(NOTES))  # none lost, none twice


class _DeafObserver:
    """An observer whose event queue overflowed: alive, but it never wakes the loop."""

    def is_alive(self) -> bool:
        return True

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass


class _DeafDaemon(Daemon):
    def _start_observer(self) -> None:
        self._observer = _DeafObserver()


@pytest.mark.slow
def test_rescan_alone_finds_every_message_of_a_burst(hosts: Any) -> None:
    owner = open_owner(hosts.alpha_ws)
    fence = _beta_holds_t1(owner.board)
    beta = open_postbox(hosts.beta_ws, "beta", keys=hosts.beta_keys)
    daemon = _DeafDaemon(owner.postbox, hosts.a2a / "alpha", owner=owner, rescan=0.3)
    thread = threading.Thread(target=daemon.run, kwargs={"until": 120}, daemon=True)
    thread.start()
    try:
        hosts.wait_for(lambda: daemon.stats.rescans >= 1, 10, "the first pass")
        _, notes = _burst(beta, fence)
        archive = hosts.a2a / "alpha" / "archive"
        hosts.wait_for(lambda: len(os.listdir(archive)) == PROGRESS + NOTES, 90, "every message")
        assert daemon.stats.wakeups == 0  # nothing woke it: the rescan found them all
        _check_all_handled_once(hosts.a2a, hosts.alpha_ws)

        # at-least-once delivery: the same notes arrive again; refused as replays, not redone
        beta.post(notes)
        quarantine = hosts.a2a / "alpha" / "quarantine"
        hosts.wait_for(
            lambda: len([n for n in os.listdir(quarantine) if n.endswith(".reason.json")]) == NOTES,
            30,
            "the replays quarantined",
        )
        reasons = Maildir(hosts.a2a / "alpha").quarantined()
        assert all("replayed id" in reason for _, reason in reasons)
        assert len(open_board(hosts.alpha_ws, host="alpha").snapshot().notes) == NOTES
    finally:
        daemon.stop.set()
        daemon.wake.set()
        thread.join(timeout=30)


@pytest.mark.slow
def test_a_burst_into_a_real_daemon_process_is_handled_in_full(hosts: Any) -> None:
    fence = _beta_holds_t1(open_board(hosts.alpha_ws, host="alpha"))
    serve = hosts.spawn(
        "-c",
        "import sys; from sprintboard.cli import main; main(sys.argv[1:])",
        "a2a", "serve", "--host", "alpha", "-w", hosts.alpha_ws, "--rescan", "0.5", "--for", "120",
        log=hosts.tmp / "serve.log",
    )  # fmt: skip
    ledger = hosts.a2a / "ledger" / "alpha.jsonl"
    wait = hosts.wait_for
    beta = open_postbox(hosts.beta_ws, "beta", keys=hosts.beta_keys)
    wait(lambda: serve.poll() is None and (hosts.a2a / "alpha" / "archive").is_dir(), 10, "serve")
    _burst(beta, fence)
    archive = hosts.a2a / "alpha" / "archive"
    wait(lambda: len(os.listdir(archive)) == PROGRESS + NOTES, 120, "every message")
    assert serve.poll() is None, (hosts.tmp / "serve.log").read_text(encoding="utf-8")
    serve.kill()
    serve.wait(timeout=10)
    assert ledger.exists()
    _check_all_handled_once(hosts.a2a, hosts.alpha_ws)
