"""Parse KANBAN.md as people write it into a `KanbanDocument`.

Reads both what the renderer writes (exactly, so `parse(render(state))` gives the state
back) and what people wrote before sprintboard: plain or checkbox items, `**[Agent]**`
owner tags, `— Agent` suffixes, bold titles, `(commit abc1234)` refs, `✅ 2/17` dates,
standup blocks above the sections, sub-headings. A file that cannot be trusted (conflict
markers, empty or cut short, duplicate ids, not UTF-8, mojibake) raises
`KanbanParseError` with the line and what to do; nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sprintboard.board.kanban.cards import loose_card, strict_card
from sprintboard.board.kanban.model import (
    ARTIFACT_MARK,
    COLUMN_KEYS,
    DEFAULT_HEADINGS,
    END_MARKER,
    CardRun,
    EntryRun,
    KanbanDocument,
    KanbanEntry,
    KanbanQuestion,
    Section,
    SectionKey,
    Verbatim,
)
from sprintboard.board.kanban.mojibake import find_mojibake
from sprintboard.errors import KanbanParseError

__all__ = ["decode_kanban", "heading_key", "next_task_id", "parse_kanban"]

_ALIASES: dict[str, SectionKey] = {
    **{n: "done" for n in ("done", "completed", "complete", "finished", "shipped")},
    **{n: "in_progress" for n in ("in progress", "doing", "wip", "active", "ongoing")},
    **{n: "review" for n in ("review", "in review", "awaiting review", "testing", "qa")},
    **{n: "ready" for n in ("ready", "to do", "todo", "up next", "next")},
    **{n: "backlog" for n in ("backlog", "icebox", "later")},
    **{n: "blocked" for n in ("blocked", "stalled", "stuck", "waiting", "on hold")},
    **{n: "decisions" for n in ("decisions", "decision log")},
    "notes": "notes",
    **{n: "questions" for n in ("questions", "open questions", "questions for people")},
}
# Sub-headings whose items are free text (decisions taken at a standup), not cards.
_FREE_TEXT_SUBHEADING = re.compile(r"decision|note|standup|stand-up|resolved|log\b", re.I)

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ITEM = re.compile(r"^[-*+]\s+(.*)$")
_CHECKBOX = re.compile(r"^\[([ xX])\]\s*(.*)$")
_CRITERION = re.compile(r"^\s{2,}[-*+]\s+\[([ xX])\]\s*(.*)$")
_ARTIFACT = re.compile(r"^\s{2,}[-*+]\s+" + ARTIFACT_MARK + r"\s*`?([^`]*?)`?\s*$")
_ENTRY_WHO = re.compile(r"^(?P<text>.*) _\((?P<actor>[^,()]+), (?P<date>\d{4}-\d\d-\d\d)\)_$")
_QUESTION = re.compile(
    r"^`(?P<task>[^`]+)` (?P<text>.*?)"
    r"(?: _\((?P<actor>[^,()]+), (?P<date>\d{4}-\d\d-\d\d)\)_)? · `q:(?P<id>[^`\s]+)`$"
)
_ANSWER_WHO = re.compile(r"^(?P<text>.*?) _\((?P<actor>[^,()]+)\)_$")
_SYNCED = re.compile(r"^_?Last synced:.*$", re.I)
_MARKERS = ("<<<<<<<", ">>>>>>>", "|||||||")
_TASK_NUMBER = re.compile(r"^T(\d+)$")


def heading_key(name: str, headings: Mapping[SectionKey, str] | None = None) -> SectionKey | None:
    """The section a `## ` heading names, by its words (never by its emoji), or None."""
    words = _words(name)
    for key, text in (headings or {}).items():
        if _words(text) == words:
            return key
    return _ALIASES.get(words)


def _words(text: str) -> str:
    text = re.sub(r"\(.*\)\s*$", "", text)  # "Done (12)" counts are not part of the name
    return " ".join(re.sub(r"[^\w\s/&-]", " ", text).split()).lower()


def next_task_id(taken: Collection[str]) -> str:
    """The next free `T###` id after every `T<number>` id in `taken`."""
    numbers = [int(m.group(1)) for t in taken if (m := _TASK_NUMBER.match(t))]
    return f"T{max(numbers, default=0) + 1:03d}"


def decode_kanban(data: bytes, path: Path) -> str:
    """UTF-8 text of `data` with line ends normalised.

    Raises:
        KanbanParseError: not UTF-8, or the text is mojibake (UTF-8 read as cp1252 & co).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise KanbanParseError(
            path,
            line,
            f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    bad = find_mojibake(text)
    if bad:
        line, snippet = bad[0]
        raise KanbanParseError(
            path,
            line,
            f"looks like mojibake ({snippet!r}: UTF-8 that was read as another encoding and "
            f"saved again; {len(bad)} line(s)); run `sprintboard board check --repair` to see "
            "a proposed repair",
        )
    return text


def parse_kanban(
    data: bytes | str,
    path: Path = Path("KANBAN.md"),
    *,
    headings: Mapping[SectionKey, str] | None = None,
    taken: Collection[str] = (),
    require_end: bool = False,
    year: int | None = None,
) -> KanbanDocument:
    """Parse KANBAN.md. Cards without an id get the next free `T###` (not in `taken`).

    `require_end`: the last good copy ended with `END_MARKER`, so one without it was cut short.
    `year`: for `✅ 2/17` dates when the file's "last synced" line names none (default: now).

    Raises:
        KanbanParseError: conflict markers, empty or cut-short file, duplicate ids,
            not UTF-8, mojibake. The caller keeps its last good state.
    """
    text = decode_kanban(data, path) if isinstance(data, bytes) else data.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not text.strip():
        raise KanbanParseError(
            path, 1, "the file is empty (an editor may be half-way through saving); save it again"
        )
    for i, line in enumerate(lines, 1):
        if line.startswith(_MARKERS) or (line == "=======" and any(_is_marker(x) for x in lines)):
            raise KanbanParseError(
                path,
                i,
                "git conflict marker; resolve the conflict (keep both sides' lines, drop the "
                "<<<<<<< ======= >>>>>>> lines) or run `sprintboard board sync` after "
                "`git checkout --theirs KANBAN.md`",
            )
    parser = _Parser(path, headings or {}, year or datetime.now(UTC).year)
    doc = parser.run(lines)
    if require_end and not doc.ended:
        raise KanbanParseError(
            path,
            len(lines),
            f"the file ends early (its last line should be {END_MARKER!r}); an editor or "
            "sync tool may be half-way through writing it; wait and save it again",
        )
    _assign_ids(doc, taken)
    return doc


def _is_marker(line: str) -> bool:
    return line.startswith(_MARKERS)


def _assign_ids(doc: KanbanDocument, taken: Collection[str]) -> None:
    used = set(taken) | {card_id for card_id in doc.cards if not card_id.startswith("\0")}
    renamed: dict[str, str] = {}
    for key in list(doc.cards):
        if key.startswith("\0"):
            new = next_task_id(used)
            used.add(new)
            renamed[key] = new
            doc.new_ids.append(new)
    if not renamed:
        return
    doc.cards = {renamed.get(k, k): replace(c, id=renamed.get(k, k)) for k, c in doc.cards.items()}
    for section in doc.sections:
        for block in section.blocks:
            if isinstance(block, CardRun):
                block.ids = [renamed.get(i, i) for i in block.ids]


class _Parser:
    """One pass over the lines; sections hold blocks in the order they were written."""

    def __init__(self, path: Path, headings: Mapping[SectionKey, str], year: int) -> None:
        self.path, self.headings, self.year = path, {**DEFAULT_HEADINGS, **headings}, year
        self.doc = KanbanDocument()
        self.section: Section | None = None
        self.block: Verbatim | CardRun | EntryRun | None = None
        self.free_sub = False
        self.card_lines: dict[str, int] = {}
        self.last_card: str | None = None
        self.last_entry: KanbanEntry | None = None
        self.in_question = False
        self.unnamed = 0

    def run(self, lines: list[str]) -> KanbanDocument:
        doc = self.doc
        start = 0
        for i, line in enumerate(lines):
            if line.strip():
                if line.startswith("# "):
                    doc.title, start = line, i + 1
                break
        preamble: list[str] = []
        for number, line in enumerate(lines[start:], start + 1):
            if line == END_MARKER:
                doc.ended = True
                continue
            heading = _HEADING.match(line)
            if heading and len(heading.group(1)) == 2:
                self._open_section(line, heading.group(2), number)
            elif self.section is None:
                if _SYNCED.match(line.strip()) and doc.synced is None:
                    doc.synced = line
                else:
                    preamble.append(line)
            else:
                self._body(line, number, heading)
        self._close_block()
        block = _trim(preamble)
        if block:
            doc.preamble.append(Verbatim(block))
        for section in doc.sections:
            if section.key in ("decisions", "notes", "questions") and not any(
                isinstance(b, EntryRun) for b in section.blocks
            ):
                section.blocks.insert(0, EntryRun())
        return doc

    # -- sections and blocks ----------------------------------------------------------------

    def _open_section(self, line: str, name: str, number: int) -> None:
        self._close_block()
        key = heading_key(name, self.headings)
        if key is None and "/" in name:
            self.doc.warnings.append(
                f"{self.path}:{number}: section {name!r} names more than one column; "
                "kept as written (its items are not cards)"
            )
        elif key is None:
            self.doc.warnings.append(
                f"{self.path}:{number}: unknown section {name!r}; kept as written"
            )
        elif any(s.key == key for s in self.doc.sections):
            self.doc.warnings.append(
                f"{self.path}:{number}: a second {key} section; kept as written, its items "
                "are not read"
            )
            key = None
        self.section = Section(line, key)
        self.doc.sections.append(self.section)
        self.free_sub = False

    def _close_block(self) -> None:
        if isinstance(self.block, Verbatim):
            self.block.lines = _trim(self.block.lines)
            if not self.block.lines and self.section is not None:
                self.section.blocks.remove(self.block)
        self.block = None
        self.last_card = None
        self.last_entry = None
        self.in_question = False

    def _start(self, block: Verbatim | CardRun | EntryRun) -> None:
        self._close_block()
        assert self.section is not None
        self.section.blocks.append(block)
        self.block = block

    def _body(self, line: str, number: int, heading: re.Match[str] | None) -> None:
        section = self.section
        assert section is not None
        if section.key is None:
            if self.block is None:
                self._start(Verbatim([]))
            assert isinstance(self.block, Verbatim)
            self.block.lines.append(line)
            return
        if heading:
            free = section.key not in COLUMN_KEYS or bool(
                _FREE_TEXT_SUBHEADING.search(heading.group(2))
            )
            self.free_sub = free
            self._start(Verbatim([line]) if free else CardRun(heading=line))
            return
        if self.free_sub:
            assert isinstance(self.block, Verbatim)
            self.block.lines.append(line)
            return
        if not line.strip():
            if isinstance(self.block, Verbatim):
                self.block.lines.append(line)
            return
        if section.key == "questions" and self._question_line(line, number):
            return
        item = _ITEM.match(line)
        if item and section.key in COLUMN_KEYS:
            if not isinstance(self.block, CardRun):
                self._start(CardRun())
            self._card(item.group(1), section.key, number)
            return
        if item and section.key in ("decisions", "notes"):
            if not isinstance(self.block, EntryRun):
                if any(isinstance(b, EntryRun) for b in section.blocks):
                    self._close_block()
                    self.block = next(b for b in section.blocks if isinstance(b, EntryRun))
                else:
                    self._start(EntryRun())
            self._entry(item.group(1), section.key, number)
            return
        if isinstance(self.block, CardRun) and self.last_card and self._card_line(line):
            return
        if line.startswith("  ") and isinstance(self.block, EntryRun) and self.last_entry:
            entries = self.doc.decisions if section.key == "decisions" else self.doc.notes
            joined = replace(self.last_entry, text=f"{self.last_entry.text}\n{line[2:]}")
            entries[-1] = self.last_entry = joined
            return
        if not isinstance(self.block, Verbatim):
            self._start(Verbatim([]))
        assert isinstance(self.block, Verbatim)
        self.block.lines.append(line)

    def _card_line(self, line: str) -> bool:
        """A criterion or an artifact line under the last card: added to it (True)."""
        assert self.last_card is not None
        card = self.doc.cards[self.last_card]
        criterion = _CRITERION.match(line)
        if criterion:
            done = criterion.group(1) != " "
            self.doc.cards[self.last_card] = replace(
                card, criteria=(*card.criteria, (criterion.group(2).strip(), done))
            )
            return True
        artifact = _ARTIFACT.match(line)
        if artifact:
            self.doc.cards[self.last_card] = replace(
                card, artifacts=(*card.artifacts, artifact.group(1).strip())
            )
            return True
        return False

    # -- items ------------------------------------------------------------------------------

    def _question_line(self, line: str, number: int) -> bool:
        """A question (`- `T1` text · `q:ID``) or the answer line under it; False for
        anything else (kept as written)."""
        item = _ITEM.match(line)
        asked = _QUESTION.match(item.group(1)) if item else None
        if asked is not None:
            assert self.section is not None
            if not isinstance(self.block, EntryRun):
                run = next((b for b in self.section.blocks if isinstance(b, EntryRun)), None)
                if run is None:
                    self._start(EntryRun())
                else:
                    self._close_block()
                    self.block = run
            self.doc.questions.append(
                KanbanQuestion(
                    asked.group("id"),
                    asked.group("task"),
                    asked.group("text").strip(),
                    asked.group("actor"),
                    asked.group("date"),
                    line=number,
                )
            )
            self.in_question = True
            return True
        if not (self.in_question and line[:1] in (" ", "\t") and line.strip()):
            return False
        text = re.sub(r"^[-*+]\s+", "", line.strip())
        text = text.removeprefix("✅").strip()
        who = _ANSWER_WHO.match(text)
        by = who.group("actor") if who else None
        text = who.group("text").strip() if who else text
        if text:
            q = self.doc.questions[-1]
            joined = text if q.answer is None else f"{q.answer} {text}"
            self.doc.questions[-1] = replace(q, answer=joined, answered_by=q.answered_by or by)
        return True

    def _entry(self, text: str, key: SectionKey, number: int) -> None:
        who = _ENTRY_WHO.match(text)
        entry = (
            KanbanEntry(who.group("text").strip(), who.group("actor"), who.group("date"), number)
            if who
            else KanbanEntry(text.strip(), None, None, number)
        )
        (self.doc.decisions if key == "decisions" else self.doc.notes).append(entry)
        self.last_entry = entry

    def _card(self, text: str, key: SectionKey, number: int) -> None:
        checked = False
        box = _CHECKBOX.match(text)
        if box:
            checked, text = box.group(1) != " ", box.group(2)
        synced_year = re.search(r"\b(20\d\d)-", self.doc.synced or "")
        card = strict_card(text, key, checked, number) or loose_card(
            text,
            key,
            checked,
            number,
            year=int(synced_year.group(1)) if synced_year else self.year,
            placeholder=f"\0{self._next_unnamed()}",
        )
        if card.id in self.doc.cards:
            raise KanbanParseError(
                self.path,
                number,
                f"duplicate id {card.id} (also on line {self.card_lines[card.id]}); give one of "
                "the cards another id, or delete the id to get a new one",
            )
        self.card_lines[card.id] = number
        self.doc.cards[card.id] = card
        assert isinstance(self.block, CardRun)
        self.block.ids.append(card.id)
        self.last_card = card.id

    def _next_unnamed(self) -> int:
        self.unnamed += 1
        return self.unnamed


def _trim(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]
