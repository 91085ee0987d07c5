"""A separate process on a board kept in PostgreSQL; used by the fault tests (not a test module).

usage: pg_worker.py FOLDER HOST MODE ARG...
  claim TASK AGENT  wait for FOLDER/../go, then try to claim TASK; print "won FENCE" or "lost"
  notes N NAME      add N notes, printing each committed seq
  hold              lock the head row, insert an event row uncommitted, print "holding", sleep
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sprintboard.board.client import EventDraft
from sprintboard.board.pg.board import PgBoard
from sprintboard.errors import LeaseConflict
from sprintboard.workspace import open_board


def main() -> None:
    folder, host, mode, *args = sys.argv[1:]
    board = open_board(Path(folder), host=host)
    assert isinstance(board, PgBoard)
    if mode == "claim":
        task, agent = args
        go = Path(folder).parent / "go"
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        try:
            lease = board.claim(task, agent=agent, host=host, ttl=600)
            print(f"won {lease.fence}", flush=True)
        except LeaseConflict:
            print("lost", flush=True)
    elif mode == "notes":
        count, name = int(args[0]), args[1]
        for i in range(count):
            (event,) = board.apply(
                [EventDraft("note.add", None, {"text": f"{name} {i}"}, f"human:{name}")]
            )
            print(event.seq, flush=True)
    elif mode == "hold":
        with board.store.locked() as tx:
            head = tx.head
            line = b'{"half":"written"}'
            with tx.conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO sb_events (seq, id, line, hash, prev) VALUES (%s, %s, %s, %s, %s)",
                    [head.seq + 1, f"{host}:half", line.decode(), "0" * 16, head.hash],
                )
            print("holding", flush=True)
            time.sleep(600)
    board.close()


if __name__ == "__main__":
    main()
