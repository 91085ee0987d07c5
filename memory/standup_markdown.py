"""The facts of a standup as markdown sections: the part a model may summarise.

One bullet per item, "- none" for an empty section, every time as UTC minutes and every
age against the standup's `as_of`, so the same facts always give the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sprintboard.board.clock import parse_ts
from sprintboard.memory.history import format_age, format_minute
from sprintboard.memory.standup_facts import StandupFacts

__all__ = ["render_facts"]


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

    out: list[str] = ["### Done since the last standup"]
    done = []
    for d in facts.done:
        line = f"**{d.task}** {d.title} — done {format_minute(d.ts)} by {d.by}"
        if d.artifacts:
            arts = ", ".join(f"`{a.path}` ({a.sha256[:12]}, {a.size} B)" for a in d.artifacts)
            line += f"; artifacts: {arts}"
        if d.commits:
            line += f"; commits: {', '.join(d.commits)}"
        done.append(line)
    out += _bullets(done)

    out += ["", "### In progress"]
    doing = []
    for t in facts.in_progress:
        if t.agent is not None and t.acquired is not None and t.last_heartbeat is not None:
            doing.append(
                f"**{t.task}** {t.title} — {t.status}, {t.agent}@{t.host}; lease "
                f"{ago(t.acquired)} old, last heartbeat {ago(t.last_heartbeat)} ago "
                f"({t.heartbeats} heartbeats)"
            )
        else:
            doing.append(
                f"**{t.task}** {t.title} — {t.status} since {format_minute(t.since)} "
                f"({ago(t.since)}), by {t.by}"
            )
    out += _bullets(doing)

    out += ["", "### Blocked"]
    out += _bullets(
        [
            f"**{b.task}** {b.title} — {b.reason or b.status}; since {format_minute(b.since)} "
            f"({ago(b.since)}), by {b.by}; can unblock: {', '.join(b.unblockers)}"
            for b in facts.blocked
        ]
    )

    out += ["", "### Waiting for a person"]
    manual = []
    for m in facts.manual:
        line = (
            f"**{m.task}** {m.title} — needs_manual since {format_minute(m.since)} ({ago(m.since)})"
        )
        if m.open_criteria:
            line += "; to check: " + "; ".join(m.open_criteria)
        manual.append(line)
    out += _bullets(manual)

    out += ["", "### Decisions"]
    out += _bullets(
        [
            f"{format_minute(d.ts)} {d.actor}" + (f" ({d.task})" if d.task else "") + f": {d.text}"
            for d in facts.decisions
        ]
    )

    out += ["", "### Next on the critical path"]
    if facts.critical_path:
        finished = set(facts.finished_on_path)
        shown = [f"~~{t}~~" if t in finished else t for t in facts.critical_path]
        struck = " (finished ones struck through)" if finished else ""
        out.append("Critical path: " + " → ".join(shown) + struck)
    if facts.next_note:
        fallback = "" if facts.critical_path else "; ready tasks by priority instead"
        out.append(f"_{facts.next_note[0].upper()}{facts.next_note[1:]}{fallback}._")
    out += _bullets(
        [f"**{n.task}** {n.title} — P{n.priority}, {n.detail}" for n in facts.next_items]
    )

    out += ["", f"### Stalled (no event in {facts.stalled_days} days)"]
    out += _bullets(
        [
            f"**{s.task}** {s.title} — {s.status}, last event {format_minute(s.since)} "
            f"({ago(s.since)} ago)"
            for s in facts.stalled
        ]
    )

    out += ["", "### Blockers in daily notes"]
    noted = [
        f"{', '.join(b.tasks)} — {_where(b.path, root)}:{b.line} ({b.section}): {b.text}"
        for b in facts.note_blockers
    ]
    noted += [f"unreadable note: {p}" for p in problems]
    out += _bullets(noted)

    out += ["", "### Per host and agent"]
    actors = []
    for a in facts.actors:
        parts = [f"{a.events} event" + ("" if a.events == 1 else "s")]
        if a.holds:
            parts.append("holds " + ", ".join(a.holds))
        if a.touched:
            parts.append("touched " + ", ".join(a.touched))
        actors.append(f"{a.host} / {a.actor}: " + "; ".join(parts))
    out += _bullets(actors)
    return "\n".join(out) + "\n"
