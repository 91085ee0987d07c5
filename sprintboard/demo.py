"""`make demo`: the main job, end to end, in a fresh workspace under `demo/`.

Until the end-to-end flow lands this shows the board core: init a two-host workspace,
plan a small sprint, claim, submit with a fenced result, audit, and print the board.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from sprintboard.board.models import Artifact
from sprintboard.status import board_status
from sprintboard.workspace import init_workspace, open_board

__all__ = ["main"]


def main(root: Path = Path("demo")) -> None:
    ws = root / "workspace"
    if ws.exists():
        shutil.rmtree(ws)
    init_workspace(ws, owner="alpha", hosts=[("alpha", []), ("beta", ["mlx"])])
    board = open_board(ws)
    board.start_sprint("SPRINT-1", goal="fine-tune a small model on the mixed dataset")
    board.create_tasks(
        [
            {"id": "T001", "title": "Audit sources", "status": "ready", "priority": 1},
            {"id": "T002", "title": "Dedup", "status": "blocked", "dependencies": ["T001"]},
            {
                "id": "T003",
                "title": "Train LoRA",
                "status": "blocked",
                "dependencies": ["T002"],
                "caps": ["mlx"],
            },
        ],
        actor="planner-1@alpha",
    )
    lease = board.claim("T001", agent="builder-alpha", host="alpha", ttl=900)
    out = ws / "runs" / "T001" / "1" / "audit.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text('{"rows": 0}\n', encoding="utf-8")
    import hashlib

    art = Artifact(
        path=str(out.relative_to(ws)),
        sha256=hashlib.sha256(out.read_bytes()).hexdigest(),
        size=out.stat().st_size,
    )
    board.submit("T001", lease.fence, [art], {"rows": 0})
    board.move("T001", "done", "auditor-1@alpha")
    report = board_status(board)
    for row in report.tasks:
        owner = f" ({row.agent}@{row.host})" if row.agent else ""
        print(f"{row.id:6} {row.column:12} {row.status:14} {row.title}{owner}")
    print(f"\njournal: {report.journal.seq} events in {ws / 'sprints' / 'events.jsonl'}")
    print(f"snapshot: {ws / 'sprints' / 'SPRINT_QUEUE.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo"))
