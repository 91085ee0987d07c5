"""`RemoteBoard`: the `BoardClient` on a host that is not the owner, spoken over A2A.

Every call is a signed message to the owner and, where the protocol has one, a wait for
its answer (the reply names the request in `reply_to`; its id is derived from the
request's, `messages.answer_id`). A call waits at most `timeout` seconds, then raises
`OwnerUnreachable` naming the owner, the transport and the time waited: it never hangs.

Several processes of one host may each hold a RemoteBoard (the runner, a one-shot
`sprintboard claim-next`, `sprintboard mcp`): each takes from the host's inbox only the
answers to its own requests. Assignments and cancels the owner pushes on its own go to
the host's reader (`reader=True`, the runner: one per host), kept and offered by
`ready`/`claim`; other processes leave them in the inbox.

Each snapshot the owner sends is kept in `.sprintboard/remote/snapshot.json`, so a read
can be served from it (`cached_snapshot`, saying how old it is) when the owner is away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sprintboard.a2a import messages
from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.envelope import Kind
from sprintboard.a2a.postbox import Outcome, Postbox, Received
from sprintboard.board.client import EventDraft
from sprintboard.board.clock import format_ts, parse_ts
from sprintboard.board.codec import event_from_dict, lease_from_dict, task_from_dict
from sprintboard.board.document import TaskDocument
from sprintboard.board.models import Artifact, Event, Lease, Note, Question, Status, Task
from sprintboard.board.scheduling import NextUp
from sprintboard.board.snapshot import parse_snapshot
from sprintboard.board.state import BoardState
from sprintboard.errors import (
    BoardError,
    LeaseConflict,
    MessageRejected,
    NotPermitted,
    OwnerUnreachable,
    SprintboardError,
    StaleFence,
    UnknownTask,
    WipLimitReached,
)
from sprintboard.files import atomic_write

__all__ = ["CachedSnapshot", "RemoteBoard", "raise_remote_error"]

SNAPSHOT_CACHE = Path(".sprintboard") / "remote" / "snapshot.json"


def raise_remote_error(value: Any) -> None:
    """Raise the error the owner reported, as the same exception type where known."""
    v = value if isinstance(value, dict) else {"message": str(value)}
    kind, msg = v.get("type"), str(v.get("message", "refused by the owner"))
    if kind == "StaleFence":
        given, current = v.get("given"), v.get("current")
        raise StaleFence(
            str(v.get("task")),
            given if isinstance(given, int) else None,
            current if isinstance(current, int) else None,
        )
    if kind == "LeaseConflict":
        raise LeaseConflict(str(v.get("task")), str(v.get("reason", msg)))
    if kind == "UnknownTask":
        raise UnknownTask(str(v.get("task")))
    if kind == "WipLimitReached":
        raise WipLimitReached(str(v.get("scope", "?")), int(v.get("limit", 0)))
    if kind == "NotPermitted":
        task = v.get("task")
        raise NotPermitted(
            str(v.get("actor", "?")),
            str(v.get("op", "?")),
            None if task is None else str(task),
            str(v.get("reason", msg)),
        )
    if kind == "MessageRejected":
        raise MessageRejected(str(v.get("message_id", "?")), str(v.get("reason", msg)))
    raise BoardError(f"the owner refused: {msg}")


@dataclass(frozen=True, slots=True)
class CachedSnapshot:
    """The last snapshot the owner sent this host, and when it arrived."""

    state: BoardState
    received: str
    """ISO UTC time it arrived."""
    age: float
    """Seconds since then."""


class RemoteBoard:
    """The board as seen from a non-owner host.

    ```python
    board = open_remote_board(workspace, "beta")
    lease = board.claim("T002", agent="builder-beta", host="beta", ttl=900)
    board.submit("T002", lease.fence, [artifact], {"loss": 1.2})
    ```
    """

    def __init__(
        self,
        postbox: Postbox,
        owner: str,
        blobs: BlobStore,
        *,
        workspace: Path,
        timeout: float = 30.0,
        poll: float = 0.005,
        sync_every: float = 0.5,
        reader: bool = True,
        transport_name: str = "the A2A transport",
    ) -> None:
        self.postbox = postbox
        self.owner = owner
        self.blobs = blobs
        self.workspace = Path(workspace)
        self.timeout = timeout
        self.poll = poll
        self.sync_every = sync_every
        self.reader = reader
        """Whether this process handles what the owner pushes (the host's runner), or only
        the answers to its own requests (a one-shot command, `sprintboard mcp`)."""
        self.transport_name = transport_name
        """How the owner is reached, in words (for errors): `dir /shared/.a2a`, ..."""
        self.context = "board"
        self._answers: dict[str, Received] = {}
        self._waiting: set[str] = set()
        self._assigned: dict[str, tuple[Task, Lease]] = {}
        self.cancelled: set[str] = set()
        self._changed = False
        self._last_sync = 0.0
        # Builder threads, their heartbeats and the loop all pump: one reader at a time, or
        # a sibling's in-flight message in cur/ looks like a crash left-over and is re-read.
        self._pump_lock = threading.Lock()

    @property
    def host(self) -> str:
        return self.postbox.host

    @property
    def root(self) -> Path:
        """This host's folder (no board files in it: those live on the owner)."""
        return self.workspace

    # -- the message loop -------------------------------------------------------------------

    def _on(self, got: Received) -> Outcome | None:
        env = got.env
        if env.sender != self.owner:
            raise MessageRejected(env.id, f"only the owner {self.owner} talks to a RemoteBoard")
        if env.reply_to is not None and env.kind in ("reply", "assignment"):
            self._answers[env.reply_to] = got
            return Outcome("answer", f"{env.kind} to {env.reply_to}")
        self._changed = True
        if env.kind == "assignment" and env.task:
            meta = got.parsed.meta
            task, lease = task_from_dict(meta["task"]), lease_from_dict(meta["lease"])
            self._assigned[env.task] = (task, lease)
            return Outcome("assigned", f"{env.task} fence {lease.fence}")
        if env.kind == "cancel" and env.task:
            self._assigned.pop(env.task, None)
            self.cancelled.add(env.task)
            return Outcome("cancel", f"{env.task}: {got.parsed.text}")
        return Outcome("ignore", env.kind)

    def _mine(self, name: str) -> bool:
        """Whether this process takes the inbox file `name`: an answer to one of its own
        requests, or (the host's reader only) anything that is no answer."""
        stem = name.removesuffix(".json")
        for kind in ("reply", "assignment"):
            prefix = messages.answer_id(self.owner, "", kind)
            if stem.startswith(prefix):
                return stem[len(prefix) :] in self._waiting
        return self.reader

    def pump(self) -> int:
        """Handle what is in the inbox for this process (syncing the transport now and then)."""
        with self._pump_lock:
            now = time.monotonic()
            if now - self._last_sync >= self.sync_every:
                self._last_sync = now
                self.postbox.transport.sync()
            return self.postbox.process(self._on, only=self._mine)

    def _call(
        self,
        kind: Kind,
        build: Callable[[str], dict[str, Any]],
        *,
        task: str | None = None,
        fence: int | None = None,
        what: str = "",
    ) -> Received:
        started = time.monotonic()
        env = self.postbox.seal(self.owner, kind, build, task=task, fence=fence)
        self._waiting.add(env.id)
        try:
            self.postbox.post([env])  # the http transport raises OwnerUnreachable itself
            self._last_sync = 0.0  # the request must go out (git: push) before waiting
            self.postbox.transport.sync()
            deadline = started + self.timeout
            while True:
                self.pump()
                got = self._answers.pop(env.id, None)
                if got is not None:
                    return got
                if time.monotonic() >= deadline:
                    raise self._unreachable(started, f"{what or kind} {env.id}, task {task or '-'}")
                time.sleep(self.poll)
        finally:
            self._waiting.discard(env.id)

    def _unreachable(self, started: float, detail: str) -> OwnerUnreachable:
        return OwnerUnreachable(self.owner, self.transport_name, time.monotonic() - started, detail)

    def _value(self, got: Received) -> Any:
        data = got.parsed.data if isinstance(got.parsed.data, dict) else {}
        if not data.get("ok"):
            raise_remote_error(data.get("value") or data.get("error"))
        return data.get("value")

    def _request(
        self, op: str, *, task: str | None = None, fence: int | None = None, **args: Any
    ) -> Any:
        """Ask the owner for one of `owner.REQUESTS` and return its answer's value."""
        if task is not None:
            args["task"] = task
        got = self._call(
            "request", lambda m: messages.request(m, op, args), task=task, fence=fence, what=op
        )
        return self._value(got)

    # -- BoardClient ------------------------------------------------------------------------

    def snapshot(self) -> BoardState:
        """The owner's current state (one round trip); kept as this host's last snapshot."""
        value = self._request("snapshot")
        raw = orjson.dumps(value)
        state, _ = parse_snapshot(raw)
        self.context = state.sprint.id or "board"
        received = format_ts(self.postbox.clock.now())
        doc = orjson.dumps({"owner": self.owner, "received": received, "snapshot": value})
        cache = self.workspace / SNAPSHOT_CACHE
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, doc, durable=False)
        return state

    def cached_snapshot(self) -> CachedSnapshot | None:
        """The last snapshot the owner sent this host (None if none, or unreadable)."""
        try:
            doc = orjson.loads((self.workspace / SNAPSHOT_CACHE).read_bytes())
            state, _ = parse_snapshot(orjson.dumps(doc["snapshot"]))
            received = str(doc["received"])
            age = (self.postbox.clock.now() - parse_ts(received)).total_seconds()
        except (OSError, ValueError, KeyError, TypeError, SprintboardError):
            return None
        return CachedSnapshot(state, received, max(0.0, age))

    def ready(self, role: str | None = None, caps: Sequence[str] | None = None) -> list[Task]:
        """Tasks pushed to this host first, then what the owner says is claimable."""
        pushed = [t for t, _ in self._assigned.values() if role is None or t.role == role]
        args: dict[str, Any] = {"role": role, "caps": None if caps is None else list(caps)}
        return pushed + [task_from_dict(d) for d in self._request("ready", **args)]

    def next_up(
        self,
        agent: str | None = None,
        role: str | None = None,
        caps: Sequence[str] | None = None,
        *,
        host: str | None = None,
        limit: int | None = None,
    ) -> NextUp:
        """The owner's ranking for `agent` on this host (what `claim_next` would take).

        Raises:
            LeaseConflict: `host` is another host (a host asks only for itself).
        """
        self._only_here(host)
        value = self._request(
            "next_up",
            agent=agent,
            role=role,
            caps=None if caps is None else list(caps),
            limit=limit,
        )
        return messages.next_up_from_value(value)

    def _only_here(self, host: str | None, task: str = "board") -> None:
        if host is not None and host != self.host:
            raise LeaseConflict(task, f"a RemoteBoard on {self.host} acts only for {self.host}")

    def claim(self, task: str, agent: str, host: str, ttl: int) -> Lease:
        """Take a pushed assignment, or ask the owner for a lease; then accept it.

        Raises:
            LeaseConflict, WipLimitReached, UnknownTask: refused by the owner.
        """
        self._only_here(host, task)
        held = self._assigned.pop(task, None)
        if held is not None:
            lease = held[1]
        else:
            got = self._call(
                "request",
                lambda m: messages.request(m, "claim", {"task": task, "agent": agent, "ttl": ttl}),
                task=task,
                what="claim",
            )
            if got.env.kind != "assignment":
                self._value(got)
                raise BoardError(f"{task}: the owner answered a claim with {got.env.kind}")
            lease = lease_from_dict(got.parsed.meta["lease"])
        self._accept(task, lease, agent)
        return lease

    def _accept(self, task: str, lease: Lease, agent: str) -> None:
        ctx = self.context
        self.postbox.send(
            self.owner,
            "accept",
            lambda m: messages.accept(m, task, ctx, f"{agent}@{self.host}"),
            task=task,
            fence=lease.fence,
        )

    def claim_next(
        self,
        agent: str,
        role: str | None = None,
        caps: Sequence[str] | None = None,
        ttl: int = 900,
        *,
        host: str | None = None,
        by_worker: bool = False,
    ) -> Task | None:
        """Take a task pushed to `agent`, or ask the owner to pick and lease the best one
        for it on this host (the owner's one scheduling rule); then accept it.

        Returns None when nothing is claimable for `agent` here.
        """
        self._only_here(host)
        pushed = [tid for tid, (_, lease) in self._assigned.items() if lease.agent == agent]
        if pushed:
            task, lease = self._assigned.pop(pushed[0])
        else:
            args = {
                "agent": agent,
                "role": role,
                "caps": None if caps is None else list(caps),
                "ttl": ttl,
                "by_worker": by_worker,
            }
            got = self._call(
                "request", lambda m: messages.request(m, "claim_next", args), what="claim_next"
            )
            if got.env.kind != "assignment":
                if self._value(got) is None:
                    return None
                raise BoardError(f"the owner answered claim_next with {got.env.kind}")
            task = task_from_dict(got.parsed.meta["task"])
            lease = lease_from_dict(got.parsed.meta["lease"])
        self._accept(task.id, lease, agent)
        task.lease = lease
        return task

    def move(
        self,
        task: str,
        to: Status,
        actor: str,
        *,
        reason: str | None = None,
        force: bool = False,
        expected: Status | None = None,
        fence: int | None = None,
        key: str | None = None,
    ) -> Task:
        """Move a task this host holds (to blocked, with the reason) under its lease's fence.

        Raises:
            MessageRejected: any other move, or no live lease of this host with `fence`
                (the owner quarantines the request and says why).
        """
        if force:
            raise NotPermitted(actor, "task.move", task, "only a person forces a move")
        args = {
            "to": to,
            "reason": reason,
            "expected": expected,
            "key": key,
        }
        return task_from_dict(self._request("move", task=task, fence=fence, **args))

    def assign(
        self,
        task: str,
        agent: str,
        host: str | None = None,
        actor: str = "human:cli",
        *,
        reason: str | None = None,
        key: str | None = None,
    ) -> Task:
        """Refused: assignments are decisions, and only the owner host makes them.

        Raises:
            NotPermitted: always.
        """
        raise NotPermitted(
            actor,
            "task.update",
            task,
            f"a remote host writes no decisions; assign on the owner {self.owner}",
        )

    def heartbeat(self, task: str, fence: int) -> Lease:
        """Extend the lease.

        Raises:
            StaleFence: the lease was lost (expired, released or re-granted).
        """
        got = self._call(
            "heartbeat",
            lambda m: messages.heartbeat(m, task, self.context),
            task=task,
            fence=fence,
            what="heartbeat",
        )
        return lease_from_dict(self._value(got))

    def progress(self, task: str, fence: int, text: str) -> None:
        """Tell the owner how it goes (no answer awaited)."""
        ctx = self.context
        self.postbox.send(
            self.owner,
            "progress",
            lambda m: messages.progress(m, task, ctx, text),
            task=task,
            fence=fence,
        )

    def submit(
        self, task: str, fence: int, artifacts: Sequence[Artifact], metrics: Mapping[str, float]
    ) -> Task:
        """Send the result; artifact files go first, as blobs.

        Raises:
            StaleFence: the owner refused the token; nothing was recorded.
            BoardError: an artifact's file does not match its recorded sha256.
        """
        sent = []
        for art in artifacts:
            source = Path(art.path) if Path(art.path).is_absolute() else self.workspace / art.path
            stored = self.blobs.put(source, name=art.path)
            if art.sha256 and stored.sha256 != art.sha256:
                raise BoardError(f"{task}: {source} changed since it was recorded (sha256 differs)")
            self.postbox.transport.send_blob(stored.sha256, self.blobs.path(stored.sha256))
            sent.append(stored)
        got = self._call(
            "result",
            lambda m: messages.result(m, task, self.context, sent, metrics),
            task=task,
            fence=fence,
            what="result",
        )
        return task_from_dict(self._value(got))

    def release(self, task: str, fence: int, reason: str = "released") -> None:
        """Give the lease back; the task returns to ready.

        Raises:
            StaleFence: `fence` is not the current lease's (nothing changes).
        """
        self._request("release", task=task, fence=fence, reason=reason)

    def decline(self, task: str, fence: int, reason: str) -> None:
        """Refuse a pushed assignment without waiting: the owner turns the `decline` into a
        fenced release (a stale fence is refused there and logged in its ledger)."""
        ctx = self.context
        self.postbox.send(
            self.owner,
            "decline",
            lambda m: messages.decline(m, task, ctx, reason),
            task=task,
            fence=fence,
        )

    def task(self, task_id: str) -> TaskDocument:
        """The whole task as the owner's `show` has it (one round trip).

        Raises:
            UnknownTask, OwnerUnreachable.
        """
        return TaskDocument.model_validate(self._request("show", task=task_id))

    def note(self, task: str, text: str, agent: str, fence: int | None = None) -> Note:
        """A progress note on a task this host holds (the owner records it under the lease,
        as its holder; `agent` is that holder).

        Raises:
            MessageRejected: no live lease of this host with `fence` (quarantined there).
        """
        return Note(**self._request("note", task=task, fence=fence, text=text, agent=agent))

    def ask(self, task: str, question: str, agent: str, fence: int | None = None) -> Question:
        """Ask a person about a task this host holds; the lease is kept.

        Raises:
            MessageRejected: no live lease of this host with `fence`.
        """
        value = self._request("ask", task=task, fence=fence, text=question, agent=agent)
        return Question(**value)

    def answer(
        self, task: str, text: str, actor: str = "human:cli", question: str | None = None
    ) -> Question:
        """A person's answer typed on this host; the owner records it as
        `human:NAME@<this host>` (the host is who the owner can vouch for).

        Raises:
            BoardError: no open question (or not that one).
        """
        value = self._request("answer", task=task, text=text, actor=actor, question=question)
        return Question(**value)

    def apply(self, events: Sequence[EventDraft]) -> list[Event]:
        """Ask the owner to commit notes or metrics about tasks this host holds, each with
        its lease's fence (the ops a host may apply; a host writes no decisions).

        Raises:
            MessageRejected: an event outside those rules (the owner quarantines it).
        """
        raw = [
            {
                "op": e.op,
                "task": e.task,
                "fields": dict(e.fields),
                "actor": e.actor,
                "fence": e.fence,
            }
            for e in events
        ]
        return [event_from_dict(d) for d in self._request("apply", events=raw)]

    def wait_for_change(self, timeout: float) -> bool:
        """Handle the inbox until the owner pushes something, or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if self._changed:
                self._changed = False
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll)
