"""The demo's closing story: what happened, told from the journal, and where to look.

Every line is derived from the events and the final state, so the story cannot claim
something the journal does not show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sprintboard.board.models import Event
from sprintboard.board.state import BoardState

__all__ = ["PersonEdit", "person_events", "story_facts", "tell_story"]


@dataclass(slots=True)
class PersonEdit:
    """The scripted person's three changes to KANBAN.md."""

    raised: str
    """The audit task raised to P1."""
    blocked: str
    """The optional task blocked with `reason`."""
    reason: str
    decision: str
    at_seq: int = 0
    """Journal seq when the edit was saved."""


def person_events(events: Sequence[Event]) -> list[Event]:
    """The events a person's edit became (actor `human:...`)."""
    return [e for e in events if e.actor.startswith("human:")]


def _who(events: Sequence[Event]) -> dict[str, str]:
    """Task -> `agent@host` of its last lease grant."""
    out: dict[str, str] = {}
    for e in events:
        if e.op == "lease.grant" and e.task:
            out[e.task] = f"{e.fields.get('agent')}@{e.fields.get('host')}"
    return out


def story_facts(events: Sequence[Event], person: PersonEdit) -> dict[str, list[str]]:
    """The facts the story tells, keyed by topic (the end-to-end test reads them too)."""
    human = person_events(events)
    after = [e for e in events if e.seq > min((h.seq for h in human), default=0)]
    claims_after = [e.task or "" for e in after if e.op == "lease.grant"]
    assigned_after = [
        str(e.fields.get("text", "")).split(" (")[0]
        for e in after
        if e.op == "decision.add" and str(e.fields.get("text", "")).startswith("Assigned")
    ]
    return {
        "person": [f"{e.op} {e.task or ''} {_fields(e.fields)}".strip() for e in human],
        "claims_after_edit": claims_after,
        "assigned_after_edit": assigned_after,
    }


def _fields(fields: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "from")


def _metrics(metrics: Mapping[str, float], names: Sequence[str]) -> str:
    shown = [f"{n} {metrics[n]:.3f}" for n in names if n in metrics]
    return ", ".join(shown) or "no metrics"


def _worker_lines(workspace: Path, state: BoardState, who: Mapping[str, str]) -> list[str]:
    """The step-less task a command worker did (the model card), and its note."""
    card = next((t for t in state.tasks.values() if not t.steps and t.artifacts), None)
    if card is None:
        return []
    said = [n.text for n in state.notes if n.task == card.id]
    return [
        "",
        f"{card.id} had no tool steps: {who.get(card.id, '?')} ran its command worker in "
        f"{workspace / 'runs' / card.id / str(card.attempt)} "
        f"({len(card.artifacts)} files; the Auditor checked {{run}}/MODEL_CARD.md)",
        *(f"  its note: {text}" for text in said[-1:]),
    ]


def tell_story(
    workspace: Path,
    events: Sequence[Event],
    state: BoardState,
    person: PersonEdit,
    timings: Mapping[str, float],
    memory: Sequence[Path] = (),
) -> str:
    """The printed story of one demo run."""
    who = _who(events)
    facts = story_facts(events, person)
    lines = [
        "",
        f"sprint {state.sprint.id}: {state.sprint.goal or ''}",
        f"  {len(events)} journal events; tasks and who ran them:",
    ]
    for task in sorted(state.tasks.values(), key=lambda t: t.id):
        checks = sum(1 for c in task.criteria if c.done)
        by = who.get(task.id, "nobody")
        reason = f" ({task.blocked_reason})" if task.blocked_reason else ""
        lines.append(
            f"  {task.id} {task.status:<8} {task.title:<42} {by:<22} "
            f"criteria {checks}/{len(task.criteria)}{reason}"
        )
    lines += ["", f"a person edited KANBAN.md at journal seq {person.at_seq}; it became:"]
    lines += [f"  {line}" for line in facts["person"]] or ["  (no events: the edit was lost!)"]
    if facts["assigned_after_edit"]:
        lines.append("  next decisions: " + "; ".join(facts["assigned_after_edit"][:3]))
    lines.append(f"  claims after the edit: {', '.join(facts['claims_after_edit']) or 'none'}")
    train = next((t for t in state.tasks.values() if t.title.startswith("Train")), None)
    evaluation = next((t for t in state.tasks.values() if t.title.startswith("Evaluate")), None)
    if train is not None:
        blobs = len(train.artifacts)
        lines += [
            "",
            f"training ran on {who.get(train.id, '?')} (assigned by message); "
            f"{blobs} artifacts came back as blobs into {workspace / 'runs' / train.id}",
            f"  train: {_metrics(train.metrics, ('train_loss', 'val_loss'))}",
        ]
    if evaluation is not None:
        names = ("test_loss", "test_ppl", "perplexity")
        lines.append(f"  eval:  {_metrics(evaluation.metrics, names)}")
    lines += _worker_lines(workspace, state, who)
    lines += [
        "",
        "where to look:",
        f"  {workspace / 'KANBAN.md'}               the board people edit",
        f"  {workspace / 'sprints' / 'SPRINT_QUEUE.json'}  machine state (snapshot)",
        f"  {workspace / 'sprints' / 'events.jsonl'}       the journal everything comes from",
        f"  {workspace / 'sprints' / (state.sprint.id or 'S1') / 'BACKLOG.md'}      the Planner's backlog",
        f"  {workspace / 'memory'}/                  standup and burndown PNG",
        *(f"    {path}" for path in memory),
        f"  {workspace / '.a2a' / 'ledger'}/             who asked whom for what (A2A ledgers)",
        f"  {workspace / 'runs'}/                    every attempt's outputs and reports",
        "",
        "timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
        "",
    ]
    return "\n".join(lines)
