"""SPRINT_QUEUE.json in the example's shape and its real variants, read and written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sprintboard.errors import SprintFileError
from sprintboard.sprints.queue_format import parse_queue, render_queue


def variant() -> dict[str, Any]:
    """A queue with the fields real systems wrote: assigned_to, TTL tables, subtasks..."""
    return {
        "sprint": 7,
        "sprint_id": "SPRINT-2026-007",
        "status": "in_progress",
        "wip_limits": {"builder": 2},
        "lease_ttls": {"builder": 1800, "tester": 600},
        "heartbeat_interval": 300,
        "lock_timeout": 30,
        "tasks": [
            {
                "id": "T1",
                "title": "Build",
                "status": "in_progress",
                "priority": 1,
                "assigned_to": "builder-1",
                "dependencies": [],
                "estimated_time": "2-3 hours",
                "lease": {
                    "agent": "builder-1",
                    "owner": "host-a",
                    "acquired": "2025-12-31T23:50:00Z",
                    "last_heartbeat": "2025-12-31T23:55:00Z",
                },
                "negotiation_decision": {"chosen": "builder-1", "why": "has mlx"},
                "adaptation_notes": "smaller batch",
                "subtasks": [
                    {
                        "id": "T1-a",
                        "title": "part a",
                        "status": "done",
                        "dependencies": [],
                        "parent": "T1",
                        "exit_gates": ["tests pass"],
                    },
                    {
                        "id": "T1-b",
                        "title": "part b",
                        "status": "blocked",
                        "dependencies": ["T1-a"],
                        "parent_task": "T1",
                    },
                ],
            },
            {
                "id": "T2",
                "title": "Old",
                "status": "cancelled",
                "cancellation_reason": "superseded",
                "dependencies": [],
            },
            {
                "id": "T3",
                "title": "Done but leased",
                "status": "completed",
                "dependencies": ["T1"],
                "lease": {"agent": "builder-2", "owner": "host-b", "ttl": 60},
            },
            {
                "id": "T4",
                "title": "Stuck",
                "status": "blocked",
                "blocked_reason": "needs a GPU quota",
                "blocker_owner": "ops",
                "dependencies": [],
            },
        ],
        "metadata": {
            "created": "2025-12-30T00:00:00Z",
            "total_tasks": 9,
            "done": 0,
            "blocked": 1,
            "in_progress": 1,
        },
    }


def test_example_queue_reads_tasks_subtasks_and_the_lease(examples: Path) -> None:
    path = examples / "SPRINT_QUEUE.example.json"
    doc = parse_queue(path.read_text(encoding="utf-8"), path)
    assert [t.id for t in doc.tasks] == ["T001", "T001-B01", "T002", "T003"]
    sub = doc.tasks[1]
    assert sub.parent == "T001" and sub.exit_gates[1] == "Memory profiled (<=16GB)"
    assert doc.sprint.id == "SPRINT-2025-004" and doc.sprint.wip_limits["builder"] == 3
    assert doc.warnings == []  # its counters agree with its tasks
    (lease,) = doc.leases
    assert (lease.task, lease.agent, lease.host, lease.ttl) == ("T001", "builder-2", "host-b", 5400)
    assert doc.lines["T002"] == 31


def test_variant_fields_map_and_unknown_fields_survive_export(tmp_path: Path) -> None:
    path = tmp_path / "SPRINT_QUEUE.json"
    doc = parse_queue(json.dumps(variant(), indent=2), path)
    by_id = {t.id: t for t in doc.tasks}
    t1 = by_id["T1"]
    assert t1.agent == "builder-1"
    assert t1.estimate is not None and (t1.estimate.low, t1.estimate.high) == (120, 180)
    assert t1.extra["negotiation_decision"] == {"chosen": "builder-1", "why": "has mlx"}
    assert (by_id["T1-a"].parent, by_id["T1-b"].parent) == ("T1", "T1")
    assert by_id["T2"].extra["cancellation_reason"] == "superseded"
    assert by_id["T3"].status == "done"
    assert by_id["T4"].blocked_reason == "needs a GPU quota"
    assert [lease.task for lease in doc.leases] == ["T1"]  # the finished task's lease is dropped
    assert doc.leases[0].ttl == 1800  # from the lease_ttls table of its role
    assert any("T3 is done but still held a lease" in w for w in doc.warnings)
    counters = [w for w in doc.warnings if w.startswith("metadata.")]
    assert counters == [
        "metadata.total_tasks says 9 but the tasks give 4; recomputed",
        "metadata.done says 0 but the tasks give 1; recomputed",
    ]
    out = json.loads(render_queue(doc.tasks, doc.sprint))
    for key in ("lease_ttls", "heartbeat_interval", "lock_timeout", "sprint"):
        assert out[key] == variant()[key]
    first = out["tasks"][0]
    assert first["assigned_to"] == "builder-1" and "agent" not in first
    assert first["adaptation_notes"] == "smaller batch"
    assert [s["id"] for s in first["subtasks"]] == ["T1-a", "T1-b"]
    assert out["tasks"][1]["cancellation_reason"] == "superseded"
    assert out["tasks"][3]["blocker_owner"] == "ops"
    assert out["metadata"]["total_tasks"] == 4 and out["metadata"]["done"] == 1
    again = parse_queue(render_queue(doc.tasks, doc.sprint), path)
    assert again.tasks == doc.tasks and again.sprint == doc.sprint


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('{\n  "tasks": [\n    {"id": "T1",}\n  ]\n}\n', 3, "not valid JSON"),
        ('{"tasks": [\n{"id": "T1"},\n{"id": "T1"}\n]}', 3, "duplicate task id T1"),
        ('{"tasks": [\n{"id": "T1", "status": "exploded"}]}', 2, "unknown status 'exploded'"),
        ("[1, 2]", 1, "not a sprint queue"),
        ('{"tasks": [\n<<<<<<< ours\n=======\n>>>>>>> theirs\n]}', 2, r"line\(s\) 2, 3, 4"),
    ],
)
def test_refused_with_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "SPRINT_QUEUE.json"
    with pytest.raises(SprintFileError, match=reason) as info:
        parse_queue(text, path)
    assert info.value.line == line


def test_every_task_gets_the_line_of_its_own_id_entry(tmp_path: Path) -> None:
    """Lines are found in one pass (per-task searches from the top made 40k tasks take
    minutes); an id named earlier as a dependency or a parent is not its entry."""
    tasks = [
        {"dependencies": [f"T{i + 1}"] if i % 2 else [], "id": f"T{i}", "title": "x"}
        for i in range(300)
    ]
    tasks[5]["subtasks"] = [{"id": "T5-a", "parent_task": "T5", "title": "sub"}]
    text = json.dumps({"tasks": tasks}, indent=1)
    doc = parse_queue(text, tmp_path / "q.json")
    lines = text.splitlines()
    for tid, line in doc.lines.items():
        assert f'"id": "{tid}"' in lines[line - 1], tid
    assert len(doc.lines) == 301
