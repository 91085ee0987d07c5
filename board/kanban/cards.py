"""One KANBAN.md card line: the exact form the renderer writes, and the forms people write.

`strict_card` reads the renderer's line back exactly (the round trip); `loose_card` takes
a person's line apart: a leading id, `P1`, `**[Agent]**` or a trailing `— Agent`,
`(commit abc1234)`, `✅ 2/17`, a `` `status` `` tag, a blocked reason, a bold title.
"""

from __future__ import annotations

import re

from sprintboard.board.kanban.model import KanbanCard, SectionKey, default_status
from sprintboard.board.models import STATUSES, Status

__all__ = ["loose_card", "strict_card"]

_STRICT = re.compile(
    r"^`(?P<id>[^`\s]+)` P(?P<prio>\d+) (?P<strike>~~)?\*\*(?P<title>(?:\\.|[^*\\])+)\*\*(?P<tail>.*)$"
)
_OWNER_TAG = re.compile(r"\*\*\[([^\]*]+)\]\*\*")
_NEEDS = re.compile(r"needs:\s*([A-Za-z0-9_.:+-]+(?:\s*,\s*[A-Za-z0-9_.:+-]+)*)")
_LOOSE_NEEDS = re.compile(r"(?:^|\s*·\s*)" + _NEEDS.pattern + r"(?=\s*(?:·|$))")
_STATUS_TAG = re.compile(r"`([a-z_]+)`")
_COMMITS = re.compile(r"^\(commits? `?([0-9a-zA-Z]+(?:`?,\s*`?[0-9a-zA-Z]+)*)`?\)$")
_DONE = re.compile(r"^✅\s*(\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2})$")
_LEAD_ID = re.compile(
    r"^(?:`([^`\s]+)`|\*\*([A-Z]{1,5}-?\d+)\*\*|([A-Z]{1,5}-\d+|T\d{2,}))[:.]?\s+"
)
_PRIORITY = re.compile(r"(?:^|\s)[\[(]?P([0-9])[\])]?(?=\s|$)")
_TRAILING = (
    re.compile(r"\s+(\(commits? [^()]*\))$"),
    re.compile(r"\s+(✅\s*(?:\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2}))$"),
    re.compile(r"\s+(?:—|--|–)\s+([A-Za-z][\w.@:-]*)$"),
)


def strict_card(text: str, key: SectionKey, checked: bool, number: int) -> KanbanCard | None:
    """A card line exactly as the renderer writes it, or None if it is not one."""
    m = _STRICT.match(text)
    if not m:
        return None
    tail = m.group("tail")
    strike = bool(m.group("strike"))
    if strike:
        if not tail.startswith("~~"):
            return None
        tail = tail[2:]
    if tail and not tail.startswith(" · "):
        return None
    tail, _, reason = tail.partition(" · blocked: ")
    owner = None
    caps: tuple[str, ...] = ()
    status: Status | None = None
    commits: tuple[str, ...] = ()
    done = None
    for token in tail.split(" · ")[1:]:
        tag = _OWNER_TAG.fullmatch(token)
        needs = _NEEDS.fullmatch(token)
        explicit = _STATUS_TAG.fullmatch(token)
        found_commits = _COMMITS.match(token)
        found_done = _DONE.match(token)
        if tag and owner is None:
            owner = tag.group(1)
        elif needs and not caps:
            caps = _caps(needs.group(1))
        elif explicit and explicit.group(1) in STATUSES and status is None:
            status = explicit.group(1)  # type: ignore[assignment]  # checked against STATUSES
        elif found_commits and not commits:
            commits = tuple(c.strip(" `") for c in found_commits.group(1).split(","))
        elif found_done and done is None and "-" in found_done.group(1):
            done = found_done.group(1)
        else:
            return None  # something a person added: read the line the loose way
    if status is None:
        status = "cancelled" if strike else default_status(key)
    return KanbanCard(
        id=m.group("id"),
        title=_unescape(m.group("title")),
        status=status,
        priority=int(m.group("prio")),
        owner=owner,
        caps=caps,
        blocked_reason=reason or None,
        commits=commits,
        done=done,
        checked=checked,
        line=number,
    )


def loose_card(
    text: str, key: SectionKey, checked: bool, number: int, *, year: int, placeholder: str
) -> KanbanCard:
    """A card line as people write it: whatever can be recognised is taken out of the title."""
    card_id = None
    lead = _LEAD_ID.match(text)
    if lead:
        card_id = next(g for g in lead.groups() if g)
        text = text[lead.end() :]
    priority = 3
    found = _PRIORITY.search(text)
    if found:
        priority = int(found.group(1))
        text = (text[: found.start()] + " " + text[found.end() :]).strip()
    owner = None
    tag = _OWNER_TAG.search(text)
    if tag:
        owner = tag.group(1).strip()
        text = (text[: tag.start()] + text[tag.end() :]).strip()
    caps: tuple[str, ...] = ()
    needs = _LOOSE_NEEDS.search(text)
    if needs:
        caps = _caps(needs.group(1))
        text = (text[: needs.start()] + text[needs.end() :]).strip()
    reason = None
    text, _, blocked = text.partition(" · blocked: ")
    if blocked:
        reason = blocked.strip()
    status: Status = default_status(key)
    explicit = _STATUS_TAG.search(text)
    if explicit and explicit.group(1) in STATUSES:
        status = explicit.group(1)  # type: ignore[assignment]  # checked against STATUSES
        text = (text[: explicit.start()] + text[explicit.end() :]).strip()
    text, commits, done, owner = _trailing(text, year, owner)
    text = text.strip().rstrip(" ·")
    if text.startswith("~~") and text.endswith("~~") and len(text) > 4:
        text, status = text[2:-2], "cancelled"
    bold = re.match(r"^\*\*((?:\\.|[^*\\])+)\*\*(.*)$", text)
    if bold:
        text = (bold.group(1) + " " + bold.group(2).strip(" —-:")).strip()
    if key == "blocked" and reason is None:
        parts = re.split(r"(: | — )", text, maxsplit=1)
        if len(parts) == 3 and parts[2].strip():
            text, reason = parts[0], parts[2].strip()
    if status == "blocked" and key == "blocked" and not reason:
        reason = "blocked (no reason given in KANBAN.md)"
    title = _unescape(" ".join(text.split())) or "(untitled)"
    return KanbanCard(
        id=card_id or placeholder,
        title=title,
        status=status,
        priority=priority,
        owner=owner,
        caps=caps,
        blocked_reason=reason,
        commits=commits,
        done=done,
        checked=checked,
        line=number,
    )


def _caps(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _trailing(
    text: str, year: int, owner: str | None
) -> tuple[str, tuple[str, ...], str | None, str | None]:
    """Take the trailing tags off a card line, last first, in any order: commits, the done
    date, and a bare owner name (only when no `**[owner]**` tag named one)."""
    commits: tuple[str, ...] = ()
    done = None
    changed = True
    while changed:
        changed = False
        for pattern in _TRAILING:
            m = pattern.search(text)
            if not m:
                continue
            token = m.group(1)
            if token.startswith("(commit"):
                found_commits = _COMMITS.match(token)
                if not found_commits:
                    continue
                commits = tuple(c.strip(" `") for c in found_commits.group(1).split(","))
            elif token.startswith("✅"):
                done = _date(token, year)
            elif owner is None:
                owner = token
            else:
                continue
            text, changed = text[: m.start()].rstrip(" ·"), True
    return text, commits, done, owner


def _date(token: str, year: int) -> str | None:
    m = _DONE.match(token)
    if not m:
        return None
    value = m.group(1)
    if "/" in value:
        month, day = (int(x) for x in value.split("/"))
        return f"{year:04d}-{month:02d}-{day:02d}"
    return value


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
