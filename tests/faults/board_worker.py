"""A separate process that writes to a board; used by the fault tests (not a test module).

usage: board_worker.py ROOT MODE ARG...
  notes N NAME     add N notes, printing each committed seq
  claim TASK NAME  wait for ROOT/go, then try to claim TASK; print "won" or "lost"
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sprintboard.board.client import EventDraft
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.errors import LeaseConflict


def main() -> None:
    root, mode, *args = sys.argv[1:]
    board = LocalBoard(
        Path(root), host="alpha", policy=BoardPolicy(owner="alpha", open_claims=True)
    )
    if mode == "notes":
        count, name = int(args[0]), args[1]
        for i in range(count):
            (event,) = board.apply(
                [EventDraft("note.add", None, {"text": f"{name} {i}"}, f"human:{name}")]
            )
            print(event.seq, flush=True)
    elif mode == "claim":
        task, name = args
        go = Path(root) / "go"
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        try:
            board.claim(task, agent=name, host="alpha", ttl=600)
            print("won", flush=True)
        except LeaseConflict:
            print("lost", flush=True)


if __name__ == "__main__":
    main()
