"""Notifications: tell people when the board needs them, from the journal, once per event.

`[notify]` in sprintboard.toml names a `command` (an argv) and/or a `webhook` (a URL). The
owner's long-running processes (`sprintboard a2a serve`, `sprintboard agents run`) fire
them; an flock in `.sprintboard/` makes exactly one of them the notifier at a time.

What is notified (`KINDS`), judged per journal event against the state before and after it:

- `question`: a question was asked (`question.ask`, issue 19's op: matched by name);
- `needs_person`: a task moved to `needs_manual` (criteria only a person can check);
- `blocked`: a task moved to `blocked` with a reason;
- `lease_expired`: an agent's lease ran out (`lease.expire`);
- `sprint_done`: every task of the board is done or cancelled, or the sprint was closed;
- `worker_paused`: a builder's worker paused itself (`decision.add` naming it in `paused`:
  an LLM provider refused the key or the bill, with the provider's message).

Each notice is one JSON document (`Notice`, its `id` = `<event id>:<kind>`): piped to the
command's stdin, or POSTed to the webhook (with an `Idempotency-Key` header = the id).

Once per event, across restarts: the notifier folds the journal from a cursor (the last
seq it has read) and keeps what is still to send, both in `.sprintboard/notify.json`,
rewritten atomically: new notices and the cursor move together, and a delivered notice
leaves the file as soon as it is delivered. A restart therefore loses none and resends
none, except one delivered in the instant before the file was rewritten (a receiver can
drop that by its id). A failed delivery is logged and retried with backoff (1 s doubling
to 5 min) up to `max_attempts`, then given up with an error in the log; the board never
waits for it (the notifier runs in its own thread and only reads the journal).

The command comes from the owner's own sprintboard.toml, like `[auditor] allow_commands`:
it is trusted as the owner's choice. It runs as an argv, never through a shell, with a
small environment (PATH, HOME, LANG and the notice's kind, id and task), in the workspace.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sprintboard.board.codec import event_to_dict
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import FINISHED_STATUSES, Event
from sprintboard.board.state import BoardState, reduce
from sprintboard.config import NotifyConfig, load_config
from sprintboard.errors import NotifyFailed, SprintboardError
from sprintboard.files import atomic_write
from sprintboard.workspace import open_board

__all__ = [
    "KINDS",
    "CommandTarget",
    "Notice",
    "Notifier",
    "Target",
    "WebhookTarget",
    "notices",
    "running",
    "targets",
]

log = logging.getLogger(__name__)

Kind = Literal[
    "question", "needs_person", "blocked", "lease_expired", "sprint_done", "worker_paused"
]
KINDS: tuple[Kind, ...] = (
    "question", "needs_person", "blocked", "lease_expired", "sprint_done", "worker_paused"
)  # fmt: skip
STATE_FILE = Path(".sprintboard") / "notify.json"
LOCK_FILE = Path(".sprintboard") / "notify.lock"
_MAX_DELAY = 300.0
QUESTION_OPS: frozenset[str] = frozenset({"question.ask"})
"""Matched by name: the op comes with issue 19 (questions on the board)."""


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskBrief(_Doc):
    """The task a notice is about, as it was right after the event."""

    id: str
    title: str
    status: str
    blocked_reason: str | None
    agent: str | None
    host: str | None


class Notice(_Doc):
    """One notification, as the command reads it on stdin and the webhook gets it."""

    version: int = 1
    id: str
    """`<event id>:<kind>`: the same for a resend, so a receiver can drop a duplicate."""
    kind: Kind
    text: str
    """One line for a person."""
    board: str
    sprint: str | None
    seq: int
    ts: str
    actor: str
    task: TaskBrief | None
    event: dict[str, Any]
    """The journal event, as `sprintboard log --json` shows events."""


def _finished(state: BoardState) -> bool:
    if state.sprint.status == "closed":
        return True
    tasks = state.tasks.values()
    return bool(tasks) and all(t.status in FINISHED_STATUSES for t in tasks)


def notices(
    before: BoardState, event: Event, after: BoardState, board: str = "sprintboard"
) -> list[Notice]:
    """What `event` is worth telling people, given the state `before` and `after` it."""
    return _classify(_Before.of(before, event), event, after, board)


class _Before:
    """The two facts about the state before an event that the rules need."""

    __slots__ = ("finished", "status")

    def __init__(self, status: str | None, finished: bool) -> None:
        self.status, self.finished = status, finished

    @classmethod
    def of(cls, state: BoardState, event: Event) -> _Before:
        task = state.tasks.get(event.task or "")
        return cls(task.status if task else None, _finished(state))


def _classify(before: _Before, event: Event, after: BoardState, board: str) -> list[Notice]:
    task = after.tasks.get(event.task or "")
    brief = (
        None
        if task is None
        else TaskBrief(
            id=task.id,
            title=task.title,
            status=task.status,
            blocked_reason=task.blocked_reason,
            agent=task.agent,
            host=task.host,
        )
    )
    name = f"{task.id} ({task.title})" if task else (event.task or "the board")
    found: list[tuple[Kind, str]] = []
    if event.op in QUESTION_OPS:
        found.append(("question", f"{name}: {event.actor} asks: {event.fields.get('text', '')}"))
    moved = task is not None and task.status != before.status
    if moved and task is not None and task.status == "needs_manual":
        found.append(("needs_person", f"{name} waits for a person to check its criteria"))
    if moved and task is not None and task.status == "blocked" and task.blocked_reason:
        found.append(("blocked", f"{name} is blocked: {task.blocked_reason}"))
    if event.op == "lease.expire":
        why = event.fields.get("reason") or "the lease expired"
        found.append(("lease_expired", f"{name}: {why}; back to ready"))
    if event.op == "decision.add" and event.fields.get("paused"):
        found.append(("worker_paused", str(event.fields.get("text", ""))))
    if _finished(after) and not before.finished:
        done = sum(t.status == "done" for t in after.tasks.values())
        how = "was closed" if after.sprint.status == "closed" else "is done"
        label = f"sprint {after.sprint.id}" if after.sprint.id else "the board"
        found.append(("sprint_done", f"{label} {how}: {done} task(s) done"))
    return [
        Notice(
            id=f"{event.id}:{kind}",
            kind=kind,
            text=text[:500],
            board=board,
            sprint=after.sprint.id,
            seq=event.seq,
            ts=event.ts,
            actor=event.actor,
            task=brief if kind != "sprint_done" else None,
            event=event_to_dict(event),
        )
        for kind, text in found
    ]


# -- targets -------------------------------------------------------------------------------


class Target(Protocol):
    """Where notices go; `send` raises `NotifyFailed` when this one did not arrive."""

    @property
    def name(self) -> str: ...

    def send(self, body: bytes, notice: Notice) -> None: ...


class CommandTarget:
    """Runs the owner's `[notify] command` (an argv, no shell) with the notice on stdin."""

    def __init__(self, argv: Sequence[str], workspace: Path, timeout: float = 10.0) -> None:
        self.argv, self.workspace, self.timeout = list(argv), Path(workspace), timeout

    @property
    def name(self) -> str:
        return "command"

    def send(self, body: bytes, notice: Notice) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
        env |= {
            "SPRINTBOARD_NOTICE_KIND": notice.kind,
            "SPRINTBOARD_NOTICE_ID": notice.id,
            "SPRINTBOARD_TASK": notice.task.id if notice.task else "",
        }
        try:
            done = subprocess.run(
                self.argv,
                input=body,
                capture_output=True,
                timeout=self.timeout,
                env=env,
                cwd=self.workspace,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NotifyFailed(self.argv[0], f"{type(exc).__name__}: {exc}") from None
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise NotifyFailed(self.argv[0], f"exit {done.returncode} {tail[0][:200]}".strip())


class WebhookTarget:
    """POSTs the notice as JSON to the owner's `[notify] webhook`; any 2xx is delivered."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout

    @property
    def name(self) -> str:
        return "webhook"

    def send(self, body: bytes, notice: Notice) -> None:
        import httpx  # only a notifier with a webhook needs it

        headers = {
            "content-type": "application/json",
            "user-agent": "sprintboard-notify/1",
            "idempotency-key": notice.id,
        }
        try:
            answer = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise NotifyFailed(self.url, f"{type(exc).__name__}: {exc}") from None
        if not answer.is_success:
            raise NotifyFailed(self.url, f"HTTP {answer.status_code}")


def targets(config: NotifyConfig, workspace: Path) -> list[Target]:
    """The targets `[notify]` names (none when it names none)."""
    out: list[Target] = []
    if config.command:
        out.append(CommandTarget(config.command, workspace, config.timeout))
    if config.webhook:
        out.append(WebhookTarget(config.webhook, config.timeout))
    return out


# -- the notifier --------------------------------------------------------------------------


class _Pending(_Doc):
    target: str
    notice: Notice
    attempts: int = 0
    next_at: float = 0.0
    """Epoch seconds of the next try."""


class _Saved(_Doc):
    seq: int
    """The journal seq up to which events were turned into notices."""
    pending: list[_Pending] = Field(default_factory=list)


class Notifier:
    """Turns new journal events into notices and delivers them (see the module docstring).

    ```python
    notifier = Notifier(board, targets(config.notify, root), root / STATE_FILE)
    notifier.step()        # or run(stop_event) in a thread
    ```
    """

    def __init__(
        self,
        board: LocalBoard,
        sinks: Sequence[Target],
        path: Path,
        *,
        board_name: str = "sprintboard",
        max_attempts: int = 12,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.board = board
        self.sinks = {s.name: s for s in sinks}
        self.path = Path(path)
        self.board_name = board_name
        self.max_attempts = max_attempts
        self.now = now
        self.sent = 0
        self.given_up = 0
        self._saved = self._load()
        self._state = board.state_at(self._saved.seq)

    def _load(self) -> _Saved:
        try:
            return _Saved.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            pass
        except (ValidationError, ValueError) as exc:
            log.error("%s unreadable (%s); notifying from the journal's end", self.path, exc)
        # first start: notify what happens from now on, not the board's whole history
        saved = _Saved(seq=self.board.refresh().seq)
        self._save(saved)
        return saved

    def _save(self, saved: _Saved) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, saved.model_dump_json().encode("utf-8"))
        self._saved = saved

    def collect(self) -> int:
        """Fold the events after the cursor; queue their notices for every target.
        Returns how many notices were queued."""
        if self.board.refresh().seq <= self._saved.seq:
            return 0
        added: list[_Pending] = []
        seq = self._saved.seq
        for event in self.board.events(since=seq):
            before = _Before.of(self._state, event)
            reduce(self._state, event)
            for notice in _classify(before, event, self._state, self.board_name):
                added += [_Pending(target=t, notice=notice) for t in self.sinks]
            seq = event.seq
        self._save(_Saved(seq=seq, pending=[*self._saved.pending, *added]))
        return len(added)

    def deliver(self) -> int:
        """Send what is due; returns how many arrived. Never raises for a target's failure."""
        arrived = 0
        for item in list(self._saved.pending):
            if item.next_at > self.now():
                continue
            sink = self.sinks.get(item.target)
            if sink is None:  # the target left [notify] since: drop what was queued for it
                self._drop(item)
                continue
            body = orjson.dumps(item.notice.model_dump(mode="json"))
            try:
                sink.send(body, item.notice)
            except NotifyFailed as exc:
                self._retry(item, exc)
                continue
            self._drop(item)
            self.sent += 1
            arrived += 1
        return arrived

    def _drop(self, item: _Pending) -> None:
        rest = [p for p in self._saved.pending if p is not item]
        self._save(_Saved(seq=self._saved.seq, pending=rest))

    def _retry(self, item: _Pending, exc: NotifyFailed) -> None:
        tries = item.attempts + 1
        if tries >= self.max_attempts:
            log.error("notify: gave up on %s after %d tries: %s", item.notice.id, tries, exc)
            self.given_up += 1
            self._drop(item)
            return
        delay = min(_MAX_DELAY, 2.0 ** (tries - 1))
        log.warning("notify: %s (%s); retry %d in %gs", exc, item.notice.id, tries, delay)
        later = item.model_copy(update={"attempts": tries, "next_at": self.now() + delay})
        pending = [later if p is item else p for p in self._saved.pending]
        self._save(_Saved(seq=self._saved.seq, pending=pending))

    def step(self) -> int:
        """Collect, then deliver what is due; returns how many notices arrived."""
        self.collect()
        return self.deliver()

    def run(self, stop: threading.Event, every: float = 0.5) -> None:
        """Step until `stop` is set; errors of one pass are logged, the next pass retries."""
        while not stop.is_set():
            try:
                self.step()
            except (OSError, SprintboardError) as exc:
                log.warning("notify: %s; retrying", exc)
            stop.wait(every)


@contextmanager
def _leader(path: Path) -> Iterator[bool]:
    """Whether this process is the one notifier (an flock held for the block)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextmanager
def running(root: Path, *, every: float = 0.5) -> Iterator[Notifier | None]:
    """Notify from a thread for the block's duration, when `[notify]` names a target and
    no other process of this workspace does it already (yields None otherwise)."""

    config = load_config(root)
    sinks = targets(config.notify, root)
    if not sinks:
        yield None
        return
    with _leader(root / LOCK_FILE) as lead:
        if not lead:
            log.info("notify: another process of %s sends the notifications", root)
            yield None
            return
        board = open_board(root, host=config.board.owner)
        notifier = Notifier(
            board,
            sinks,
            root / STATE_FILE,
            board_name=config.board.name,
            max_attempts=config.notify.max_attempts,
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=notifier.run, args=(stop, every), name="sprintboard-notify", daemon=True
        )
        thread.start()
        try:
            yield notifier
        finally:
            stop.set()
            thread.join(timeout=config.notify.timeout + 5)
