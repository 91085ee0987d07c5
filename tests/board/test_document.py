"""`sprintboard show TASK --json`: every field of the task document, from a real workspace
(an imported backlog, a claim, a failed check, a dependency's artifacts, notes, a question
and its answer, a decision), and the page `show` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from sprintboard.board.client import EventDraft
from sprintboard.board.document import TaskDocument, render_task_page, task_document
from sprintboard.board.state import BoardState
from sprintboard.files import FileRef
from sprintboard.sprints.importer import import_file
from sprintboard.workspace import init_workspace, open_board

BACKLOG = """# Sprint S1 Backlog

**Sprint Goal:** Ship the dataset

### T001: Collect rows

**Type:** Task
**Priority:** P1
**Status:** ready
**Dependencies:** none

### T002: Train the model

**Type:** Story
**Priority:** P2
**Status:** blocked
**Dependencies:** T001

**Description:**
Fine-tune on the collected rows.

**Acceptance Criteria:**
- [ ] rows.jsonl exists `check: file_exists rows.jsonl`
- [ ] loss below 2 `check: metric loss < 2`
"""


def _sb(*args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("sprintboard"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def _scene(tmp_path: Path) -> Path:
    ws = init_workspace(tmp_path / "ws", git=False)
    (ws / "backlog.md").write_text(BACKLOG, encoding="utf-8")
    board = open_board(ws)
    import_file(board, ws / "backlog.md")
    dep = board.claim("T001", "builder-alpha", "alpha", 600)
    board.submit("T001", dep.fence, [FileRef("runs/T001/1/rows.jsonl", "ab" * 32, 42)], {})
    board.move("T001", "done", "human:ana", force=True)
    lease = board.claim("T002", "builder-alpha", "alpha", 600)
    board.apply(
        [
            EventDraft("criterion.check", "T002", {"index": 0, "done": True, "result": "found"},
                       "auditor-1@alpha"),
            EventDraft("criterion.check", "T002",
                       {"index": 1, "done": False, "result": "loss is 2.7, not < 2"},
                       "auditor-1@alpha"),
            EventDraft("artifact.add", "T002",
                       {"path": "runs/T002/1/adapter.npz", "sha256": "cd" * 32, "size": 7},
                       "builder-alpha@alpha", lease.fence),
            EventDraft("metric.set", "T002", {"name": "loss", "value": 2.7},
                       "builder-alpha@alpha", lease.fence),
        ]
    )  # fmt: skip
    board.note("T002", "epoch 3 of 5", "builder-alpha", lease.fence)
    asked = board.ask("T002", "Use the 4-bit base?", "builder-alpha")
    board.answer("T002", "Yes", "human:ana", asked.id)
    board.ask("T002", "And the learning rate?", "builder-alpha")
    board.add_decision("train on alpha only", "human:ana", task="T002")
    board.add_decision("about the board, not T002", "human:ana")
    return ws


def test_show_json_has_every_field_of_the_document(tmp_path: Path) -> None:
    ws = _scene(tmp_path)
    out = _sb("show", "T002", "--json", "-w", str(ws))
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = orjson.loads(out.stdout)
    assert set(doc) == set(TaskDocument.model_fields)
    assert (doc["id"], doc["title"], doc["status"], doc["column"]) == (
        "T002", "Train the model", "in_progress", "In Progress",
    )  # fmt: skip
    assert (doc["priority"], doc["role"], doc["caps"], doc["type"]) == (2, "builder", [], "Story")
    assert doc["description"] == "Fine-tune on the collected rows."
    passed, failed = doc["criteria"]
    assert passed == {
        "index": 0, "text": "rows.jsonl exists", "done": True,
        "check": "file_exists rows.jsonl", "result": "found", "failed": False,
    }  # fmt: skip
    assert (failed["done"], failed["failed"], failed["result"]) == (
        False, True, "loss is 2.7, not < 2",
    )  # fmt: skip
    (dep,) = doc["dependencies"]
    assert (dep["id"], dep["title"], dep["status"]) == ("T001", "Collect rows", "done")
    assert dep["artifacts"] == [{"path": "runs/T001/1/rows.jsonl", "sha256": "ab" * 32, "size": 42}]
    lease = doc["lease"]
    assert (lease["agent"], lease["host"], lease["ttl"]) == ("builder-alpha", "alpha", 600)
    assert set(lease) == {"agent", "host", "fence", "acquired", "expires", "last_heartbeat", "ttl"}
    assert doc["attempt"] == 1 and doc["agent"] == "builder-alpha"
    assert doc["artifacts"] == [{"path": "runs/T002/1/adapter.npz", "sha256": "cd" * 32, "size": 7}]
    assert doc["metrics"] == {"loss": 2.7}
    assert [(n["text"], n["actor"]) for n in doc["notes"]] == [
        ("epoch 3 of 5", "builder-alpha@alpha")
    ]
    answered, still_open = doc["questions"]
    assert (answered["text"], answered["answer"], answered["answered_by"]) == (
        "Use the 4-bit base?", "Yes", "human:ana",
    )  # fmt: skip
    assert answered["answered_at"] and answered["actor"] == "builder-alpha@alpha"
    assert still_open["answer"] is None and doc["waiting_for_person"] is True
    assert [d["text"] for d in doc["decisions"]] == ["train on alpha only"]
    assert doc["blocked_reason"] is None
    assert doc["origin"] == "backlog.md:12"
    assert BACKLOG.splitlines()[11] == "### T002: Train the model"


def test_show_prints_a_readable_page(tmp_path: Path) -> None:
    ws = _scene(tmp_path)
    out = _sb("show", "T002", "-w", str(ws))
    assert out.returncode == 0, out.stderr
    page = out.stdout
    assert page.startswith("# T002: Train the model\n")
    for expected in (
        "**Lease:** builder-alpha@alpha, fence",
        "2. [ ] loss below 2 `check: metric loss < 2`",
        "   - last check FAILED: loss is 2.7, not < 2",
        "- T001 Collect rows (done)",
        "  - `runs/T001/1/rows.jsonl` (42 bytes, sha256 abababababab)",
        "- loss = 2.7",
        "  **Answer** from human:ana",
        "_open: waiting for a person",
        "- epoch 3 of 5 _(builder-alpha@alpha,",
        "- train on alpha only _(human:ana,",
        "**From:** backlog.md:12",
    ):
        assert expected in page, expected
    missing = _sb("show", "T404", "-w", str(ws))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "T404" in missing.stderr


def test_a_blocked_task_shows_its_reason_and_unknown_dependencies_are_named() -> None:
    from sprintboard.board.models import Task

    state = BoardState()
    state.tasks["T9"] = Task("T9", "x", status="blocked", blocked_reason="HTTP 402",
                             dependencies=["T8"])  # fmt: skip
    doc = task_document(state, "T9")
    assert doc.blocked_reason == "HTTP 402" and doc.column == "Blocked"
    assert [(d.id, d.status) for d in doc.dependencies] == [("T8", "unknown")]
    assert "**Blocked:** HTTP 402" in render_task_page(doc)
