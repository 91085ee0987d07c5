"""The HTTP transport: a host that is not the owner hands each envelope to the owner's A2A
endpoint (`sprintboard a2a http`) with the official a2a-sdk client.

The owner answers within the same HTTP exchange (the reply or the assignment, each a
signed envelope, as task artifacts); they are put into this host's own inbox in its
`[a2a] dir`, and the `Postbox` verifies them there like any other message. What the
owner pushes on its own (assignments to a host, cancels) still travels by directory or
git, so a host on HTTP pulls its work (`claim-next`).

One event loop in a background thread keeps the SDK client (and its HTTP connection and
the agent card) for the life of the process: a round trip costs one POST.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from sprintboard.a2a.envelope import check_host, decode, file_name
from sprintboard.a2a.maildir import Maildir
from sprintboard.a2a.transport_dir import DirTransport
from sprintboard.errors import MessageRejected, OwnerUnreachable

__all__ = ["HttpTransport"]


class _Session:
    """The SDK client on its own event loop thread (made on first use)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._client: Any = None
        self._http: Any = None

    async def _send(self, data: bytes, name: str, task: str | None) -> Any:
        # httpx loads only when a message goes over HTTP (start-up time)
        import httpx
        from a2a.client import ClientConfig, create_client
        from a2a.types import a2a_pb2 as pb

        from sprintboard.a2a.agent_card import ENVELOPE_MEDIA

        if self._client is None:
            self._http = httpx.AsyncClient(timeout=self.timeout)
            config = ClientConfig(streaming=False, httpx_client=self._http)
            self._client = await create_client(self.url, config)
        part = pb.Part(raw=data, media_type=ENVELOPE_MEDIA, filename=name)
        message = pb.Message(
            message_id=name.removesuffix(".json"), role=pb.Role.ROLE_USER, parts=[part]
        )
        if task:
            message.context_id = task
        answer = None
        async for event in self._client.send_message(pb.SendMessageRequest(message=message)):
            if event.HasField("task"):
                answer = event.task
        return answer

    def send(self, data: bytes, name: str, task: str | None) -> Any:
        future = asyncio.run_coroutine_threadsafe(self._send(data, name, task), self.loop)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"no HTTP answer within {self.timeout:g}s") from None

    def close(self) -> None:
        if self._http is not None:
            asyncio.run_coroutine_threadsafe(self._http.aclose(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def _completed() -> int:
    # the A2A SDK loads only when a message goes over HTTP (start-up time)
    from a2a.types import a2a_pb2 as pb

    return int(pb.TaskState.TASK_STATE_COMPLETED)


class HttpTransport:
    """Envelopes to the owner over HTTP; the owner's answers into this host's own inbox."""

    def __init__(self, a2a_dir: Path, host: str, owner: str, url: str, *, timeout: float = 30.0):
        self.host = check_host(host)
        self.owner = check_host(owner)
        self.url = url
        self.timeout = timeout
        self.local = DirTransport(Path(a2a_dir))
        self._session: _Session | None = None

    def _answers(self, task: Any) -> list[tuple[str, bytes]]:
        # the A2A SDK loads only when a message goes over HTTP (start-up time)
        from sprintboard.a2a.agent_card import ENVELOPE_MEDIA

        out = []
        for item in task.artifacts:
            for part in item.parts:
                if part.media_type == ENVELOPE_MEDIA and part.WhichOneof("content") == "raw":
                    env = decode(part.raw, label=item.artifact_id or "http")
                    out.append((file_name(env), bytes(part.raw)))
        return out

    def send(self, recipient: str, items: Sequence[tuple[str, bytes]]) -> None:
        """POST each envelope to the owner; file its answers in this host's inbox.

        Raises:
            OwnerUnreachable: the endpoint cannot be reached or did not answer in time.
            MessageRejected: the owner refused the envelope before handling it (bad
                signature, replayed id, expired) and sent no answer.
        """
        if recipient != self.owner:
            raise MessageRejected(
                items[0][0] if items else "?",
                f"the http transport reaches only the owner {self.owner}, not {recipient}",
            )
        if self._session is None:
            self._session = _Session(self.url, self.timeout)
        for name, data in items:
            started = time.monotonic()
            try:
                task = self._session.send(data, name, decode(data, label=name).task)
            except Exception as exc:  # connection refused, DNS, timeout, a bad answer
                raise OwnerUnreachable(
                    self.owner,
                    f"http {self.url}",
                    time.monotonic() - started,
                    f"{name.removesuffix('.json')}: {type(exc).__name__}: {exc}"[:300],
                ) from None
            if task is None:
                raise OwnerUnreachable(
                    self.owner, f"http {self.url}", time.monotonic() - started, "no A2A task back"
                )
            answers = self._answers(task)
            if not answers and task.status.state != _completed():
                parts = task.status.message.parts
                text = " ".join(p.text for p in parts if p.WhichOneof("content") == "text")
                raise MessageRejected(name.removesuffix(".json"), text or "refused by the owner")
            self.local.inbox(self.host).deliver_many(answers)

    def send_blob(self, sha256: str, source: Path) -> None:
        """Refused: files do not travel over HTTP yet.

        Raises:
            MessageRejected: always; share the blob folder (`[a2a] dir`) or use git.
        """
        raise MessageRejected(
            sha256[:12],
            "artifacts do not travel over the http transport yet; submit without files, or "
            "join through the shared folder or git so the owner sees .a2a/blobs",
        )

    def inbox(self, host: str) -> Maildir:
        return self.local.inbox(host)

    def sync(self) -> int:
        return 0

    def close(self) -> None:
        """Stop the client's event loop (the process may also just exit)."""
        if self._session is not None:
            self._session.close()
            self._session = None
