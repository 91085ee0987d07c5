"""A builder on host beta, as its own process, talking to the owner only by A2A (not a test).

usage: host_worker.py WORKSPACE HOST KEYS TASK MODE TTL
  finish  claim TASK, heartbeat, write the artifact, submit; print "submitted FENCE"
  hang    claim TASK, print "claimed FENCE", then wait to be killed (kill -9 in the test)
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from sprintboard.a2a.node import open_remote_board
from sprintboard.board.models import Artifact


def main() -> None:
    ws, host, keys, task, mode, ttl = sys.argv[1:]
    board = open_remote_board(Path(ws), host, keys=Path(keys), timeout=60)
    tasks = [t.id for t in board.ready(role="builder", caps=["mlx"])]
    if task not in tasks:
        print(f"not ready: {task} (ready: {tasks})", flush=True)
        sys.exit(3)
    lease = board.claim(task, agent=f"builder-{host}", host=host, ttl=int(ttl))
    print(f"claimed {lease.fence}", flush=True)
    if mode == "hang":
        while True:
            time.sleep(1)  # working on something long; the test kills us
    board.heartbeat(task, lease.fence)
    out = Path(ws) / f"scratch-{host}" / f"{task}-adapter.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = f"adapter for {task}, trained on {host} with mlx\n".encode()
    out.write_bytes(data)
    art = Artifact(str(out), hashlib.sha256(data).hexdigest(), len(data))
    done = board.submit(task, lease.fence, [art], {"val_loss": 1.25})
    print(f"submitted {lease.fence} {done.status}", flush=True)


if __name__ == "__main__":
    main()
