"""The error tree of sprintboard.

Errors are split by audience: a ``SprintboardError`` is something a user can act on
(the message says what, where and what to do); a bug in calling code stays a plain
``TypeError``/``ValueError``.

```
SprintboardError
├── ConfigError             file, key, reason
├── WorkspaceError          path, reason
├── BoardError
│   ├── JournalCorrupt      file, line, reason        (board refuses to load past it)
│   │   └── StoreCorrupt    store, seq, reason        (PostgreSQL store)
│   ├── JournalRolledBack   file, expected head, found head
│   │   └── StoreRolledBack store, expected head, found head  (PostgreSQL store)
│   ├── KanbanParseError    file, line, reason        (last good state kept)
│   ├── SprintFileError     file, line, reason        (backlog/queue import refused)
│   ├── InvalidValue        what, value, rule, task   (a door or the write path refused it)
│   ├── InvalidTransition   task, from, to, allowed
│   ├── UnknownTask         task
│   ├── LeaseConflict       task, holder
│   ├── NotPermitted        actor, op, task, reason   (authority: who may write what)
│   ├── StaleFence          task, fence given, fence current
│   ├── WipLimitReached     scope (role or agent), limit
│   ├── NotOwner            host, owner
│   │   └── SecondOwner     file, line, event id, writer (another host wrote as owner)
│   ├── OwnerUnreachable    owner, transport, waited  (a remote host got no answer in time)
│   ├── LockTimeout         path, seconds
│   └── StoreUnavailable    store, reason             (PostgreSQL unreachable or not installed)
├── MemoryFileError         file, line, reason        (a memory/ note left untouched)
├── ToolError               tool, reason
├── MessageRejected         message id, reason        (goes to quarantine/)
├── NotifyFailed            target, reason            (logged, retried with backoff)
└── LLMUnavailable          endpoint, status, retry_after  (task -> blocked, not a crash)
    └── LLMOutputInvalid    model, attempts, reason   (answers never matched the schema)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "BoardError",
    "ConfigError",
    "InvalidTransition",
    "InvalidValue",
    "JournalCorrupt",
    "JournalRolledBack",
    "KanbanParseError",
    "LLMOutputInvalid",
    "LLMUnavailable",
    "LeaseConflict",
    "LockTimeout",
    "MemoryFileError",
    "MessageRejected",
    "NotOwner",
    "NotPermitted",
    "NotifyFailed",
    "OwnerUnreachable",
    "PortTaken",
    "SecondOwner",
    "SprintFileError",
    "SprintboardError",
    "StaleFence",
    "StoreCorrupt",
    "StoreRolledBack",
    "StoreUnavailable",
    "ToolError",
    "UnknownTask",
    "WipLimitReached",
    "WorkspaceError",
    "field_name",
    "problem_text",
]

# pydantic starts a validator's message with its kind; people need only the message
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def problem_text(err: Mapping[str, Any]) -> str:
    """The message of one pydantic error (an item of `ValidationError.errors()`), in words."""
    msg = str(err.get("msg", ""))
    for prefix in _PYDANTIC_PREFIXES:
        msg = msg.removeprefix(prefix)
    return msg


def field_name(err: Mapping[str, Any]) -> str | None:
    """Where one pydantic error is, dotted (`hosts.0.caps`), or None for the whole value."""
    return ".".join(str(p) for p in err.get("loc", ())) or None


class SprintboardError(Exception):
    """Base of every error a user can act on; the CLI prints it as one line and exits 1."""


class ConfigError(SprintboardError):
    """`sprintboard.toml` (or a tool config) is missing, malformed or has a bad value."""

    def __init__(self, path: Path | str, key: str | None, reason: str) -> None:
        self.path, self.key, self.reason = Path(path), key, reason
        where = f"{path}" + (f" [{key}]" if key else "")
        super().__init__(f"{where}: {reason}")


class PortTaken(SprintboardError):
    """A server (`serve`, `a2a http`) cannot listen: another process has the port."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        super().__init__(
            f"port {port} on {host} is taken by another process; stop it or pass --port N"
        )


class WorkspaceError(SprintboardError):
    """The directory is not a workspace, or cannot become one."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


class BoardError(SprintboardError):
    """The board refused a change or cannot trust its files."""


class JournalCorrupt(BoardError):
    """A journal line cannot be trusted; nothing after it is applied."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(
            f"{path}:{line}: {reason}. Nothing was written. To keep every later event, "
            f"restore the changed line from version control (`git diff -- {path}` shows it), "
            "or run `sprintboard validate --repair` to set aside the lines that "
            "cannot be applied and re-chain the rest (the old journal is kept as a backup)."
        )


class InvalidValue(BoardError, ValueError):
    """A value a door or the board's write path refuses (DESIGN.md contract 11).

    Also a `ValueError`, so callers that parse text (`parse_check`) keep catching it as one.
    """

    def __init__(self, what: str, value: object, rule: str, task: str | None = None) -> None:
        self.what, self.value, self.rule, self.task = what, value, rule, task
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:60] + f"... ({len(str(value))} characters)"
        where = f"{task}: " if task else ""
        super().__init__(f"{where}{what} {shown}: {rule}")


class JournalRolledBack(BoardError):
    """The journal is shorter than, or differs from, the head this host recorded."""

    def __init__(self, path: Path, expected: str, found: str) -> None:
        self.path, self.expected, self.found = path, expected, found
        super().__init__(
            f"{path}: journal was reverted or replaced (expected head {expected}, found {found}). "
            "Nothing was written. Restore the newer journal, or if the old one is wanted on "
            "purpose, run `sprintboard validate --adopt` to accept it."
        )


class KanbanParseError(BoardError):
    """KANBAN.md cannot be parsed; the file is left alone and the last good state is kept."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(
            f"{path}:{line}: {reason}. The file was not changed and the board keeps its "
            "last good state; fix the file and save it again."
        )


class SprintFileError(BoardError):
    """A sprint backlog or SPRINT_QUEUE.json cannot be imported; the board is left as it was."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(
            f"{path}:{line}: {reason}. Nothing was imported and the board keeps its last "
            "good state; fix the file and import it again."
        )


class UnknownTask(BoardError):
    """A task id that the board does not know."""

    def __init__(self, task: str) -> None:
        self.task = task
        super().__init__(f"unknown task {task!r}; `sprintboard status` lists the tasks")


class InvalidTransition(BoardError):
    """A status change that the status table does not allow."""

    def __init__(
        self, task: str, current: str, target: str, allowed: list[str], why: str = ""
    ) -> None:
        self.task, self.current, self.target, self.allowed = task, current, target, allowed
        hint = ", ".join(allowed) if allowed else "none"
        extra = f" ({why})" if why else ""
        super().__init__(f"{task}: cannot move {current} -> {target}{extra}; allowed: {hint}")


class LeaseConflict(BoardError):
    """The task is already leased, or is not in a state that can be claimed."""

    def __init__(self, task: str, reason: str) -> None:
        self.task, self.reason = task, reason
        super().__init__(f"{task}: {reason}")


class NotPermitted(BoardError):
    """The actor may not write this event (DESIGN.md contract 11: authority)."""

    def __init__(self, actor: str, op: str, task: str | None, reason: str) -> None:
        self.actor, self.op, self.task, self.reason = actor, op, task, reason
        super().__init__(f"{task or 'board'}: {actor} may not {op}: {reason}")


class StaleFence(BoardError):
    """A heartbeat or result carried a fencing token that is no longer current."""

    def __init__(self, task: str, given: int | None, current: int | None) -> None:
        self.task, self.given, self.current = task, given, current
        super().__init__(
            f"{task}: fencing token {given} is stale (current: {current}); the lease was "
            "lost or re-granted, so this result is refused. Claim the task again."
        )


class WipLimitReached(BoardError):
    """A claim would exceed a work-in-progress limit."""

    def __init__(self, scope: str, limit: int) -> None:
        self.scope, self.limit = scope, limit
        super().__init__(f"WIP limit reached for {scope} ({limit}); finish or release a task first")


class NotOwner(BoardError):
    """This host is not the board owner, so it must not write the journal."""

    def __init__(self, host: str, owner: str) -> None:
        self.host, self.owner = host, owner
        super().__init__(
            f"host {host!r} is not the board owner ({owner!r} per sprintboard.toml [board] owner); "
            "only the owner writes the journal. Send changes by A2A message instead."
        )


class SecondOwner(NotOwner):
    """Another host appended to the journal as if it owned the board (two owners)."""

    def __init__(self, path: Path, line: int, event_id: str, writer: str, owner: str) -> None:
        self.path, self.line, self.event_id, self.writer = path, line, event_id, writer
        BoardError.__init__(
            self,
            f"{path}:{line}: event {event_id} was written by host {writer!r} acting as board "
            f"owner, but {owner!r} owns this board: two owners. Nothing was written. Fix "
            f"`[board] owner` (or SPRINTBOARD_HOST) on {writer!r}, restore {owner!r}'s journal, "
            "or run `sprintboard validate --adopt` on the one true owner to accept this one.",
        )
        self.host, self.owner = writer, owner


class OwnerUnreachable(BoardError):
    """A host that is not the owner sent a board call and got no answer in time."""

    def __init__(self, owner: str, transport: str, waited: float, detail: str) -> None:
        self.owner, self.transport, self.waited, self.detail = owner, transport, waited, detail
        serve = "a2a http" if transport.startswith("http") else "a2a serve"
        super().__init__(
            f"no answer from the board owner {owner} over {transport} after {waited:.1f}s "
            f"({detail}); is `sprintboard {serve}` running on {owner}? (--timeout waits longer)"
        )


class LockTimeout(BoardError):
    """The board lock was not acquired in time."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        super().__init__(f"{path}: could not take the board lock within {seconds:g}s")


class StoreCorrupt(JournalCorrupt):
    """An event row of the PostgreSQL store cannot be trusted (edited, or out of chain)."""

    def __init__(self, store: str, seq: int, reason: str) -> None:
        self.path, self.line, self.reason = Path(store), seq, reason
        self.store = store
        BoardError.__init__(
            self,
            f"{store} event {seq}: {reason}. Nothing was written. Restore the events table "
            "from a backup taken after that seq, or copy the journal out with `sprintboard "
            "migrate --to file` and repair it there (`sprintboard validate --repair`).",
        )


class StoreRolledBack(JournalRolledBack):
    """The PostgreSQL store no longer holds the head this host last saw (restored or replaced)."""

    def __init__(self, store: str, expected: str, found: str) -> None:
        self.path, self.expected, self.found = Path(store), expected, found
        self.store = store
        BoardError.__init__(
            self,
            f"{store}: the board store was rolled back or replaced (this host saw {expected}, "
            f"the store has {found}). Nothing was written. Restore the newer database, or if "
            "the older one is wanted on purpose, run `sprintboard validate --adopt` here.",
        )


class StoreUnavailable(BoardError):
    """The board's PostgreSQL store cannot be used from here (unreachable, or no driver)."""

    def __init__(self, store: str, reason: str) -> None:
        self.store, self.reason = store, reason
        super().__init__(f"{store}: {reason}")


class MemoryFileError(SprintboardError):
    """A file under `memory/` (or `SPRINT_LOG.md`) cannot be read safely; it is left as it is."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(
            f"{path}:{line}: {reason}. The file was not changed; fix or move it and run again."
        )


class ToolError(SprintboardError):
    """A deterministic tool refused its input or config."""

    def __init__(self, tool: str, reason: str) -> None:
        self.tool, self.reason = tool, reason
        super().__init__(f"{tool}: {reason}")

    def __reduce__(self) -> tuple[type[ToolError], tuple[str, str]]:
        # Raised in worker processes and cluster workers too: it must unpickle as itself.
        return (type(self), (self.tool, self.reason))


class MessageRejected(SprintboardError):
    """An A2A message failed verification and goes to quarantine/."""

    def __init__(self, message_id: str, reason: str) -> None:
        self.message_id, self.reason = message_id, reason
        super().__init__(f"message {message_id}: {reason}")


class NotifyFailed(SprintboardError):
    """A notification did not reach its target (the command failed, the webhook refused)."""

    def __init__(self, target: str, reason: str) -> None:
        self.target, self.reason = target, reason
        super().__init__(f"notification to {target} failed: {reason}")


class LLMUnavailable(SprintboardError):
    """The LLM endpoint cannot answer; callers fall back or block the task with the reason."""

    def __init__(
        self, endpoint: str, status: int | None, reason: str, retry_after: float | None = None
    ) -> None:
        self.endpoint, self.status, self.reason, self.retry_after = (
            endpoint,
            status,
            reason,
            retry_after,
        )
        code = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"LLM at {endpoint} unavailable ({code}): {reason}")


class LLMOutputInvalid(LLMUnavailable):
    """The model answered, but never in the required shape within the allowed retries."""

    def __init__(self, model: str, attempts: int, reason: str) -> None:
        self.model, self.attempts = model, attempts
        super().__init__(
            f"model {model}", None, f"no valid answer in {attempts} tries; last error: {reason}"
        )
