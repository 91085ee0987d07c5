"""The protocol messages as A2A v1 objects (the official `a2a-sdk` protobuf types).

Each payload is an A2A `StreamResponse` in ProtoJSON: `{"task": ...}` for an assignment
or a result, `{"statusUpdate": ...}` for accept, decline, heartbeat, progress and cancel,
`{"message": ...}` for handoff, request and reply. Board objects (lease, task, metrics)
ride in a `data` Part or in `metadata` under the key `sprintboard`.

The SDK (protobuf) is imported on first use, so `import sprintboard` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sprintboard.a2a.envelope import Kind
from sprintboard.board.codec import lease_to_dict, task_from_dict, task_to_dict
from sprintboard.board.models import Artifact, Lease, Task
from sprintboard.board.scheduling import NextUp, NothingToTake
from sprintboard.errors import MessageRejected

__all__ = [
    "PAYLOAD_KIND",
    "Parsed",
    "accept",
    "answer_id",
    "artifact_refs",
    "assignment",
    "blob_url",
    "cancel",
    "decline",
    "handoff",
    "heartbeat",
    "next_up_from_value",
    "next_up_value",
    "parse",
    "plain_numbers",
    "progress",
    "reply",
    "request",
    "result",
]

# Which StreamResponse member each kind uses; `parse` refuses any other.
PAYLOAD_KIND: dict[Kind, str] = {
    "assignment": "task",
    "result": "task",
    "accept": "statusUpdate",
    "decline": "statusUpdate",
    "heartbeat": "statusUpdate",
    "progress": "statusUpdate",
    "cancel": "statusUpdate",
    "handoff": "message",
    "request": "message",
    "reply": "message",
}


def answer_id(owner: str, request_id: str, kind: Kind) -> str:
    """The id of the owner's answer to a request: derived from the request's id, so the
    asking process can wait for exactly its own answer among other processes' (and a
    resent request gets the same answer id)."""
    tag = "as" if kind == "assignment" else "re"
    return f"{owner}-{tag}-{request_id}"[:128]


def next_up_value(got: NextUp) -> dict[str, Any]:
    """A `NextUp` as a reply value."""
    why = None if got.why is None else {"reason": got.why.reason, "wip_limit": got.why.wip_limit}
    return {"tasks": [task_to_dict(t) for t in got.tasks], "why": why}


def next_up_from_value(value: Any) -> NextUp:
    """The `NextUp` a reply value carries.

    Raises:
        MessageRejected: not the shape `next_up_value` makes.
    """
    if not isinstance(value, dict) or not isinstance(value.get("tasks"), list):
        raise MessageRejected("?", "malformed: a next_up answer needs a list of tasks")
    why = value.get("why")
    return NextUp(
        [task_from_dict(t) for t in value["tasks"]],
        None
        if not isinstance(why, dict)
        else NothingToTake(str(why.get("reason", "")), why.get("wip_limit")),
    )


def blob_url(sha256: str) -> str:
    """How a result names a blob: relative to the shared `.a2a/blobs/`."""
    return f"blobs/{sha256}"


def _pb() -> Any:
    from a2a.types import a2a_pb2  # protobuf costs ~50 ms to import; only messages need it

    return a2a_pb2


def _to_json(stream: Any) -> dict[str, Any]:
    # protobuf loads only when an A2A message is built or read (start-up time)
    from google.protobuf.json_format import MessageToDict

    out: dict[str, Any] = MessageToDict(stream)
    return out


def _data_part(value: Any) -> Any:
    # protobuf loads only when an A2A message is built or read (start-up time)
    from google.protobuf import struct_pb2
    from google.protobuf.json_format import ParseDict

    pb = _pb()
    return pb.Part(data=ParseDict(value, struct_pb2.Value()), media_type="application/json")


def _text_message(pb: Any, role: str, message_id: str, task_id: str, text: str) -> Any:
    return pb.Message(
        message_id=message_id,
        task_id=task_id,
        role=getattr(pb.Role, role),
        parts=[pb.Part(text=text)],
    )


def _status(
    message_id: str, task_id: str, context: str, state: str, text: str, meta: Mapping[str, Any]
) -> dict[str, Any]:
    pb = _pb()
    update = pb.TaskStatusUpdateEvent(
        task_id=task_id,
        context_id=context,
        status=pb.TaskStatus(
            state=getattr(pb.TaskState, state),
            message=_text_message(pb, "ROLE_AGENT", message_id, task_id, text),
        ),
    )
    update.metadata.update({"sprintboard": dict(meta)})
    return _to_json(pb.StreamResponse(status_update=update))


def assignment(message_id: str, task: Task, lease: Lease, context: str) -> dict[str, Any]:
    """Owner -> host: the task, leased to one of the host's agents, with its fencing token."""
    pb = _pb()
    a2a_task = pb.Task(
        id=task.id,
        context_id=context,
        status=pb.TaskStatus(
            state=pb.TaskState.TASK_STATE_SUBMITTED,
            message=_text_message(pb, "ROLE_USER", message_id, task.id, task.title),
        ),
    )
    a2a_task.metadata.update(
        {"sprintboard": {"lease": lease_to_dict(lease), "task": task_to_dict(task)}}
    )
    return _to_json(pb.StreamResponse(task=a2a_task))


def accept(message_id: str, task: str, context: str, agent: str) -> dict[str, Any]:
    """Host -> owner: the assignment is taken; work starts."""
    return _status(message_id, task, context, "TASK_STATE_WORKING", f"accepted by {agent}", {})


def decline(message_id: str, task: str, context: str, reason: str) -> dict[str, Any]:
    """Host -> owner: the assignment is refused; the owner releases the lease."""
    return _status(message_id, task, context, "TASK_STATE_REJECTED", reason, {"reason": reason})


def heartbeat(message_id: str, task: str, context: str) -> dict[str, Any]:
    """Host -> owner: still working; extend the lease."""
    return _status(message_id, task, context, "TASK_STATE_WORKING", "heartbeat", {"beat": True})


def progress(
    message_id: str, task: str, context: str, text: str, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Host -> owner: a progress note (recorded in the ledger; extends nothing)."""
    return _status(message_id, task, context, "TASK_STATE_WORKING", text, dict(data or {}))


def cancel(message_id: str, task: str, context: str, reason: str) -> dict[str, Any]:
    """Owner -> host: stop work on the task."""
    return _status(message_id, task, context, "TASK_STATE_CANCELED", reason, {"reason": reason})


def result(
    message_id: str,
    task: str,
    context: str,
    artifacts: Sequence[Artifact],
    metrics: Mapping[str, float],
) -> dict[str, Any]:
    """Host -> owner: the work is done; artifacts travel as blobs named by sha256."""
    pb = _pb()
    a2a_task = pb.Task(
        id=task,
        context_id=context,
        status=pb.TaskStatus(
            state=pb.TaskState.TASK_STATE_COMPLETED,
            message=_text_message(pb, "ROLE_AGENT", message_id, task, "submitted"),
        ),
    )
    for art in artifacts:
        part = pb.Part(
            url=blob_url(art.sha256),
            filename=art.path.rsplit("/", 1)[-1],
            media_type="application/octet-stream",
        )
        item = pb.Artifact(artifact_id=art.sha256, name=art.path, parts=[part])
        item.metadata.update({"sprintboard": {"sha256": art.sha256, "size": art.size}})
        a2a_task.artifacts.append(item)
    a2a_task.metadata.update(
        {"sprintboard": {"metrics": {k: float(v) for k, v in metrics.items()}}}
    )
    return _to_json(pb.StreamResponse(task=a2a_task))


def _data_message(message_id: str, task: str | None, role: str, value: Any) -> dict[str, Any]:
    pb = _pb()
    msg = pb.Message(
        message_id=message_id,
        task_id=task or "",
        role=getattr(pb.Role, role),
        parts=[_data_part(value)],
    )
    return _to_json(pb.StreamResponse(message=msg))


def handoff(message_id: str, task: str, to_host: str, reason: str) -> dict[str, Any]:
    """Host -> owner: give the task back for another host (`to_host`, may be empty)."""
    return _data_message(message_id, task, "ROLE_AGENT", {"to": to_host, "reason": reason})


def request(message_id: str, op: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Host -> owner: a board call (one of `owner.REQUESTS`: `claim`, `next_up`, ...)."""
    return _data_message(message_id, None, "ROLE_USER", {"op": op, "args": dict(args)})


def reply(message_id: str, ok: bool, value: Any = None, error: str = "") -> dict[str, Any]:
    """Owner -> host: the answer to a request or a report (`value`, or `error` = kind: text)."""
    return _data_message(message_id, None, "ROLE_AGENT", {"ok": ok, "value": value, "error": error})


def plain_numbers(value: Any) -> Any:
    """protobuf Struct numbers are doubles; give whole numbers back as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Parsed:
    """A payload as the SDK parsed it, with the sprintboard parts pulled out."""

    stream: Any
    """The `a2a.types.StreamResponse`."""
    state: str
    """Task state name (`TASK_STATE_...`) or "" for a message."""
    text: str
    meta: dict[str, Any]
    """`metadata.sprintboard` of the task or status update ({} if none)."""
    data: Any
    """The first `data` Part of a message, as plain JSON values (None if none)."""


def parse(kind: Kind, payload: dict[str, Any], message_id: str = "?") -> Parsed:
    """Parse a payload with the SDK's own parser and check it fits its kind.

    Raises:
        MessageRejected: not valid A2A v1 ProtoJSON, or the wrong object for `kind`.
    """
    # protobuf loads only when an A2A message is built or read (start-up time)
    from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

    pb = _pb()
    try:
        stream = ParseDict(payload, pb.StreamResponse())
    except (ParseError, ValueError, TypeError) as exc:
        raise MessageRejected(message_id, f"malformed: payload is not A2A v1 ({exc})") from None
    member = stream.WhichOneof("payload")
    expected = PAYLOAD_KIND[kind]
    json_member = {"status_update": "statusUpdate", "artifact_update": "artifactUpdate"}.get(
        member or "", member or ""
    )
    if json_member != expected:
        raise MessageRejected(message_id, f"malformed: a {kind} carries {expected}, not {member}")
    if member == "task":
        obj = stream.task
        status, meta_pb = obj.status, obj.metadata
    elif member == "status_update":
        obj = stream.status_update
        status, meta_pb = obj.status, obj.metadata
    else:
        status, meta_pb = None, stream.message.metadata
    state = pb.TaskState.Name(status.state) if status is not None else ""
    parts = status.message.parts if status is not None else stream.message.parts
    text = "\n".join(p.text for p in parts if p.WhichOneof("content") == "text")
    meta = plain_numbers(MessageToDict(meta_pb).get("sprintboard", {}))
    data = None
    for p in parts:
        if p.WhichOneof("content") == "data":
            data = plain_numbers(MessageToDict(p).get("data"))
            break
    return Parsed(stream=stream, state=state, text=text, meta=meta, data=data)


def artifact_refs(parsed: Parsed) -> list[tuple[str, int, str]]:
    """(sha256, size, name) of each artifact of a result."""
    # protobuf loads only when an A2A message is built or read (start-up time)
    from google.protobuf.json_format import MessageToDict

    out = []
    for item in parsed.stream.task.artifacts:
        meta = plain_numbers(MessageToDict(item.metadata).get("sprintboard", {}))
        size = meta.get("size", -1) if isinstance(meta, dict) else -1
        if isinstance(size, bool) or not isinstance(size, int):
            raise MessageRejected(
                str(parsed.stream.task.id) or "?",
                f"malformed: artifact {str(item.name)[:60]!r} has size {str(size)[:20]!r}",
            )
        out.append((str(item.artifact_id), size, str(item.name)))
    return out
