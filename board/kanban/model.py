"""The parsed KANBAN.md: sections, cards, decision/note entries and verbatim blocks.

A `KanbanDocument` is both what a person wrote (cards and entries the merge turns into
events) and a layout (headings, the order of cards, free text the parser does not
understand) that the renderer reuses, so text it does not model comes back byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from sprintboard.board.models import Column, Status, column_of
from sprintboard.board.state import BoardState

__all__ = [
    "ARTIFACT_MARK",
    "COLUMN_KEYS",
    "DEFAULT_HEADINGS",
    "END_MARKER",
    "SECTION_KEYS",
    "Block",
    "CardRun",
    "EntryRun",
    "KanbanCard",
    "KanbanDocument",
    "KanbanEntry",
    "KanbanQuestion",
    "Section",
    "SectionKey",
    "Verbatim",
    "cards_of",
    "column_key",
    "default_status",
    "entries_of",
    "questions_of",
    "shown_text",
]

SectionKey = Literal[
    "done",
    "in_progress",
    "review",
    "ready",
    "backlog",
    "blocked",
    "questions",
    "decisions",
    "notes",
]
SECTION_KEYS: tuple[SectionKey, ...] = get_args(SectionKey)
COLUMN_KEYS: tuple[SectionKey, ...] = SECTION_KEYS[:6]

DEFAULT_HEADINGS: dict[SectionKey, str] = {
    "done": "✅ Done",
    "in_progress": "🔨 In Progress",
    "review": "👀 Review",
    "ready": "🟢 Ready",
    "backlog": "📋 Backlog",
    "blocked": "🚫 Blocked",
    "questions": "❓ Questions",
    "decisions": "🧭 Decisions",
    "notes": "📝 Notes",
}

# Every rendered file ends with this line: a file that lost it was cut short (an editor
# mid-save, a sync tool half-way) and must not be read as a board that lost its cards.
END_MARKER = "<!-- sprintboard:end (edit above; a file without this line is read as half-saved) -->"

_COLUMN_TO_KEY: dict[Column, SectionKey] = {
    "Done": "done",
    "In Progress": "in_progress",
    "Review": "review",
    "Ready": "ready",
    "Backlog": "backlog",
    "Blocked": "blocked",
}

_DEFAULT_STATUS: dict[SectionKey, Status] = {
    "done": "done",
    "in_progress": "in_progress",
    "review": "awaiting_test",
    "ready": "ready",
    "backlog": "needs_plan",
    "blocked": "blocked",
}


def column_key(status: Status, blocked_reason: str | None) -> SectionKey:
    """The section a task with this status shows in."""
    return _COLUMN_TO_KEY[column_of(status, blocked_reason)]


def default_status(key: SectionKey) -> Status:
    """The status a card gets when it sits in section `key` without a status tag."""
    return _DEFAULT_STATUS[key]


ARTIFACT_MARK = "📎"
"""Starts a card's artifact line (`  - 📎 `runs/T1/1/report.md``)."""


@dataclass(frozen=True, slots=True)
class KanbanCard:
    """What KANBAN.md shows of one task; `parse(render(state))` gives these back exactly."""

    id: str
    title: str
    status: Status
    priority: int = 3
    owner: str | None = None
    caps: tuple[str, ...] = ()
    """Capabilities a builder needs (`needs: code, gpu`)."""
    blocked_reason: str | None = None
    commits: tuple[str, ...] = ()
    done: str | None = None
    """Day the task was done, `YYYY-MM-DD`."""
    criteria: tuple[tuple[str, bool], ...] = ()
    checked: bool = False
    """The card's own checkbox; a person ticking it means done."""
    artifacts: tuple[str, ...] = ()
    """Workspace paths of what was submitted, shown (`📎`) while the task is in Review, so
    a person reviewing it sees what to look at. Derived: editing them changes nothing."""
    line: int = field(default=0, compare=False)
    """Line in the file it was read from (0 when rendered from the state)."""


@dataclass(frozen=True, slots=True)
class KanbanEntry:
    """One decision or note line: its text, and who wrote it when if the line says so."""

    text: str
    actor: str | None = None
    date: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class KanbanQuestion:
    """A question in the "❓ Questions" section, and the answer written under it (a person
    answers by writing a line `  - ANSWER` below it)."""

    id: str
    """The asking event's id, shown as `` `q:ID` `` so an answer finds its question."""
    task: str
    text: str
    actor: str | None = None
    date: str | None = None
    answer: str | None = None
    answered_by: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(slots=True)
class Verbatim:
    """Lines kept exactly as written (free text, sub-heading blocks, unknown sections)."""

    lines: list[str]


@dataclass(slots=True)
class CardRun:
    """Cards of a column in the order a person put them, under an optional sub-heading."""

    heading: str | None = None
    ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EntryRun:
    """Where the questions, decisions or notes of their section go."""


Block = Verbatim | CardRun | EntryRun


@dataclass(slots=True)
class Section:
    """A `## ` section: a known column/decisions/notes (`key`) or an unknown one (`None`)."""

    heading: str
    """The whole heading line, kept as written (`## 📠Notes` included)."""
    key: SectionKey | None
    blocks: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class KanbanDocument:
    """A parsed KANBAN.md."""

    title: str = "# KANBAN.md"
    synced: str | None = None
    preamble: list[Verbatim] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    cards: dict[str, KanbanCard] = field(default_factory=dict)
    decisions: list[KanbanEntry] = field(default_factory=list)
    notes: list[KanbanEntry] = field(default_factory=list)
    questions: list[KanbanQuestion] = field(default_factory=list)
    ended: bool = False
    """The file ends with `END_MARKER` (so it was written whole)."""
    new_ids: list[str] = field(default_factory=list)
    """Ids given on first sight to cards that had none."""
    warnings: list[str] = field(default_factory=list)

    def section(self, key: SectionKey) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


def cards_of(state: BoardState) -> dict[str, KanbanCard]:
    """The cards the renderer shows for `state`, by task id."""
    out: dict[str, KanbanCard] = {}
    for task in state.tasks.values():
        out[task.id] = KanbanCard(
            id=task.id,
            title=task.title,
            status=task.status,
            priority=task.priority,
            owner=task.agent,
            caps=tuple(task.caps),
            blocked_reason=" ".join(task.blocked_reason.split()) if task.blocked_reason else None,
            commits=tuple(task.commits),
            done=task.done_at[:10] if task.done_at else None,
            criteria=tuple((c.text, c.done) for c in task.criteria),
            checked=task.status in ("done", "cancelled"),
            artifacts=(tuple(a.path for a in task.artifacts) if task.column == "Review" else ()),
        )
    return out


def entries_of(state: BoardState) -> tuple[list[KanbanEntry], list[KanbanEntry]]:
    """The decisions and notes the renderer shows for `state`."""
    decisions = [KanbanEntry(shown_text(d.text), d.actor, d.ts[:10]) for d in state.decisions]
    notes = [KanbanEntry(shown_text(n.text), n.actor, n.ts[:10]) for n in state.notes]
    return decisions, notes


def shown_text(text: str) -> str:
    """A decision or note as KANBAN.md shows it: its non-blank lines, each with single
    spaces (what the parser gives back, so no text can forge a heading or a card)."""
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())


def questions_of(state: BoardState) -> list[KanbanQuestion]:
    """The questions the renderer shows: every open one, and the answered ones of tasks
    that are not finished yet (so the answer is seen where the question was)."""
    out = []
    for q in state.questions:
        task = state.tasks.get(q.task or "")
        if q.answer is not None and (task is None or task.status in ("done", "cancelled")):
            continue
        out.append(
            KanbanQuestion(
                id=q.id,
                task=q.task or "",
                text=" ".join(q.text.split()),
                actor=q.actor,
                date=q.ts[:10],
                answer=None if q.answer is None else " ".join(q.answer.split()),
                answered_by=q.answered_by,
            )
        )
    return out
