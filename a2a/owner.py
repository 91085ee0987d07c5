"""The owner side: turns verified messages from other hosts into `LocalBoard` calls.

Every board change made for a message carries event ids derived from the message id
(`<sender>:<message id>.<n>`), so handling the same message twice commits nothing new.
Results and heartbeats are fenced: a token that is not the current lease's is refused
(`StaleFence`) and nothing is recorded or promoted. A host can only act on leases held
by its own host (the sender is authenticated by the pair key).

A remote host writes about a task (metric, note, a block with its reason) only under its
own live lease and that lease's fence, and writes no decisions (DESIGN.md contract 11):
anything else is refused, the sender is told why, and the message goes to quarantine
with the reason.

A `request` names a board call; `REQUESTS` maps each name to the method that answers it
(a reply, or an assignment for a claim), so a new call a host may make is one entry there
and one method on `RemoteBoard`. The answer's id is derived from the request's
(`messages.answer_id`), so the asking process waits for exactly its own answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import orjson

from sprintboard.a2a import messages
from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.envelope import Envelope
from sprintboard.a2a.postbox import Outcome, Postbox, Received
from sprintboard.board import values
from sprintboard.board.client import EventDraft
from sprintboard.board.clock import format_ts, parse_ts
from sprintboard.board.codec import (
    decision_to_dict,
    event_to_dict,
    lease_to_dict,
    question_to_dict,
    task_to_dict,
)
from sprintboard.board.hosts import BEAT_EVERY_S
from sprintboard.board.journal import Head
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Event, Lease, Op, Question
from sprintboard.board.snapshot import render_snapshot
from sprintboard.board.state import open_question
from sprintboard.board.values import MAX_TTL, clean_line
from sprintboard.errors import (
    BoardError,
    InvalidValue,
    LeaseConflict,
    MessageRejected,
    SprintboardError,
    StaleFence,
)

__all__ = ["REMOTE_OPS", "REQUESTS", "OwnerHandler", "RequestHandler", "error_value"]

# Ops a remote host may `apply` itself, each under its own live lease and fence; status
# changes go through claim/result/decline (and `move` to blocked, under the lease too).
REMOTE_OPS = frozenset({"note.add", "metric.set"})
_SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}")


def _progress(
    task: str, context: str, text: str, data: Mapping[str, Any]
) -> Callable[[str], dict[str, Any]]:
    return lambda message_id: messages.progress(message_id, task, context, text, data)


def error_value(exc: SprintboardError) -> dict[str, Any]:
    """An error as a reply value `RemoteBoard` turns back into the same exception."""
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    for attr in (
        "task",
        "given",
        "current",
        "reason",
        "scope",
        "limit",
        "message_id",
        "actor",
        "op",
    ):
        if hasattr(exc, attr):
            out[attr] = getattr(exc, attr)
    return out


class OwnerHandler:
    """The `Handler` the owner's daemon runs; also pushes assignments (`assign`)."""

    def __init__(
        self,
        board: LocalBoard,
        postbox: Postbox,
        blobs: BlobStore,
        *,
        workspace: Path,
        agent_hosts: Mapping[str, str] | None = None,
        default_ttl: int = 900,
    ) -> None:
        self.board = board
        self.postbox = postbox
        self.blobs = blobs
        self.workspace = Path(workspace)
        self.agent_hosts = dict(agent_hosts or {})
        self.default_ttl = default_ttl
        self._told_seq = board.snapshot().seq
        """Journal seq up to which answers were pushed to the asking hosts."""

    @property
    def context(self) -> str:
        return self.board.snapshot().sprint.id or "board"

    # -- pushing ----------------------------------------------------------------------------

    def assign(self, task: str, agent: str, host: str, ttl: int | None = None) -> Lease:
        """Lease `task` to `agent`@`host` and push the assignment to the host's inbox."""
        lease = self.board.claim(task, agent=agent, host=host, ttl=ttl or self.default_ttl)
        self._send_assignment(host, task, lease, reply_to=None)
        return lease

    def _send_assignment(self, host: str, task: str, lease: Lease, reply_to: str | None) -> None:
        current = self.board.snapshot().task(task)
        mid = messages.answer_id(self.postbox.host, reply_to, "assignment") if reply_to else None
        self.postbox.send(
            host,
            "assignment",
            lambda m: messages.assignment(m, current, lease, self.context),
            task=task,
            fence=lease.fence,
            reply_to=reply_to,
            message_id=mid,
        )

    def push_answers(self) -> int:
        """Tell each host whose agent holds a task that a person answered a question about
        it (a `progress` message with the answer), so its runner wakes now rather than at
        its next tick; the answer itself is read with `show`. Returns how many were sent."""
        state = self.board.snapshot()
        if state.seq == self._told_seq:
            return 0
        sent = 0
        for event in self.board.events(self._told_seq):
            task = state.tasks.get(event.task or "")
            lease = task.lease if task is not None else None
            if event.op != "question.answer" or lease is None or lease.host == self.postbox.host:
                continue
            text = clean_line(f"answered by {event.actor}: {event.fields.get('text', '')}")
            data = {"question": str(event.fields["question"])}
            self.postbox.send(
                lease.host,
                "progress",
                _progress(event.task or "", self.context, text, data),
                task=event.task,
                fence=lease.fence,
            )
            sent += 1
        self._told_seq = state.seq
        return sent

    def _reply(self, env: Envelope, value: Any = None, exc: SprintboardError | None = None) -> None:
        self.postbox.send(
            env.sender,
            "reply",
            lambda m: (
                messages.reply(m, True, value)
                if exc is None
                else messages.reply(m, False, error_value(exc), str(exc))
            ),
            task=env.task,
            reply_to=env.id,
            message_id=messages.answer_id(self.postbox.host, env.id, "reply"),
        )

    # -- handling ---------------------------------------------------------------------------

    def __call__(self, got: Received) -> Outcome | None:
        env = got.env
        try:
            return self._dispatch(got)
        except BoardError as exc:  # refused: the sender hears why; a MessageRejected quarantines
            if env.kind in ("request", "heartbeat", "result"):
                self._reply(env, exc=exc)
            return Outcome("refuse", str(exc))

    def _dispatch(self, got: Received) -> Outcome | None:
        env, parsed = got.env, got.parsed
        kind = env.kind
        if kind == "request":
            return self._request(env, parsed.data or {})
        if kind == "accept":
            return Outcome("accept", f"{env.task} accepted: {parsed.text}")
        if kind == "progress":
            return Outcome("progress", f"{env.task}: {parsed.text}")
        if kind == "heartbeat":
            lease = self._heartbeat(env)
            self._reply(env, lease_to_dict(lease))
            return Outcome("heartbeat", f"{env.task} fence {env.fence} until {lease.expires}")
        if kind == "decline":
            self._release(env, clean_line(f"declined by {env.sender}: {parsed.text}"))
            return Outcome("decline", f"{env.task}: {clean_line(parsed.text)}")
        if kind == "handoff":
            data = parsed.data if isinstance(parsed.data, Mapping) else {}
            self._release(env, clean_line(f"handed off by {env.sender}: {data.get('reason', '')}"))
            return Outcome(
                "handoff", f"{env.task} -> {self._hand_to(env, str(data.get('to') or ''))}"
            )
        if kind == "result":
            return self._result(env, parsed)
        return Outcome("ignore", f"{kind} is not for the owner")

    def _hand_to(self, env: Envelope, host: str) -> str:
        """Push the released task to the named host's agent for its role, if it can take it."""
        task = self.board.snapshot().task(env.task or "")
        agents = [
            a
            for a, h in self.agent_hosts.items()
            if h == host
            and host != env.sender
            and self.board.policy.agent_roles.get(a) == task.role
        ]
        if not agents:
            return f"{host or 'any host'} (back to ready)"
        try:
            lease = self.assign(task.id, agents[0], host)
        except BoardError as exc:
            return f"{host} refused ({exc}); back to ready"
        return f"{agents[0]}@{host} fence {lease.fence}"

    def _lease_of_sender(self, env: Envelope) -> Lease:
        if env.task is None or env.fence is None:
            raise MessageRejected(env.id, f"malformed: a {env.kind} needs task and fence")
        task = self.board.snapshot().task(env.task)
        lease = task.lease
        if lease is None or lease.fence != env.fence:
            raise StaleFence(env.task, env.fence, lease.fence if lease else None)
        if lease.host != env.sender:
            raise LeaseConflict(env.task, f"is leased to {lease.host}, not {env.sender}")
        return lease

    def _heartbeat(self, env: Envelope) -> Lease:
        lease = self._lease_of_sender(env)
        assert env.task is not None
        expires = format_ts(self.board.clock.now() + timedelta(seconds=lease.ttl))
        self.board.apply(
            [
                EventDraft(
                    "lease.heartbeat",
                    env.task,
                    {"expires": expires},
                    f"{lease.agent}@{lease.host}",
                    env.fence,
                    id=f"{env.sender}:{env.id}",
                )
            ]
        )
        current = self.board.snapshot().task(env.task).lease
        assert current is not None
        return current

    def _release(self, env: Envelope, reason: str) -> None:
        lease = self._lease_of_sender(env)
        self.board.apply(
            [
                EventDraft(
                    "lease.release",
                    env.task,
                    {"reason": reason},
                    f"{lease.agent}@{lease.host}",
                    env.fence,
                    id=f"{env.sender}:{env.id}",
                )
            ]
        )

    def _result(self, env: Envelope, parsed: messages.Parsed) -> Outcome:
        task_id = env.task or ""
        state = self.board.snapshot()
        try:
            self._lease_of_sender(env)
            already = False
        except StaleFence:
            # handled before a crash (the move is committed), or really stale: refuse
            already = self._committed(f"{env.sender}:{env.id}.0", state.seq)
            if not already:
                raise
        task = state.task(task_id)
        lease = task.lease
        actor = f"{lease.agent}@{lease.host}" if lease else f"unknown@{env.sender}"
        arts = self._arrived_artifacts(parsed, task_id, task.attempt)
        sent = parsed.meta.get("metrics") or {}
        if not isinstance(sent, Mapping):
            raise InvalidValue("metrics", sent, "must be an object of NAME: NUMBER", task_id)
        metrics = values.metrics(sent, task_id)
        drafts = [
            EventDraft(
                "artifact.add",
                task_id,
                {"path": path, "sha256": sha, "size": size},
                actor,
                env.fence,
                id=f"{env.sender}:{env.id}.a{i}",
            )
            for i, (sha, size, path) in enumerate(arts)
        ]
        drafts += [
            EventDraft(
                "metric.set",
                task_id,
                {"name": k, "value": v},
                actor,
                env.fence,
                id=f"{env.sender}:{env.id}.m{i}",
            )
            for i, (k, v) in enumerate(sorted(metrics.items()))
        ]
        drafts.append(
            EventDraft(
                "task.move",
                task_id,
                {"to": "awaiting_test", "reason": f"result from {env.sender}"},
                actor,
                env.fence,
                id=f"{env.sender}:{env.id}.0",
            )
        )
        if not already:
            self.board.apply(drafts)  # StaleFence here refuses all of it
        for sha, size, path in arts:  # promoted only once the fenced result is committed
            self.blobs.promote(sha, size, self.workspace / path)
        self._reply(env, task_to_dict(self.board.snapshot().task(task_id)))
        return Outcome("complete", f"{task_id} fence {env.fence}: {len(arts)} artifact(s)")

    def _arrived_artifacts(
        self, parsed: messages.Parsed, task_id: str, attempt: int
    ) -> list[tuple[str, int, str]]:
        """(sha256, size, workspace path) of each artifact the result names, every blob
        checked as arrived and whole; the path is `runs/TASK/ATTEMPT/NAME`.

        Raises:
            BoardError: a blob not arrived yet or damaged (the sender sends both again).
        """
        arts = []
        for sha, size, name in messages.artifact_refs(parsed):
            self.blobs.path(sha)  # a name that is no sha256 (a path trick) quarantines
            try:
                self.blobs.verify(sha, size)
            except MessageRejected as exc:  # not arrived yet, or damaged: refuse, resend later
                raise BoardError(
                    f"{task_id}: {exc.reason}; send the blob and the result again"
                ) from None
            base = Path(name).name
            base = base if _SAFE_FILE.fullmatch(base) else sha[:16]
            arts.append((sha, size, f"runs/{task_id}/{attempt}/{base}"))
        return arts

    def _committed(self, event_id: str, seq: int) -> bool:
        return any(e.id == event_id for e in self.board.events(max(0, seq - 1000)))

    def _request(self, env: Envelope, data: Mapping[str, Any]) -> Outcome:
        op = str(data.get("op", ""))
        handle = REQUESTS.get(op)
        if handle is None:
            raise MessageRejected(env.id, f"malformed: unknown request op {op[:40]!r}")
        return handle(self, env, dict(data.get("args") or {}))

    # -- the requests a host may make (REQUESTS) --------------------------------------------

    def _snapshot(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        state = self.board.snapshot()
        self._reply(env, orjson.loads(render_snapshot(state, Head(state.seq, state.head))))
        return Outcome("snapshot", f"seq {state.seq}")

    def _ready(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        caps = args.get("caps")
        tasks = self.board.ready(args.get("role"), None if caps is None else list(caps))
        self._reply(env, [task_to_dict(t) for t in tasks])
        return Outcome("ready", f"{len(tasks)} task(s)")

    def _next_up(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        agent, role, caps, limit = (
            args.get("agent"),
            args.get("role"),
            args.get("caps"),
            args.get("limit"),
        )
        got = self.board.next_up(
            None if agent is None else values.name(agent, "agent"),
            None if role is None else values.host(role, "role"),
            None if caps is None else [values.host(c, "capability") for c in caps],
            host=env.sender if agent is not None else None,  # a host asks for its own agents
            limit=None if limit is None else values.integer(limit, "limit", 1, 10_000),
        )
        self._reply(env, messages.next_up_value(got))
        return Outcome("next_up", f"{len(got.tasks)} task(s) for {agent or 'a builder'}")

    def _release_lease(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        reason = clean_line(f"released by {env.sender}: {args.get('reason') or 'released'}")
        self._release(env, reason)
        self._reply(env, None)
        return Outcome("release", f"{env.task} fence {env.fence}")

    def _apply(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        try:
            events = self._remote_drafts(env, args.get("events") or [])
        except MessageRejected as exc:  # the sender hears why; the message is quarantined
            self._reply(env, exc=exc)
            raise
        applied = self.board.apply(events)
        self._reply(env, [event_to_dict(e) for e in applied])
        return Outcome("apply", f"{len(applied)} event(s)")

    def _claim(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        # Whether this agent may claim from this host is the board's rule (authority).
        task_id, agent = str(args.get("task", "")), str(args.get("agent", ""))
        sent = args.get("ttl")
        ttl = self.default_ttl if sent is None else values.integer(sent, "ttl", 1, MAX_TTL)
        lease = self.board.claim(task_id, agent=agent, host=env.sender, ttl=ttl)
        self._send_assignment(env.sender, task_id, lease, reply_to=env.id)
        return Outcome("delegate", f"{task_id} -> {agent}@{env.sender} fence {lease.fence}")

    def _claim_next(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        agent = str(args.get("agent", ""))
        caps = args.get("caps")
        task = self.board.claim_next(
            agent,
            args.get("role"),
            None if caps is None else [str(c) for c in caps],
            int(args.get("ttl") or self.default_ttl),
            host=env.sender,
            by_worker=bool(args.get("by_worker")),
        )
        if task is None or task.lease is None:
            self._reply(env, None)
            return Outcome("claim_next", f"nothing for {agent}@{env.sender}")
        self._send_assignment(env.sender, task.id, task.lease, reply_to=env.id)
        return Outcome("delegate", f"{task.id} -> {agent}@{env.sender} fence {task.lease.fence}")

    def _move(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        task_id, to = str(args.get("task", "")), str(args.get("to", ""))
        lease = self._live_lease_of(env, task_id, env.fence)
        if to != "blocked":
            self._refuse(
                env,
                task_id,
                f"a remote host moves its leased task only to blocked (with the reason), not "
                f"to {to!r}; send a result for review, or decline to give it back",
            )
        key = f"{env.sender}:{args.get('key') or env.id}"
        task = self.board.move(
            task_id,
            "blocked",
            f"{lease.agent}@{lease.host}",
            reason=str(args.get("reason") or f"blocked on {env.sender}"),
            expected=args.get("expected"),
            fence=lease.fence,
            key=key,
        )
        self._reply(env, task_to_dict(task))
        return Outcome("move", f"{task_id} -> blocked by {lease.agent}@{lease.host}")

    def _refuse(self, env: Envelope, task: str, reason: str) -> NoReturn:
        """Tell the sender why, then quarantine the message (a write it may not make)."""
        exc = MessageRejected(env.id, clean_line(f"{task}: {reason}"))  # a peer's id: one line
        self._reply(env, exc=exc)
        raise exc

    def _live_lease_of(self, env: Envelope, task_id: str, fence: int | None) -> Lease:
        """The sender's own live lease on `task_id`, held with `fence`; else quarantined."""
        task = self.board.snapshot().tasks.get(task_id)
        lease = task.lease if task is not None else None
        if task is None:
            self._refuse(
                env, task_id or "?", "no such task; a remote host writes only about a task it holds"
            )
        if lease is None or lease.host != env.sender:
            holder = f"leased to {lease.agent}@{lease.host}" if lease else "not leased"
            self._refuse(
                env,
                task_id,
                f"is {holder}; {env.sender} writes about a task only under its own lease "
                "(claim it first)",
            )
        if fence != lease.fence:
            self._refuse(
                env, task_id, f"fence {fence} is not the lease's ({lease.fence}); claim it again"
            )
        if parse_ts(lease.expires) <= self.board.clock.now():
            self._refuse(env, task_id, f"the lease expired at {lease.expires}; claim it again")
        return lease

    def _remote_drafts(self, env: Envelope, raw: list[Any]) -> list[EventDraft]:
        drafts = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise MessageRejected(env.id, "malformed: an event must be an object")
            op, task = item.get("op"), str(item.get("task") or "")
            if op == "host.heartbeat":
                beat = self._host_beat(env, item, i)
                drafts += [beat] if beat is not None else []
                continue
            if op not in REMOTE_OPS:
                self._refuse(
                    env,
                    task or "?",
                    f"a remote host may apply only {', '.join(sorted(REMOTE_OPS))} (and writes no "
                    f"decisions), not {op!r}",
                )
            fence = item.get("fence")
            lease = self._live_lease_of(env, task, fence if isinstance(fence, int) else None)
            fields = item.get("fields") or {}
            if not isinstance(fields, Mapping):
                raise InvalidValue("fields", fields, "must be an object", task or None)
            drafts.append(
                EventDraft(
                    op,
                    task,
                    dict(fields),
                    f"{lease.agent}@{lease.host}",  # the lease holder: a host speaks for itself
                    lease.fence,
                    id=f"{env.sender}:{env.id}.{i}",
                )
            )
        return drafts

    def _host_beat(self, env: Envelope, item: Mapping[str, Any], i: int) -> EventDraft | None:
        """A host's own heartbeat (board/hosts.py): about the sender only, by one of its
        configured agents (authority checks the agent); None when it beat a moment ago."""
        fields = item.get("fields")
        actor = str(item.get("actor") or "")
        if not isinstance(fields, Mapping) or fields.get("host") != env.sender:
            raise MessageRejected(env.id, "malformed: a host heartbeats only for itself")
        if item.get("task") is not None or not actor.endswith(f"@{env.sender}"):
            raise MessageRejected(env.id, "malformed: a host heartbeat names no task")
        seen = self.board.snapshot().hosts_seen.get(env.sender)
        now = self.board.clock.now()
        if seen is not None and (now - parse_ts(seen)).total_seconds() < BEAT_EVERY_S / 2:
            return None  # one line per beat period is enough to route by
        return EventDraft(
            "host.heartbeat", None, {"host": env.sender}, actor, id=f"{env.sender}:{env.id}.{i}"
        )

    # -- the whole task and the conversation about it (issue 19) ----------------------------

    def _show(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        task_id = values.task_id(args.get("task"))
        doc = self.board.task(task_id)
        self._reply(env, doc.model_dump(mode="json"))
        return Outcome("show", task_id)

    def _note(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        return self._say(env, args, "note.add")

    def _ask(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        return self._say(env, args, "question.ask")

    def _say(self, env: Envelope, args: Mapping[str, Any], op: Op) -> Outcome:
        """A note or a question about a task, written as its lease holder (only under the
        sender's own live lease and fence), once per message."""
        task_id = str(args.get("task", ""))
        lease = self._live_lease_of(env, task_id, env.fence)
        key = f"{env.sender}:{env.id}.0"
        draft = EventDraft(
            op,
            task_id,
            {"text": values.text(args.get("text"), op.split(".")[0], empty=False)},
            f"{lease.agent}@{lease.host}",  # the lease holder: a host speaks for itself
            lease.fence,
            id=key,
        )
        # handled before (at-least-once delivery): the first time's event is the answer
        committed = self.board.apply([draft]) or self._already(env)
        event = next(e for e in committed if e.id == key)
        state = self.board.snapshot()
        said = state.questions if op == "question.ask" else state.notes
        item = next(x for x in said if x.id == event.id)
        value = question_to_dict(item) if isinstance(item, Question) else decision_to_dict(item)
        self._reply(env, value)
        return Outcome(op.split(".")[0], f"{task_id} by {lease.agent}@{lease.host}")

    def _already(self, env: Envelope) -> list[Event]:
        """The events a message committed before (handled twice: at-least-once delivery)."""
        mine = f"{env.sender}:{env.id}."
        seq = self.board.snapshot().seq
        return [e for e in self.board.events(max(0, seq - 1000)) if e.id.startswith(mine)]

    def _answer(self, env: Envelope, args: Mapping[str, Any]) -> Outcome:
        """A person's answer typed on another host: recorded as `human:NAME@HOST`, the host
        being the authenticated sender (the name is the person's own word)."""
        task_id = values.task_id(args.get("task"))
        who = str(args.get("actor") or "human:unknown").removeprefix("human:").split("@")[0]
        actor = values.actor(f"human:{who}@{env.sender}")
        question = args.get("question")
        key = f"{env.sender}:{env.id}.0"
        done = self._already(env)
        if done:
            asked = str(done[0].fields["question"])
        else:
            asked = open_question(
                self.board.snapshot(), task_id, None if question is None else str(question)
            ).id
            self.board.apply(
                [
                    EventDraft(
                        "question.answer",
                        task_id,
                        {
                            "text": values.text(args.get("text"), "answer", empty=False),
                            "question": asked,
                        },
                        actor,
                        id=key,
                    )
                ]
            )
        q = next(q for q in self.board.snapshot().questions if q.id == asked)
        self._reply(env, question_to_dict(q))
        return Outcome("answer", f"{task_id} question {asked} by {actor}")


RequestHandler = Callable[[OwnerHandler, Envelope, Mapping[str, Any]], Outcome]

REQUESTS: dict[str, RequestHandler] = {
    "snapshot": OwnerHandler._snapshot,
    "ready": OwnerHandler._ready,
    "next_up": OwnerHandler._next_up,
    "claim": OwnerHandler._claim,
    "claim_next": OwnerHandler._claim_next,
    "release": OwnerHandler._release_lease,
    "move": OwnerHandler._move,
    "apply": OwnerHandler._apply,
    "show": OwnerHandler._show,
    "note": OwnerHandler._note,
    "ask": OwnerHandler._ask,
    "answer": OwnerHandler._answer,
}
"""The board calls a host may ask of the owner, by name. Each answers with a reply (or an
assignment, for a claim); a write about a task is made only under the sender's own live
lease and fence (`_live_lease_of`): `note` and `ask` too. `show` is the whole task; `answer` is a
person's, typed on the sending host."""
