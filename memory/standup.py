"""`sprintboard standup`: the day's standup from the journal, appended to `memory/YYYY-MM-DD.md`.

Same journal and same moment, same text. A standup is keyed by its day and the journal seq
it covers: if the day's note already holds one through the current seq, nothing is added.
Text people wrote in the note is never touched; the standup goes at the end, between
markers (see `daily_notes`). With an LLM backend, a short prose summary goes above the
facts (rendered by `render_facts`: one bullet per item, "- none" for an empty section,
every time as UTC minutes and every age against `as_of`); if the model fails, the standup is written without it and says why.

```python
board = LocalBoard(root, host="alpha", clock=FrozenClock(...), ids=CounterIds())
result = write_standup(board)               # memory/2026-01-01.md
result = write_standup(board, llm=backend)  # backend: any sprintboard.llm.ChatBackend
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from sprintboard.board.clock import Clock, parse_ts
from sprintboard.board.models import Event
from sprintboard.errors import LLMUnavailable, MemoryFileError
from sprintboard.llm import ChatRequest
from sprintboard.memory.daily_notes import (
    END_MARKER,
    NoteBlocker,
    StandupMarker,
    append_text,
    daily_note_path,
    note_dates,
    read_daily_note,
    read_text,
    standup_marker,
)
from sprintboard.memory.history import History, fold_history, format_age, format_minute
from sprintboard.memory.standup_facts import (
    ActorStat,
    BlockedItem,
    CriticalPathFinder,
    DecisionItem,
    DoneItem,
    QuestionItem,
    StandupFacts,
    TaskLine,
    WaitingItem,
    gather_facts,
    remaining_critical_path,
)

if TYPE_CHECKING:
    from sprintboard.llm import ChatBackend

__all__ = [
    "StandupResult",
    "StandupSource",
    "render_facts",
    "render_standup",
    "resolve_since",
    "summarize",
    "write_standup",
]


def _bullets(items: list[str]) -> list[str]:
    return [f"- {i}" for i in items] if items else ["- none"]


def _where(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def render_facts(facts: StandupFacts, root: Path, problems: Sequence[str] = ()) -> str:
    """The facts as markdown sections (the part of a standup a model may summarise)."""
    now = facts.as_of

    def ago(ts: str) -> str:
        return format_age(now - parse_ts(ts))

    noted = [
        f"{', '.join(b.tasks)} — {_where(b.path, root)}:{b.line} ({b.section}): {b.text}"
        for b in facts.note_blockers
    ] + [f"unreadable note: {p}" for p in problems]
    sections: list[tuple[str, list[str]]] = [
        ("Done since the last standup", _bullets([_done_line(d) for d in facts.done])),
        ("In progress", _bullets([_doing_line(t, ago) for t in facts.in_progress])),
        ("Blocked", _bullets([_blocked_line(b, ago) for b in facts.blocked])),
        ("Waiting on other tasks", _bullets([_waiting_line(w) for w in facts.waiting])),
        (
            "Waiting for a person",
            _bullets(
                [_manual_line(m, ago) for m in facts.manual]
                + [_question_line(q, ago) for q in facts.questions]
            ),
        ),
        ("Decisions", _bullets([_decision_line(d) for d in facts.decisions])),
        ("Next on the critical path", _next_lines(facts)),
        (
            f"Stalled (no event in {facts.stalled_days} days)",
            _bullets([_stalled_line(t, ago) for t in facts.stalled]),
        ),
        ("Blockers in daily notes", _bullets(noted)),
        ("Per host and agent", _bullets([_actor_line(a) for a in facts.actors])),
    ]
    out: list[str] = []
    for heading, lines in sections:
        out += [*([""] if out else []), f"### {heading}", *lines]
    return "\n".join(out) + "\n"


def _done_line(d: DoneItem) -> str:
    line = f"**{d.task}** {d.title} — done {format_minute(d.ts)} by {d.by}"
    if d.artifacts:
        arts = ", ".join(f"`{a.path}` ({a.sha256[:12]}, {a.size} B)" for a in d.artifacts)
        line += f"; artifacts: {arts}"
    if d.commits:
        line += f"; commits: {', '.join(d.commits)}"
    return line


def _doing_line(t: TaskLine, ago: Callable[[str], str]) -> str:
    if t.agent is not None and t.acquired is not None and t.last_heartbeat is not None:
        return (
            f"**{t.task}** {t.title} — {t.status}, {t.agent}@{t.host}; lease "
            f"{ago(t.acquired)} old, last heartbeat {ago(t.last_heartbeat)} ago "
            f"({t.heartbeats} heartbeats)"
        )
    return (
        f"**{t.task}** {t.title} — {t.status} since {format_minute(t.since)} "
        f"({ago(t.since)}), by {t.by}"
    )


def _question_line(q: QuestionItem, ago: Callable[[str], str]) -> str:
    asked = f"**{q.task}** {q.title} — {q.asked_by} asked {format_minute(q.asked)}"
    text = " ".join(q.text.split())
    if q.answer is None:
        return f"{asked} ({ago(q.asked)}): {text} (`sprintboard answer {q.task}`)"
    return f"{asked}: {text} — answered by {q.answered_by}: {' '.join(q.answer.split())}"


def _blocked_line(b: BlockedItem, ago: Callable[[str], str]) -> str:
    return (
        f"**{b.task}** {b.title} — {b.reason or b.status}; since {format_minute(b.since)} "
        f"({ago(b.since)}), by {b.by}; can unblock: {', '.join(b.unblockers)}"
    )


def _waiting_line(w: WaitingItem) -> str:
    on = f"waits on {', '.join(w.on)}" if w.on else "its dependencies are done: ready to take"
    return f"**{w.task}** {w.title} — {on}"


def _manual_line(m: BlockedItem, ago: Callable[[str], str]) -> str:
    line = f"**{m.task}** {m.title} — needs_manual since {format_minute(m.since)} ({ago(m.since)})"
    if m.open_criteria:
        line += "; to check: " + "; ".join(m.open_criteria)
    return line


def _decision_line(d: DecisionItem) -> str:
    return f"{format_minute(d.ts)} {d.actor}" + (f" ({d.task})" if d.task else "") + f": {d.text}"


def _next_lines(facts: StandupFacts) -> list[str]:
    """The path (finished steps struck through), why the list is what it is, then the list."""
    out: list[str] = []
    if facts.critical_path:
        finished = set(facts.finished_on_path)
        shown = [f"~~{t}~~" if t in finished else t for t in facts.critical_path]
        struck = " (finished ones struck through)" if finished else ""
        out.append("Critical path: " + " → ".join(shown) + struck)
    if facts.next_note:
        fallback = "" if facts.critical_path else "; ready tasks by priority instead"
        out.append(f"_{facts.next_note[0].upper()}{facts.next_note[1:]}{fallback}._")
    return out + _bullets(
        [f"**{n.task}** {n.title} — P{n.priority}, {n.detail}" for n in facts.next_items]
    )


def _stalled_line(t: TaskLine, ago: Callable[[str], str]) -> str:
    return (
        f"**{t.task}** {t.title} — {t.status}, last event {format_minute(t.since)} "
        f"({ago(t.since)} ago)"
    )


def _actor_line(a: ActorStat) -> str:
    parts = [f"{a.events} event" + ("" if a.events == 1 else "s")]
    if a.holds:
        parts.append("holds " + ", ".join(a.holds))
    if a.touched:
        parts.append("touched " + ", ".join(a.touched))
    return f"{a.host} / {a.actor}: " + "; ".join(parts)


_SUMMARY_SYSTEM = (
    "You write the opening of a team's daily standup. In 2 to 4 plain sentences, say what "
    "got done, what is blocked or waiting for a person, and what comes next. Use only the "
    "facts given; name task ids; do not invent anything."
)


class StandupSource(Protocol):
    """What a standup reads: the workspace root, the clock, and the journal (a `LocalBoard`)."""

    @property
    def root(self) -> Path: ...

    @property
    def clock(self) -> Clock: ...

    def events(self, since: int = 0) -> list[Event]: ...


class StandupResult(BaseModel, frozen=True, extra="forbid"):
    """What `write_standup` did."""

    path: Path
    day: str
    appended: bool
    """False when the note already held a standup through this journal seq."""
    seq: int
    """Last journal seq the standup covers."""
    since: int
    """Events after this seq count as "since the last standup"."""
    summary: str | None = None
    llm_error: str | None = None
    """Why there is no summary when one was asked for."""
    text: str = ""
    """The appended standup ("" when nothing was appended)."""


def resolve_since(history: History, since: str) -> int:
    """The seq after which events count as new: `since` is a seq (`42`) or an ISO date/time.

    A time means "events at or after it": the answer is the seq of the last event before it.

    Raises:
        ValueError: `since` is neither a number nor an ISO date or time.
    """
    if since.isdigit():
        return min(int(since), history.seq)
    moment = parse_ts(since)
    seq = 0
    for event in history.events:
        if parse_ts(event.ts) >= moment:
            break
        seq = event.seq
    return seq


def _markers_until(memory_dir: Path, day: str) -> tuple[list[StandupMarker], list[str]]:
    markers: list[StandupMarker] = []
    problems: list[str] = []
    for name in note_dates(memory_dir):
        if name > day:
            break
        try:
            markers += read_daily_note(memory_dir / f"{name}.md").markers
        except MemoryFileError as exc:
            problems.append(str(exc))
    return markers, problems


def _note_blockers(
    memory_dir: Path, day: str, known: Sequence[str], problems: list[str]
) -> list[NoteBlocker]:
    """Blockers people wrote in the day's note and in the newest note before it."""
    earlier = [d for d in note_dates(memory_dir) if d < day]
    out: list[NoteBlocker] = []
    for name in [*earlier[-1:], day]:
        path = memory_dir / f"{name}.md"
        if not path.exists():
            continue
        try:
            out += read_daily_note(path, known).blockers
        except MemoryFileError:
            continue  # already reported by the marker scan
    return out


@dataclass(slots=True)
class _Draft:
    """A standup built but not yet written: where it goes and what it says."""

    path: Path
    day: str
    seq: int
    already: bool
    """The note already holds a standup through `seq`."""
    facts: StandupFacts | None = None
    body: str = ""


def _draft(
    board: StandupSource,
    day: date | None,
    since: str | None,
    stalled_days: int,
    critical_path: CriticalPathFinder | None,
    *,
    stop_if_written: bool,
) -> _Draft:
    now = board.clock.now().astimezone(UTC)
    today = now.date()
    day = day or today
    if day > today:
        raise ValueError(f"{day} is in the future (today is {today} by the board's clock)")
    as_of = now if day == today else datetime.combine(day + timedelta(days=1), time(), UTC)
    history = fold_history(board.events(), until=None if day == today else as_of)
    memory_dir = board.root / "memory"
    path = daily_note_path(memory_dir, day)
    day_text = day.isoformat()
    markers, problems = _markers_until(memory_dir, day_text)
    draft = _Draft(path, day_text, history.seq, already=False)
    draft.already = any(m.path == path and m.seq == history.seq for m in markers)
    if draft.already and stop_if_written:
        return draft
    previous = max(
        (
            m
            for m in markers
            if m.seq <= history.seq and not (m.path == path and m.seq == history.seq)
        ),
        key=lambda m: (m.seq, m.day),
        default=None,
    )
    if since is not None:
        since_seq, previous_day = resolve_since(history, since), None
    elif previous is not None:
        since_seq, previous_day = previous.seq, previous.day
    else:
        since_seq, previous_day = 0, None
    blockers = _note_blockers(memory_dir, day_text, list(history.state.tasks), problems)
    draft.facts = gather_facts(
        history,
        day=day_text,
        as_of=as_of,
        since_seq=since_seq,
        previous_day=previous_day,
        notes=blockers,
        stalled_days=stalled_days,
        critical_path=critical_path,
    )
    draft.body = render_facts(draft.facts, board.root, problems)
    return draft


def render_standup(
    board: StandupSource,
    *,
    day: date | None = None,
    since: str | None = None,
    stalled_days: int = 3,
    critical_path: CriticalPathFinder | None = remaining_critical_path,
) -> str:
    """The standup `write_standup` would append now (facts only), without writing anything.

    Raises:
        ValueError: `day` is in the future, or `since` cannot be read.
    """
    draft = _draft(board, day, since, stalled_days, critical_path, stop_if_written=False)
    assert draft.facts is not None
    return _render_standup(draft.facts, draft.body, None, None, asked=False)


def write_standup(
    board: StandupSource,
    *,
    day: date | None = None,
    since: str | None = None,
    llm: ChatBackend | None = None,
    stalled_days: int = 3,
    critical_path: CriticalPathFinder | None = remaining_critical_path,
) -> StandupResult:
    """Build the standup for `day` (default: today by the board's clock) and append it.

    A past `day` is built from the journal as it stood at the end of that day (UTC). If the
    note already holds a standup through the current journal seq, nothing is added (and the
    LLM is not asked).

    Raises:
        ValueError: `day` is in the future, or `since` cannot be read.
        MemoryFileError: the day's note is not UTF-8; it is left untouched.
    """
    draft = _draft(board, day, since, stalled_days, critical_path, stop_if_written=True)
    if draft.already:
        return StandupResult(path=draft.path, day=draft.day, appended=False, seq=draft.seq, since=0)
    assert draft.facts is not None
    read_text(draft.path)  # refuse before asking a model if the note is not UTF-8
    summary, error = summarize(llm, draft.body) if llm is not None else (None, None)
    text = _render_standup(draft.facts, draft.body, summary, error, asked=llm is not None)
    append_text(draft.path, text, title=draft.day)
    return StandupResult(
        path=draft.path,
        day=draft.day,
        appended=True,
        seq=draft.seq,
        since=draft.facts.since_seq,
        summary=summary,
        llm_error=error,
        text=text,
    )


def summarize(backend: ChatBackend, facts_markdown: str) -> tuple[str | None, str | None]:
    """A short prose summary of the facts through the LLM seam: (summary, None) or (None, why).

    Only `LLMUnavailable` (and an empty answer) is turned into a reason; anything else is a
    bug and propagates.
    """

    request = ChatRequest.from_prompt(facts_markdown, system=_SUMMARY_SYSTEM, max_tokens=300)
    try:
        reply = backend.complete(request)
    except LLMUnavailable as exc:
        return None, str(exc)
    # A line that looks like our markers would confuse the next run's reader.
    lines = [ln.rstrip() for ln in reply.content.strip().splitlines() if "sprintboard:" not in ln]
    text = "\n".join(lines).strip()
    if not text:
        return None, f"the model {reply.model} answered with an empty text"
    return text, None


def _render_standup(
    facts: StandupFacts, body: str, summary: str | None, error: str | None, *, asked: bool
) -> str:
    if facts.previous_day is not None:
        since = f"since the standup of {facts.previous_day} (seq {facts.since_seq})"
    elif facts.since_seq:
        since = f"since seq {facts.since_seq}"
    else:
        since = "since the start of the journal"
    sprint = f"sprint {facts.sprint_id}" if facts.sprint_id else "no sprint"
    if facts.sprint_goal:
        sprint += f" ({facts.sprint_goal})"
    lines = [
        standup_marker(facts.day, facts.through_seq, facts.since_seq),
        f"## Standup {facts.day}",
        "",
        f"_From the journal through seq {facts.through_seq}, {since}; "
        f"as of {facts.as_of.strftime('%Y-%m-%d %H:%M')} UTC; {sprint}._",
        "",
    ]
    if summary is not None:
        lines += ["**Summary** (written by a model from the facts below):", ""]
        lines += [f"> {ln}" if ln else ">" for ln in summary.splitlines()]
        lines.append("")
    elif asked:
        lines += [f"_No summary: {error}. The facts below are complete._", ""]
    return "\n".join(lines) + "\n" + body + END_MARKER + "\n"
