"""Hand an envelope to a host's A2A HTTP endpoint with the official a2a-sdk client.

The envelope is sealed by the sender's `Postbox` as usual; here it travels as the `raw`
Part of an A2A `SendMessage` instead of a file. The owner's answers come back as task
artifacts, each a signed envelope, and are verified with the sender's keys exactly like
a file from its own inbox (recipient, signature, payload hash, expiry).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from a2a.client import ClientConfig, create_client
from a2a.types import a2a_pb2 as pb

from sprintboard.a2a.envelope import Envelope, decode, verify
from sprintboard.a2a.http_server import ENVELOPE_MEDIA, envelope_part
from sprintboard.a2a.messages import parse
from sprintboard.a2a.postbox import Postbox, Received
from sprintboard.errors import MessageRejected

__all__ = ["HttpReply", "send_over_http", "send_over_http_sync"]


@dataclass(frozen=True, slots=True)
class HttpReply:
    """The A2A task one envelope became on the other host."""

    state: str
    """`TASK_STATE_COMPLETED`, `TASK_STATE_REJECTED` or `TASK_STATE_FAILED`."""
    text: str
    replies: list[Received] = field(default_factory=list)
    """The owner's answers (reply, assignment), verified like inbox files."""
    task: Any = None
    """The `a2a.types.Task` as the server sent it."""


def _answers(box: Postbox, task: Any) -> list[Received]:
    out = []
    now = box.clock.now()
    for item in task.artifacts:
        for part in item.parts:
            if part.media_type != ENVELOPE_MEDIA or part.WhichOneof("content") != "raw":
                continue
            env = decode(part.raw, label=item.artifact_id or "http")
            verify(
                env, box.keys.key(env.sender, box.host), me=box.host, now=now, max_skew=box.max_skew
            )
            out.append(Received(env, parse(env.kind, env.payload, env.id)))
    return out


async def send_over_http(
    url: str,
    box: Postbox,
    env: Envelope,
    *,
    httpx_client: httpx.AsyncClient | None = None,
    timeout: float = 30.0,
) -> HttpReply:
    """Send one sealed envelope to the endpoint at `url` and wait for the task's end.

    Raises:
        MessageRejected: an answer fails verification (wrong key, altered, expired).
        a2a.client.A2AClientError: the endpoint cannot be reached or answered badly.
    """
    message = pb.Message(
        message_id=env.id,
        role=pb.Role.ROLE_USER,
        parts=[envelope_part(env)],
    )
    if env.task:
        message.context_id = env.task
    own = httpx_client is None
    http = httpx_client or httpx.AsyncClient(timeout=timeout)
    try:
        client = await create_client(url, ClientConfig(streaming=False, httpx_client=http))
        task = None
        async for event in client.send_message(pb.SendMessageRequest(message=message)):
            if event.HasField("task"):
                task = event.task
    finally:
        if own:
            await http.aclose()
    if task is None:
        raise MessageRejected(env.id, f"{url} answered without a task")
    text = "\n".join(p.text for p in task.status.message.parts if p.WhichOneof("content") == "text")
    return HttpReply(pb.TaskState.Name(task.status.state), text, _answers(box, task), task)


def send_over_http_sync(url: str, box: Postbox, env: Envelope, timeout: float = 30.0) -> HttpReply:
    """`send_over_http` for code that is not async (runs its own event loop)."""
    return asyncio.run(send_over_http(url, box, env, timeout=timeout))
