"""The A2A protocol over HTTP: the owner's `OwnerHandler` behind the official a2a-sdk server.

A host hands a message over with the A2A `SendMessage` call instead of a file in the
owner's inbox. The A2A `Message` carries the same signed envelope, byte for byte, in a
`raw` Part of media type `ENVELOPE_MEDIA` (a `data` Part would turn every number into a
double and break the signature). The envelope is checked exactly like an inbox file
(size, shape, recipient, pair key, signature, payload hash, expiry with skew, replayed
id, A2A payload) and then handled by the same `OwnerHandler` the directory daemon runs,
so both roads end in the same journal events. What the owner answers to the sender (the
reply or the assignment naming the message in `reply_to`) comes back as artifacts of
the A2A task, each a signed envelope again; any other message (an assignment pushed to a
third host after a handoff) still goes through the directory.

The SDK server, Starlette and uvicorn are imported by this module (and `http_client` by
the SDK client); the CLI imports them inside `a2a http`, so `import sprintboard.cli`
stays light.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import a2a_pb2 as pb
from starlette.applications import Starlette

from sprintboard.a2a.agent_card import ENVELOPE_MEDIA, agent_card
from sprintboard.a2a.envelope import MAX_MESSAGE_BYTES, Envelope, decode, encode, file_name, verify
from sprintboard.a2a.ledger import LedgerLine
from sprintboard.a2a.messages import parse
from sprintboard.a2a.node import open_owner
from sprintboard.a2a.owner import OwnerHandler
from sprintboard.a2a.postbox import Handler, Outcome, Postbox, Received
from sprintboard.a2a.seen import SeenIds
from sprintboard.a2a.transport import Inbox, Transport
from sprintboard.board.clock import format_ts
from sprintboard.config import current_host, load_config
from sprintboard.errors import MessageRejected, NotOwner, SprintboardError
from sprintboard.workspace import find_workspace

__all__ = [
    "ENVELOPE_MEDIA",
    "EnvelopeExecutor",
    "EnvelopeGate",
    "GateAnswer",
    "HttpEndpoint",
    "ReplyCatcher",
    "agent_card",
    "build_app",
    "envelope_part",
    "listen",
    "open_http_endpoint",
    "serve",
]

log = logging.getLogger(__name__)

"""Media type of a Part whose `raw` bytes are one sealed envelope (the inbox file)."""


def envelope_part(env: Envelope) -> Any:
    """The A2A Part that carries a sealed envelope: its exact file bytes, as `raw`."""
    return pb.Part(raw=encode(env), media_type=ENVELOPE_MEDIA, filename=file_name(env))


class ReplyCatcher:
    """A `Transport` that keeps the owner's answer to the HTTP message being handled.

    Between `catch(env)` and `release()`, a message for `env.sender` naming `env.id` in
    `reply_to` is kept (it goes back in the HTTP response); everything else goes on
    through the real transport, as it would from the directory daemon.
    """

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self._for: Envelope | None = None
        self.caught: list[Envelope] = []

    def catch(self, env: Envelope) -> None:
        """Start keeping the answers to `env`."""
        self._for, self.caught = env, []

    def release(self) -> list[Envelope]:
        """Stop keeping answers; returns what was kept."""
        caught, self._for, self.caught = self.caught, None, []
        return caught

    def send(self, recipient: str, items: Sequence[tuple[str, bytes]]) -> None:
        asked = self._for
        onward = []
        for name, data in items:
            if asked is not None and recipient == asked.sender:
                env = decode(data, label=name)
                if env.reply_to == asked.id:
                    self.caught.append(env)
                    continue
            onward.append((name, data))
        if onward:
            self.inner.send(recipient, onward)

    def send_blob(self, sha256: str, source: Path) -> None:
        self.inner.send_blob(sha256, source)

    def inbox(self, host: str) -> Inbox:
        return self.inner.inbox(host)

    def sync(self) -> int:
        return self.inner.sync()


@dataclass(frozen=True, slots=True)
class GateAnswer:
    """What one envelope delivered over HTTP came to."""

    state: str
    """`completed`, `rejected` (refused before or by the handler) or `failed` (a bug)."""
    text: str
    replies: list[Envelope] = field(default_factory=list)
    """The owner's signed answers to the sender (reply, or assignment for a claim)."""


class EnvelopeGate:
    """Checks an envelope that came over HTTP like `Postbox.process` checks an inbox file,
    then runs the handler; one message at a time (the handler and the board are not
    made for concurrent calls within one process).

    The postbox must send through a `ReplyCatcher` so the answers come back here.
    """

    def __init__(self, postbox: Postbox, catcher: ReplyCatcher, handler: Handler) -> None:
        if postbox.transport is not catcher:
            raise TypeError("the postbox must send through the ReplyCatcher given")
        self.postbox = postbox
        self.catcher = catcher
        self.handler = handler
        self._lock = threading.Lock()

    @classmethod
    def for_owner(cls, owner: OwnerHandler) -> EnvelopeGate:
        """Route an `OwnerHandler`'s postbox through a `ReplyCatcher` and gate it."""
        box = owner.postbox
        catcher = (
            box.transport
            if isinstance(box.transport, ReplyCatcher)
            else ReplyCatcher(box.transport)
        )
        box.transport = catcher
        return cls(box, catcher, owner)

    @property
    def host(self) -> str:
        return self.postbox.host

    def _log(self, action: str, target: str, context: str, ref: str) -> None:
        if self.postbox.ledger is not None:
            now = format_ts(self.postbox.clock.now())
            self.postbox.ledger.append(LedgerLine(now, self.host, action, target, context, ref))

    def _refuse(self, label: str, reason: str) -> GateAnswer:
        log.warning("%s: refused %s over HTTP: %s", self.host, label, reason)
        self._log("quarantine", "", f"http: {reason}"[:300], label)
        return GateAnswer("rejected", reason)

    def _check(self, data: bytes, name: str) -> Received:
        box = self.postbox
        env = decode(data, label=name or "http")
        if name and name != file_name(env):
            raise MessageRejected(env.id, f"file name {name!r} does not match the message id")
        now = box.clock.now()
        verify(
            env, box.keys.key(env.sender, self.host), me=self.host, now=now, max_skew=box.max_skew
        )
        got = Received(env, parse(env.kind, env.payload, env.id))
        # the directory daemon, another process, appends the ids it handles to the same file
        if env.id in box.seen or env.id in SeenIds(box.seen.path):
            raise MessageRejected(env.id, f"replayed id {env.id} (already handled)")
        return got

    def handle(self, data: bytes, name: str = "") -> GateAnswer:
        """Check and handle one envelope (its file bytes); never raises for a bad message.

        Raises:
            OSError: disk trouble; nothing is remembered, so the sender may send again.
        """
        with self._lock:
            try:
                got = self._check(data, name)
            except MessageRejected as exc:
                return self._refuse(exc.message_id, exc.reason)
            env = got.env
            self.catcher.catch(env)
            try:
                outcome = self.handler(got)
            except MessageRejected as exc:
                self.catcher.release()
                return self._refuse(env.id, exc.reason)
            except SprintboardError as exc:
                outcome = Outcome("refuse", str(exc))
            except OSError:
                self.catcher.release()
                raise
            except Exception as exc:  # a poison message must not take the server down
                self.catcher.release()
                log.exception("%s: handler failed on %s", self.host, env.id)
                self._log("quarantine", env.sender, f"http: handler error: {exc!r}"[:300], env.id)
                return GateAnswer("failed", f"handler error: {exc!r}")
            replies = self.catcher.release()
            keep = env.expires_at + timedelta(seconds=self.postbox.max_skew)
            self.postbox.seen.add(env.id, keep)
            self.postbox.seen.flush()  # durable before the sender hears it was handled
            action = outcome.action if outcome is not None else env.kind
            context = outcome.context if outcome is not None else ""
            self._log(action, env.sender, context[:300], env.task or env.id)
            state = "rejected" if action == "refuse" else "completed"
            return GateAnswer(state, f"{action}: {context}".rstrip(": "), replies)


class EnvelopeExecutor(AgentExecutor):
    """The SDK's `AgentExecutor`: one A2A task per envelope, answered with artifacts."""

    def __init__(self, gate: EnvelopeGate) -> None:
        self.gate = gate

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, context_id = context.task_id or "", context.context_id or ""
        updater = TaskUpdater(event_queue, task_id, context_id)
        if context.current_task is None:  # the SDK wants the Task before its status updates
            await event_queue.enqueue_event(
                pb.Task(
                    id=task_id,
                    context_id=context_id,
                    status=pb.TaskStatus(state=pb.TaskState.TASK_STATE_SUBMITTED),
                )
            )
        parts = [
            p
            for p in (context.message.parts if context.message is not None else [])
            if p.media_type == ENVELOPE_MEDIA and p.WhichOneof("content") == "raw"
        ]
        if len(parts) != 1:
            reason = f"expected one Part of media type {ENVELOPE_MEDIA} with raw bytes"
            await updater.reject(updater.new_agent_message([pb.Part(text=reason)]))
            return
        answer = await asyncio.to_thread(self.gate.handle, parts[0].raw, parts[0].filename)
        for env in answer.replies:
            await updater.add_artifact(
                [envelope_part(env)],
                artifact_id=env.id,
                name=env.kind,
                metadata={"sprintboard": {"kind": env.kind, "reply_to": env.reply_to}},
            )
        done = updater.new_agent_message([pb.Part(text=answer.text)])
        if answer.state == "completed":
            await updater.complete(done)
        elif answer.state == "rejected":
            await updater.reject(done)
        else:
            await updater.failed(done)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        # a message is handled in one go under a lock; there is nothing to stop halfway
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.cancel(
            updater.new_agent_message([pb.Part(text="handled at once; cannot be cancelled")])
        )


def build_app(gate: EnvelopeGate, card: Any) -> Starlette:
    """A Starlette app with the SDK's routes: the agent card and JSON-RPC at `/`."""
    handler = DefaultRequestHandler(
        agent_executor=EnvelopeExecutor(gate), task_store=InMemoryTaskStore(), agent_card=card
    )
    routes = [*create_agent_card_routes(card), *create_jsonrpc_routes(handler, rpc_url="/")]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await handler.aclose()  # no SDK task left running at shutdown

    # the envelope is at most MAX_MESSAGE_BYTES; base64 and JSON-RPC add about a third
    return Starlette(routes=routes, lifespan=lifespan, max_body_size=2 * MAX_MESSAGE_BYTES)


def listen(bind: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (port 0: any free one), so the card can name the real port
    before the server starts and a client may connect at once.

    The protocol is named (IPPROTO_TCP, not 0): asyncio turns Nagle off (TCP_NODELAY) only
    on connections whose socket says TCP, and with Nagle on, each answer on a kept-alive
    connection waited ~40 ms for the client's delayed ACK (benchmarks/bench_remote.py)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, port))
    sock.listen(128)
    return sock


@dataclass
class HttpEndpoint:
    """An owner's A2A HTTP endpoint, ready to serve: the app, its socket and its URL."""

    app: Starlette
    sock: socket.socket
    url: str
    gate: EnvelopeGate


def open_http_endpoint(
    workspace: Path | None,
    *,
    host: str | None = None,
    bind: str = "127.0.0.1",
    port: int = 0,
    public_url: str | None = None,
    owner: OwnerHandler | None = None,
    keys: Path | None = None,
) -> HttpEndpoint:
    """The endpoint of a workspace's owner host (the handler the directory daemon runs).

    `public_url` is what the agent card advertises (default: the bound address), for an
    endpoint behind a proxy or bound to all interfaces.

    Raises:
        NotOwner: `host` (default: this machine's) is not the board owner.
        ConfigError, WorkspaceError: no workspace or a bad `sprintboard.toml`.
        OSError: the address is taken.
    """

    root = find_workspace(workspace)
    config = load_config(root)
    name = current_host(config, host)
    if name != config.board.owner:  # only the owner may turn messages into journal events
        raise NotOwner(name, config.board.owner)
    handler = owner or open_owner(root, keys=keys)
    gate = EnvelopeGate.for_owner(handler)
    sock = listen(bind, port)
    shown = f"[{bind}]" if ":" in bind else bind
    url = public_url or f"http://{shown}:{sock.getsockname()[1]}/"
    return HttpEndpoint(build_app(gate, agent_card(config, gate.host, url)), sock, url, gate)


def serve(endpoint: HttpEndpoint, *, log_level: str = "warning") -> None:
    """Serve with uvicorn until interrupted (or until `server.should_exit`)."""
    # uvicorn loads only when a server starts (start-up time)
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(endpoint.app, log_level=log_level, lifespan="on"))
    server.run(sockets=[endpoint.sock])
