"""A host's post office: seals and sends envelopes, and handles its inbox safely.

Handling one inbox message: claim (rename into `cur/`), read (hostile entries refused),
decode, verify (recipient, key, signature, payload hash, expiry with skew), refuse a
replayed id, parse the payload with the A2A SDK, call the handler, remember the id,
write the ledger, archive. Any refusal moves the file to `quarantine/` with its reason
and changes nothing else. Ids are remembered in a group (one fsync per batch) before
the batch is archived, so a crash in between only means the batch is handled again,
which the handlers make a no-op (they are idempotent by message id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sprintboard.a2a.envelope import Envelope, Kind, decode, encode, file_name, seal, verify
from sprintboard.a2a.keys import KeyRing
from sprintboard.a2a.ledger import Ledger, LedgerLine
from sprintboard.a2a.messages import Parsed, parse
from sprintboard.a2a.seen import SeenIds
from sprintboard.a2a.transport import Transport
from sprintboard.board.clock import Clock, IdSource, SystemClock, UlidIds, format_ts
from sprintboard.errors import MessageRejected, SprintboardError

__all__ = ["Handler", "Outcome", "Postbox", "Received"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    """A verified message: the envelope and its parsed A2A payload."""

    env: Envelope
    parsed: Parsed


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler did, for the ledger (`action` like accept, complete, refuse)."""

    action: str
    context: str = ""


Handler = Callable[[Received], Outcome | None]


@dataclass(slots=True)
class Postbox:
    """Send and receive for one host over one transport.

    ```python
    box = Postbox("beta", DirTransport(ws / ".a2a"), KeyRing(keys), seen=SeenIds(path))
    box.send("alpha", "heartbeat", lambda mid: messages.heartbeat(mid, "T2", "S1"), fence=3)
    box.process(handler)
    ```
    """

    host: str
    transport: Transport
    keys: KeyRing
    seen: SeenIds
    ledger: Ledger | None = None
    clock: Clock = field(default_factory=SystemClock)
    ids: IdSource | None = None
    ttl: float = 3600.0
    """Seconds a sent message stays valid."""
    max_skew: float = 600.0
    """Seconds of clock difference tolerated between hosts."""

    _since_prune: int = 0

    def __post_init__(self) -> None:
        if self.ids is None:
            self.ids = UlidIds(self.clock)
        self.transport.inbox(self.host)  # a fresh shared folder gets this host's Maildir now

    def new_id(self) -> str:
        """A fresh message id: `<host>-<ulid>`."""
        assert self.ids is not None
        return f"{self.host}-{self.ids.new_id()}"

    def seal(
        self,
        recipient: str,
        kind: Kind,
        build: Callable[[str], dict[str, object]],
        *,
        task: str | None = None,
        fence: int | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
    ) -> Envelope:
        """Build and sign an envelope; `build(message_id)` returns the A2A payload.

        Raises:
            MessageRejected: this host holds no key for `recipient`.
        """
        mid = message_id or self.new_id()
        key = self.keys.key(self.host, recipient)
        if key is None:
            raise MessageRejected(
                mid, f"no key for {self.host}/{recipient}; run `sprintboard a2a keygen`/`pair`"
            )
        now = self.clock.now()
        env = Envelope(
            id=mid,
            sender=self.host,
            recipient=recipient,
            kind=kind,
            ts=format_ts(now),
            expires=format_ts(now + timedelta(seconds=self.ttl)),
            payload=build(mid),
            task=task,
            fence=fence,
            reply_to=reply_to,
        )
        return seal(env, key)

    def post(self, envelopes: Sequence[Envelope]) -> None:
        """Send sealed envelopes, grouped per recipient (one directory fsync per group)."""
        by_host: dict[str, list[tuple[str, bytes]]] = {}
        for env in envelopes:
            by_host.setdefault(env.recipient, []).append((file_name(env), encode(env)))
        for recipient, items in by_host.items():
            self.transport.send(recipient, items)
        for env in envelopes:
            self._log(env.kind if env.kind != "reply" else "answer", env.recipient, "sent", env)

    def send(
        self,
        recipient: str,
        kind: Kind,
        build: Callable[[str], dict[str, object]],
        **kwargs: object,
    ) -> Envelope:
        """Seal and send one message; returns the envelope."""
        env = self.seal(recipient, kind, build, **kwargs)  # type: ignore[arg-type]
        self.post([env])
        return env

    def _log(self, action: str, target: str, context: str, env: Envelope) -> None:
        if self.ledger is not None:
            self.ledger.append(
                LedgerLine(
                    ts=format_ts(self.clock.now()),
                    agent=self.host,
                    action=action,
                    target=target,
                    context=context[:300],
                    ref=env.task or env.id,
                )
            )

    def _quarantine(self, name: str, reason: str) -> None:
        inbox = self.transport.inbox(self.host)
        inbox.quarantine(name, reason)
        log.warning("%s: quarantined %s: %s", self.host, name, reason)
        if self.ledger is not None:
            self.ledger.append(
                LedgerLine(format_ts(self.clock.now()), self.host, "quarantine", "", reason, name)
            )

    def _check(self, data: bytes, name: str, now: datetime) -> Received:
        env = decode(data, label=name)
        if name != file_name(env):
            raise MessageRejected(env.id, f"file name {name!r} does not match the message id")
        verify(
            env,
            self.keys.key(env.sender, self.host),
            me=self.host,
            now=now,
            max_skew=self.max_skew,
        )
        return Received(env, parse(env.kind, env.payload, env.id))

    def _handle(self, handler: Handler, got: Received, name: str) -> tuple[bool, Outcome | None]:
        """The handler's outcome (a board refusal is one); (False, None) when the message
        went to quarantine instead."""
        try:
            return True, handler(got)
        except MessageRejected as exc:
            self._quarantine(name, exc.reason)
            return False, None
        except SprintboardError as exc:
            return True, Outcome("refuse", str(exc))
        except OSError:
            raise  # disk trouble: the file stays in cur/ and is handled on the next pass
        except Exception as exc:  # a poison message must not stop the queue behind it
            log.exception("%s: handler failed on %s", self.host, name)
            self._quarantine(name, f"handler error: {exc!r}")
            return False, None

    def process(
        self,
        handler: Handler,
        limit: int | None = None,
        *,
        only: Callable[[str], bool] | None = None,
    ) -> int:
        """Handle what is in the inbox (left-overs from a crash first); returns how many.

        `only` picks the file names this process takes (the others stay for the process
        they belong to: several processes of one host share its inbox)."""
        inbox = self.transport.inbox(self.host)
        done: list[str] = []
        handled = 0
        now = self.clock.now()
        batch = [(n, True) for n in inbox.left_over()] + [(n, False) for n in inbox.pending()]
        if only is not None:
            batch = [(n, recovering) for n, recovering in batch if only(n)]
        if limit is not None:
            batch = batch[:limit]
        for name, recovering in batch:
            if not recovering and not inbox.claim(name):
                continue  # another reader took it
            try:
                got = self._check(inbox.read(name), name, now)
            except MessageRejected as exc:
                self._quarantine(name, exc.reason)
                continue
            except OSError as exc:
                self._quarantine(name, f"unreadable: {exc}")
                continue
            env = got.env
            if env.id in self.seen:
                if recovering:
                    done.append(name)  # handled before a crash; only the archive was missing
                else:
                    self._quarantine(name, f"replayed id {env.id} (already handled)")
                continue
            handled_ok, outcome = self._handle(handler, got, name)
            if not handled_ok:
                continue
            self.seen.add(env.id, env.expires_at + timedelta(seconds=self.max_skew))
            if outcome is not None:
                self._log(outcome.action, env.sender, outcome.context, env)
            done.append(name)
            handled += 1
        self.seen.flush()  # group commit: ids are durable before their files leave cur/
        for name in done:
            inbox.archive(name)
        self._since_prune += handled
        if self._since_prune >= 1000:
            self._since_prune = 0
            self.seen.prune(now)  # ids past expiry + skew: the expiry check refuses those
        return handled
