"""The `BoardClient` protocol (DESIGN.md contract 4): all agents ever see of the board."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sprintboard.board.models import Artifact, Event, Lease, Note, Op, Question, Status, Task
from sprintboard.board.scheduling import NextUp
from sprintboard.board.state import BoardState

if TYPE_CHECKING:  # pydantic: `next --json` answers without loading it
    from sprintboard.board.document import TaskDocument

__all__ = ["BoardClient", "BoardObserver", "EventDraft"]


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event before the owner gives it a seq, timestamp and place in the hash chain.

    `id` is optional: a draft that carries one (a message id, a merge id) is applied at
    most once, however often it is sent.
    """

    op: Op
    task: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    actor: str = "human:unknown"
    fence: int | None = None
    id: str | None = None


@runtime_checkable
class BoardClient(Protocol):
    """The board as agents see it: `LocalBoard` on the owner host, `RemoteBoard` elsewhere."""

    @property
    def host(self) -> str: ...

    @property
    def root(self) -> Path:
        """This host's folder: the workspace on the owner, the `join`ed folder elsewhere."""
        ...

    def snapshot(self) -> BoardState:
        """The current state (read-only: never mutate it)."""
        ...

    def task(self, task_id: str) -> TaskDocument:
        """The whole task as `sprintboard show` prints it (UnknownTask if there is none)."""
        ...

    def ready(self, role: str | None = None, caps: Sequence[str] | None = None) -> list[Task]:
        """Tasks a `role` agent with capabilities `caps` could claim now, most urgent first."""
        ...

    def next_up(
        self,
        agent: str | None = None,
        role: str | None = None,
        caps: Sequence[str] | None = None,
        *,
        host: str | None = None,
        limit: int | None = None,
    ) -> NextUp:
        """What `agent` should take next, best first, or why nothing (the one ranking);
        without `agent`, for a `role` agent (default builder) with `caps` (default none)."""
        ...

    def claim(self, task: str, agent: str, host: str, ttl: int) -> Lease:
        """Lease `task` to `agent`@`host` for `ttl` seconds; returns the lease and its fence."""
        ...

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
        """Lease the task the scheduling rule ranks first for `agent` on `host` (chosen and
        claimed at once) and return it, lease included; None when nothing is claimable.
        `host`: the owner may name any (default: the agent's host in the config); another
        host claims only for itself. `by_worker`: only the work the agent's configured worker
        does by itself (tool steps for `tools`; step-less tasks for `command` and `llm`)."""
        ...

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
        """Move `task` to `to` as `actor`; `expected` refuses it if the task moved on since,
        `fence` makes it the lease holder's move, `key` makes it idempotent."""
        ...

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
        """Assign `task` to `agent` (not a lease: the agent's next claim takes it first);
        `reason` is recorded as a decision."""
        ...

    def heartbeat(self, task: str, fence: int) -> Lease:
        """Extend the lease; refused with `StaleFence` when the token is not current."""
        ...

    def submit(
        self, task: str, fence: int, artifacts: Sequence[Artifact], metrics: Mapping[str, float]
    ) -> Task:
        """Hand in a result: artifacts and metrics recorded, task to `awaiting_test`."""
        ...

    def release(self, task: str, fence: int, reason: str = "released") -> None:
        """Give the lease back (the task returns to ready); a stale `fence` is refused."""
        ...

    def note(self, task: str, text: str, agent: str, fence: int | None = None) -> Note:
        """A progress note on `task` by `agent` (`fence`: as the lease holder; a host that is
        not the owner, or an agent the config does not list, must hold the lease)."""
        ...

    def ask(self, task: str, question: str, agent: str, fence: int | None = None) -> Question:
        """Ask a person about `task`; the lease is kept, the task waits for a person until
        answered. Returns the question (its `id` names it for `answer`)."""
        ...

    def answer(
        self, task: str, text: str, actor: str = "human:cli", question: str | None = None
    ) -> Question:
        """A person's answer to `question` about `task` (default: its oldest open one)."""
        ...

    def apply(self, events: Sequence[EventDraft]) -> list[Event]:
        """Commit events atomically; drafts whose id is already in the journal are skipped."""
        ...

    def wait_for_change(self, timeout: float) -> bool:
        """Block until the board changes or `timeout` seconds pass; True if it changed."""
        ...


class BoardObserver(Protocol):
    """Told the new state after each commit, under the board lock, to render what is derived
    from it (KANBAN.md, for one; a git auto-commit, for another)."""

    def render(self, state: BoardState) -> None: ...
