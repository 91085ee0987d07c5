"""Every protocol message is an A2A v1 object that the SDK's own parser reads back."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.types import a2a_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

from sprintboard.a2a import messages
from sprintboard.a2a.envelope import Kind
from sprintboard.board.models import Artifact, Lease, Task
from sprintboard.errors import MessageRejected

LEASE = Lease("builder-beta", "beta", 7, "2026-01-01T00:00:00.000Z", 900, "x", "y")
TASK = Task(id="T2", title="train", status="in_progress", caps=["mlx"], priority=1)
ART = Artifact("out/adapter.safetensors", "ab" * 32, 1234)

ALL: dict[Kind, Any] = {
    "assignment": messages.assignment("m1", TASK, LEASE, "S1"),
    "accept": messages.accept("m2", "T2", "S1", "builder-beta@beta"),
    "decline": messages.decline("m3", "T2", "S1", "no GPU memory"),
    "heartbeat": messages.heartbeat("m4", "T2", "S1"),
    "progress": messages.progress("m5", "T2", "S1", "epoch 1/3", {"loss": 2.5}),
    "result": messages.result("m6", "T2", "S1", [ART], {"val_loss": 1.25}),
    "handoff": messages.handoff("m7", "T2", "gamma", "beta is shutting down"),
    "cancel": messages.cancel("m8", "T2", "S1", "sprint closed"),
    "request": messages.request("m9", "claim", {"task": "T2", "agent": "builder-beta"}),
    "reply": messages.reply("m10", True, {"fence": 7}),
}


@pytest.mark.parametrize("kind", sorted(ALL))
def test_round_trip_through_the_sdk_parser(kind: Kind) -> None:
    payload = ALL[kind]
    parsed = ParseDict(payload, a2a_pb2.StreamResponse())  # the SDK's v1 types, strict
    assert MessageToDict(parsed) == payload
    assert messages.parse(kind, payload).stream == parsed


def test_proto_json_uses_v1_names() -> None:
    text = str(ALL)
    for v1 in ("contextId", "taskId", "messageId", "artifactId", "ROLE_AGENT", "ROLE_USER"):
        assert v1 in text
    assert "TASK_STATE_SUBMITTED" in str(ALL["assignment"])
    assert "TASK_STATE_COMPLETED" in str(ALL["result"])
    assert "'kind'" not in text  # no v0.3 discriminators
    part = ALL["result"]["task"]["artifacts"][0]["parts"][0]
    assert part["url"] == messages.blob_url(ART.sha256)


def test_board_values_come_back_with_their_types() -> None:
    got = messages.parse("assignment", ALL["assignment"])
    assert got.state == "TASK_STATE_SUBMITTED"
    assert got.meta["lease"]["fence"] == 7 and isinstance(got.meta["lease"]["fence"], int)
    assert got.meta["task"]["caps"] == ["mlx"]
    result = messages.parse("result", ALL["result"])
    assert messages.artifact_refs(result) == [(ART.sha256, 1234, ART.path)]
    assert result.meta["metrics"] == {"val_loss": 1.25}
    assert messages.parse("request", ALL["request"]).data["op"] == "claim"


def test_wrong_object_for_the_kind_or_not_a2a_is_refused() -> None:
    with pytest.raises(MessageRejected, match="carries task"):
        messages.parse("result", ALL["heartbeat"])
    with pytest.raises(MessageRejected, match="not A2A v1"):
        messages.parse("result", {"task": {"kind": "task", "id": "T2"}})
