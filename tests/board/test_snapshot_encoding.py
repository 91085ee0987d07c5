"""The snapshot writes the task dataclasses straight through msgspec (board/snapshot.py):
the same document, keys in the same order, as `task_to_dict` through orjson gave."""

from __future__ import annotations

import msgspec
import orjson

from sprintboard.board.codec import task_to_dict
from sprintboard.board.journal import Head
from sprintboard.board.models import Criterion, Estimate, Lease, Step, Task
from sprintboard.board.snapshot import parse_snapshot, render_snapshot
from sprintboard.board.state import BoardState
from sprintboard.files import FileRef


def _full() -> Task:
    """A task with every field set, nested ones included."""
    return Task(
        id="T1",
        title="train é 😀",
        status="in_progress",
        priority=0,
        type="Spike",
        complexity="high",
        dependencies=["T0"],
        description="two\nlines\twith a tab",
        criteria=[Criterion("loss < 2", True, "metric loss < 2", "1.9"), Criterion("looks ok")],
        estimate=Estimate(30, 90),
        role="builder",
        caps=["mlx", "gpu"],
        steps=[Step("train", {"lr": 0.0001, "epochs": 3, "layers": [1, 2], "x": {"y": None}})],
        agent="builder-beta",
        host="beta",
        lease=Lease(
            "builder-beta",
            "beta",
            7,
            "2026-12-07T10:00:00Z",
            600,
            "2026-12-07T10:10:00Z",
            "2026-12-07T10:05:00Z",
        ),  # fmt: skip
        artifacts=[FileRef("runs/T1/1/model.bin", "ab" * 32, 2**40)],
        metrics={"loss": 1.9, "tiny": 1e-7, "count": 3.0, "neg": -0.5},
        blocked_reason=None,
        parent="T0",
        exit_gates=["review"],
        commits=["abc123"],
        links="https://example.org/x",
        attempt=2,
        optional=True,
        created="2026-12-07T09:00:00Z",
        updated="2026-12-07T10:05:00Z",
        done_at=None,
        origin="sprints/q.json:12",
        extra={"owner_note": "ü", "nested": {"a": [1, 2.5, True, None]}},
    )


def test_a_task_encodes_as_task_to_dict() -> None:
    for task in (_full(), Task("T2", "bare")):
        direct = msgspec.json.encode(task)
        assert direct == orjson.dumps(task_to_dict(task))  # same keys, order and values


def test_the_snapshot_is_the_indented_document_and_reads_back() -> None:
    state = BoardState(tasks={"T0": Task("T0", "first", "done"), "T1": _full()}, fence=7)
    data = render_snapshot(state, Head(2, "ab" * 8, 100))
    assert data.endswith(b"}\n") and b'\n  "tasks": [\n    {\n      "id": "T0",' in data
    doc = orjson.loads(data)
    assert doc["tasks"] == [task_to_dict(t) for t in state.tasks.values()]
    expected = dict(doc, tasks=[task_to_dict(t) for t in state.tasks.values()])
    assert data == orjson.dumps(expected, option=orjson.OPT_INDENT_2) + b"\n"
    again, head = parse_snapshot(data)
    assert again.tasks == state.tasks and head.seq == 2


def test_floats_past_1e16_keep_their_value() -> None:
    """msgspec prints `1e+16` as `1e16`: another spelling of the same number."""
    task = Task("T3", "big", metrics={"rows": 1e16, "huge": 1.7976931348623157e308})
    state = BoardState(tasks={"T3": task})
    again, _ = parse_snapshot(render_snapshot(state, Head()))
    assert again.tasks["T3"].metrics == task.metrics
