"""Render the board state as KANBAN.md, reusing the layout of the last file people saw.

Cards keep the order and sub-heading groups a person gave them; free text, standup
blocks and unknown sections come back byte for byte; decisions and notes come from the
journal. Rendering the same state with the same layout gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from sprintboard.board.kanban.model import (
    ARTIFACT_MARK,
    COLUMN_KEYS,
    DEFAULT_HEADINGS,
    END_MARKER,
    SECTION_KEYS,
    Block,
    CardRun,
    EntryRun,
    KanbanCard,
    KanbanDocument,
    KanbanEntry,
    KanbanQuestion,
    Section,
    SectionKey,
    Verbatim,
    cards_of,
    column_key,
    default_status,
    entries_of,
    questions_of,
)
from sprintboard.board.state import BoardState

__all__ = [
    "default_layout",
    "escape_title",
    "render_card",
    "render_entry",
    "render_kanban",
    "render_question",
    "synced_line",
]


def escape_title(text: str) -> str:
    """Escape what would end the bold title early (`*`) and the escape itself."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("*", "\\*")


def render_card(card: KanbanCard) -> list[str]:
    """The card line (and its criteria as indented checkboxes)."""
    title = f"**{escape_title(card.title)}**"
    if card.status == "cancelled":
        title = f"~~{title}~~"
    head = f"- [{'x' if card.checked else ' '}] `{card.id}` P{card.priority} {title}"
    tokens: list[str] = []
    if card.owner:
        tokens.append(f"**[{card.owner}]**")
    if card.caps:
        tokens.append(f"needs: {', '.join(card.caps)}")
    if card.status != default_status(column_key(card.status, card.blocked_reason)):
        tokens.append(f"`{card.status}`")
    if card.commits:
        word = "commit" if len(card.commits) == 1 else "commits"
        tokens.append(f"({word} {', '.join(card.commits)})")
    if card.done:
        tokens.append(f"✅ {card.done}")
    if card.blocked_reason:
        tokens.append(f"blocked: {' '.join(card.blocked_reason.split())}")
    lines = [" · ".join([head, *tokens])]
    for text, done in card.criteria:
        lines.append(f"  - [{'x' if done else ' '}] {' '.join(text.split())}")
    lines += [f"  - {ARTIFACT_MARK} `{path}`" for path in card.artifacts]
    return lines


def render_entry(entry: KanbanEntry) -> list[str]:
    """A decision or note: its text, then who and when in italics."""
    first, *rest = entry.text.split("\n") or [""]
    who = f" _({entry.actor}, {entry.date})_" if entry.actor and entry.date else ""
    return [f"- {first}{who}", *(f"  {line}" if line else "" for line in rest)]


def render_question(q: KanbanQuestion) -> list[str]:
    """A question on one line, and its answer (if any) on the line under it: the place a
    person writes `  - ANSWER` to answer it."""
    who = f" _({q.actor}, {q.date})_" if q.actor and q.date else ""
    lines = [f"- `{q.task}` {q.text}{who} · `q:{q.id}`"]
    if q.answer is not None:
        by = f" _({q.answered_by})_" if q.answered_by else ""
        lines.append(f"  - ✅ {q.answer}{by}")
    return lines


def synced_line(state: BoardState) -> str:
    """The "last synced" line: the time of the last event, so a re-render is byte-stable."""
    if not state.updated:
        return "_Last synced: never_"
    stamp = state.updated[:16].replace("T", " ")
    return f"_Last synced: {stamp} UTC (journal seq {state.seq})_"


def default_layout(
    headings: Mapping[SectionKey, str] | None = None, title: str = "KANBAN.md"
) -> KanbanDocument:
    """The layout of a fresh board: every section, in the status-table order."""
    names = {**DEFAULT_HEADINGS, **(headings or {})}
    sections = [
        Section(
            f"## {names[key]}",
            key,
            [CardRun()] if key in COLUMN_KEYS else [EntryRun()],
        )
        for key in SECTION_KEYS
        if key != "questions"  # shown once there is a question (`_complete`)
    ]
    return KanbanDocument(title=f"# {title}", sections=sections)


def _copy(block: Block) -> Block:
    """A block to place cards in, the layout's left as parsed (`copy.deepcopy` walked each
    of a 10,000-task board's ids: a third of rendering it)."""
    if isinstance(block, CardRun):
        return CardRun(block.heading, list(block.ids))
    if isinstance(block, Verbatim):
        return Verbatim(list(block.lines))
    return EntryRun()


def _complete(
    layout: KanbanDocument, headings: Mapping[SectionKey, str], questions: bool
) -> list[Section]:
    """The layout's sections plus any known section it lacks, at its usual place (the
    questions section only when there are `questions` to show)."""
    sections = [Section(s.heading, s.key, [_copy(b) for b in s.blocks]) for s in layout.sections]
    names = {**DEFAULT_HEADINGS, **headings}
    for rank, key in enumerate(SECTION_KEYS):
        if any(s.key == key for s in sections) or (key == "questions" and not questions):
            continue
        blocks: list[CardRun | EntryRun | Verbatim] = (
            [CardRun()] if key in COLUMN_KEYS else [EntryRun()]
        )
        new = Section(f"## {names[key]}", key, list(blocks))
        # After the last present section that comes before `key` in the usual order.
        earlier = set(SECTION_KEYS[:rank])
        at = 0
        for i, section in enumerate(sections):
            if section.key in earlier:
                at = i + 1
        sections.insert(at, new)
    return sections


def _place_cards(sections: list[Section], cards: Mapping[str, KanbanCard]) -> None:
    """Keep each card where the layout had it if it is still in that column; put the rest
    at the end of the first plain run of their column."""
    placed: set[str] = set()
    for section in sections:
        if section.key not in COLUMN_KEYS:
            continue
        for block in section.blocks:
            if isinstance(block, CardRun):
                keep = []
                for card_id in block.ids:
                    card = cards.get(card_id)
                    if card is None or card_id in placed:
                        continue
                    if column_key(card.status, card.blocked_reason) == section.key:
                        keep.append(card_id)
                        placed.add(card_id)
                block.ids = keep
    order = {card_id: i for i, card_id in enumerate(cards)}
    waiting = sorted(
        (c for c in cards.values() if c.id not in placed),
        key=lambda c: (c.status not in ("done", "cancelled") and c.priority, order[c.id]),
    )
    for card in waiting:
        key = column_key(card.status, card.blocked_reason)
        section = next(s for s in sections if s.key == key)
        run = next(
            (b for b in section.blocks if isinstance(b, CardRun) and b.heading is None), None
        )
        if run is None:
            run = CardRun()
            section.blocks.insert(0, run)
        run.ids.append(card.id)


def render_kanban(
    state: BoardState,
    layout: KanbanDocument | None = None,
    headings: Mapping[SectionKey, str] | None = None,
    title: str = "KANBAN.md",
) -> str:
    """KANBAN.md for `state`, in the layout of the last file people saw (or a fresh one
    titled `title`)."""
    headings = headings or {}
    layout = layout or default_layout(headings, title)
    cards = cards_of(state)
    decisions, notes = entries_of(state)
    questions = questions_of(state)
    sections = _complete(layout, headings, bool(questions))
    _place_cards(sections, cards)
    lines = [layout.title, "", synced_line(state), ""]
    for verbatim in layout.preamble:
        lines += [*verbatim.lines, ""]
    for section in sections:
        chunks: list[list[str]] = []
        for block in section.blocks:
            if isinstance(block, Verbatim):
                chunks.append(list(block.lines))
            elif isinstance(block, CardRun):
                chunk = [block.heading] if block.heading else []
                for card_id in block.ids:
                    chunk += render_card(cards[card_id])
                if chunk:
                    chunks.append(chunk)
            elif section.key == "questions":
                chunk = [line for q in questions for line in render_question(q)]
                if chunk:
                    chunks.append(chunk)
            else:
                entries = decisions if section.key == "decisions" else notes
                chunk = [line for entry in entries for line in render_entry(entry)]
                if chunk:
                    chunks.append(chunk)
        lines.append(section.heading)
        for i, chunk in enumerate(chunks):
            if i:
                lines.append("")
            lines += chunk
        lines.append("")
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n"
