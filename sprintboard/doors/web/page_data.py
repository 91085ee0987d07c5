"""The JSON the web page reads: the whole board (`BoardPage`) and one change to it (`BoardDelta`).

A delta names every task that changed between two journal seqs with the same row
`/api/board` gives, so a page can patch those cards (and keep acting on what it shows,
stale-page checks included) without refetching the whole board.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from sprintboard.board.document import QuestionDoc, question_doc
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import STATUSES, Task
from sprintboard.board.state import BoardState
from sprintboard.doors.web.extras import standup_html
from sprintboard.status import StatusReport, TaskRow, board_status, task_row

__all__ = [
    "BoardDelta",
    "BoardPage",
    "DecisionRow",
    "GraphSummary",
    "board_delta",
    "board_page",
    "graph_summary",
    "latest_standup",
]


class GraphSummary(BaseModel):
    """The critical path and the phases of parallel work, as the page draws them."""

    critical_path: list[str] = Field(default_factory=list)
    phases: list[list[str]] = Field(default_factory=list)


class DecisionRow(BaseModel):
    text: str
    actor: str
    ts: str
    task: str | None


class QuestionRow(QuestionDoc):
    """A question an agent asked (open until `answer` is set), and the task it is about."""

    task: str


class BoardPage(BaseModel):
    """`GET /api/board`."""

    board: StatusReport
    graph: GraphSummary
    decisions: list[DecisionRow]
    questions: list[QuestionRow]
    statuses: list[str]
    standup: str | None
    standup_html: str | None = None
    """`standup` rendered (raw HTML in the note escaped)."""


class BoardDelta(BaseModel):
    """One `board` event on `/api/stream`: what changed from journal seq `since` to `seq`.

    `since` is None when no delta is on offer (a new connection, a new sprint or standup,
    a page that fell behind): the page refetches `/api/board` unless it shows `seq` already.
    """

    seq: int
    since: int | None = None
    tasks: list[TaskRow] = Field(default_factory=list)
    """Tasks created or changed since `since`, in board order."""
    removed: list[str] = Field(default_factory=list)
    graph: GraphSummary | None = None
    """The dependency graph, when tasks were added, removed or re-linked."""
    decisions: list[DecisionRow] | None = None
    """Every decision, only when they changed."""
    questions: list[QuestionRow] | None = None
    """Every question, only when they changed (asked or answered)."""


def graph_summary(tasks: Iterable[Task]) -> GraphSummary:
    """Critical path and phases of `tasks`; empty without the optional graph room."""
    try:
        from sprintboard.sprints.graph import analyze
    except ImportError:  # the graph room is optional for the page
        return GraphSummary()
    result = analyze(tasks)
    return GraphSummary(
        critical_path=list(result.critical_path), phases=[list(p) for p in result.phases]
    )


def _decisions(state: BoardState) -> list[DecisionRow]:
    return [DecisionRow(text=d.text, actor=d.actor, ts=d.ts, task=d.task) for d in state.decisions]


def _questions(state: BoardState) -> list[QuestionRow]:
    return [QuestionRow(task=q.task or "", **question_doc(q).model_dump()) for q in state.questions]


def latest_standup(root: Path) -> str | None:
    """The end of the newest note in `memory/`, or None before the first standup."""
    notes = sorted((root / "memory").glob("*.md"))
    return notes[-1].read_text(encoding="utf-8")[-4000:] if notes else None


def board_page(board: LocalBoard) -> BoardPage:
    """Everything the page shows (blocking: it reads the journal and `memory/`)."""
    state = board.snapshot()
    standup = latest_standup(board.root)
    return BoardPage(
        board=board_status(board),
        graph=graph_summary(state.tasks.values()),
        decisions=_decisions(state),
        questions=_questions(state),
        statuses=list(STATUSES),
        standup=standup,
        standup_html=standup_html(standup),
    )


def _shape(task: Task) -> tuple[object, ...]:
    return (task.dependencies, task.estimate)


def board_delta(old: BoardState, new: BoardState) -> BoardDelta:
    """The change from `old` to `new`, two states of one board.

    States share the task objects a write did not touch (`BoardState.fork` copies a task
    only when it changes), so an identity check finds the changed ones without comparing.
    A new sprint gives a delta without `since`: the header it changes is a full reload's job.
    """
    if new.sprint != old.sprint:
        return BoardDelta(seq=new.seq)
    changed = [t for t in new.tasks.values() if old.tasks.get(t.id) is not t]
    removed = [tid for tid in old.tasks if tid not in new.tasks]
    reshaped = bool(removed) or any(
        t.id not in old.tasks or _shape(t) != _shape(old.tasks[t.id]) for t in changed
    )
    return BoardDelta(
        seq=new.seq,
        since=old.seq,
        tasks=[task_row(t) for t in changed],
        removed=removed,
        # the graph reads only ids, dependencies and estimates: a move cannot change it
        graph=graph_summary(new.tasks.values()) if reshaped else None,
        decisions=_decisions(new) if new.decisions != old.decisions else None,
        questions=_questions(new) if new.questions != old.questions else None,
    )
