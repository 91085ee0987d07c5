"""A person's KANBAN.md edit as events: a field-level three-way merge.

`base` is the copy the person started from (the last rendered file), `edited` what they
saved, `state` the board now (agents may have changed it since `base`). For each card,
only the fields the person changed (`base` -> `edited`) become events, so the person
wins on those and agent changes to every other field survive. New lines in Decisions and
Notes become `decision.add` / `note.add`; nothing an agent wrote is dropped. A line written
under an open question in "❓ Questions" becomes its `question.answer`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sprintboard.board.client import EventDraft
from sprintboard.board.kanban.model import (
    KanbanCard,
    KanbanDocument,
    KanbanEntry,
    cards_of,
    entries_of,
    shown_text,
)
from sprintboard.board.models import Op, Status, Task
from sprintboard.board.state import BoardState
from sprintboard.board.transitions import ALLOWED_MOVES

__all__ = ["MergeResult", "merge_edit"]


@dataclass(slots=True)
class MergeResult:
    """The events a person's edit comes to, and what could not be taken as written."""

    drafts: list[EventDraft] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def merge_edit(
    base: KanbanDocument | None,
    edited: KanbanDocument,
    state: BoardState,
    actor: str,
    *,
    id_prefix: str | None = None,
) -> MergeResult:
    """Turn `base` -> `edited` into drafts by `actor` (`human:<name>`), against `state`.

    With no `base` (the copy the person started from is unknown) only what the person
    added is merged: new cards, decisions and notes; a change to an existing card could
    as well be an agent's later change that the person's older copy lacks, so it is left
    alone and a warning says so.

    `id_prefix` makes the draft ids stable (`<prefix>-<n>`), so merging the same edit
    twice (a crash between commit and re-render) adds nothing the second time.
    """
    out = MergeResult()
    _merge_cards(base, edited, state, actor, out)
    if base is None:  # the entries the board has stand for the base: new lines are added
        decisions, notes = entries_of(state)
        base = KanbanDocument(decisions=decisions, notes=notes)
    _merge_entries(base, edited, state, actor, out)
    _answers(base, edited, state, actor, out)
    if id_prefix is not None:
        out.drafts = [
            EventDraft(d.op, d.task, d.fields, d.actor, d.fence, f"{id_prefix}-{i:03d}")
            for i, d in enumerate(out.drafts)
        ]
    return out


def _merge_cards(
    base: KanbanDocument | None,
    edited: KanbanDocument,
    state: BoardState,
    actor: str,
    out: MergeResult,
) -> None:
    """New cards become tasks; changed cards become the changes (only with a `base`)."""
    now = cards_of(state)
    untouched = []
    for card in edited.cards.values():
        task = state.tasks.get(card.id)
        if task is None:
            out.drafts.append(_create(card, actor))
            continue
        if base is None:
            if _card_changes(now[card.id], card, task, actor):
                untouched.append(card.id)
            continue
        ref = base.cards.get(card.id) or now[card.id]
        out.drafts += _card_changes(ref, card, task, actor)
    if untouched:
        out.warnings.append(
            "KANBAN.md does not say which rendered copy it was edited from (its `_Last synced: "
            "... (journal seq N)_` line is missing), so only new cards, decisions and notes "
            f"were merged; changes to {', '.join(untouched[:10])} were not. Make them again "
            "in the file as it is now."
        )


def _merge_entries(
    base: KanbanDocument, edited: KanbanDocument, state: BoardState, actor: str, out: MergeResult
) -> None:
    """Cards deleted from the file are shown again (with a warning); decisions and notes
    added become events, deleted ones are shown again."""
    for card_id, card in base.cards.items():
        if card_id not in edited.cards and card_id in state.tasks:
            out.warnings.append(
                f"{card_id} ({card.title}) was deleted from KANBAN.md; deleting a line does not "
                "delete a task, so it is shown again. To drop it, mark it `cancelled`."
            )
    shown_decisions, shown_notes = entries_of(state)
    entry_ops: tuple[tuple[str, Op, list[KanbanEntry], list[KanbanEntry], list[str]], ...] = (
        ("decision", "decision.add", base.decisions, edited.decisions,
         [d.text for d in shown_decisions]),
        ("note", "note.add", base.notes, edited.notes, [n.text for n in shown_notes]),
    )  # fmt: skip
    for kind, op, before, after, now_texts in entry_ops:
        added, removed = _entry_diff(before, after)
        # Lines the board gained since `base` and the edit also has are one change made on
        # both sides (a save merged while the person kept typing): take them once.
        both = Counter(now_texts) - Counter(e.text for e in before)
        fresh = []
        for entry in added:
            if both[entry.text] > 0:
                both[entry.text] -= 1
            else:
                fresh.append(entry)
        out.drafts += [EventDraft(op, None, {"text": shown_text(e.text)}, actor) for e in fresh]
        out.warnings += [
            f"a {kind} was deleted from KANBAN.md ({e.text[:60]!r}); the journal keeps every "
            f"{kind}, so it is shown again"
            for e in removed
        ]


def _entry_diff(
    before: list[KanbanEntry], after: list[KanbanEntry]
) -> tuple[list[KanbanEntry], list[KanbanEntry]]:
    """Entries added and removed, by text (a multiset: the same line twice counts twice)."""
    left = Counter(e.text for e in before)
    added = []
    for entry in after:
        if left[entry.text] > 0:
            left[entry.text] -= 1
        else:
            added.append(entry)
    removed = []
    for entry in before:
        if left[entry.text] > 0:
            left[entry.text] -= 1
            removed.append(entry)
    return added, removed


def _create(card: KanbanCard, actor: str) -> EventDraft:
    status: Status = card.status
    if card.checked and status not in ("done", "cancelled"):
        status = "done"
    reason = card.blocked_reason
    if status == "blocked" and not reason:
        reason = f"blocked in KANBAN.md by {actor}"
    task: dict[str, Any] = {
        "id": card.id,
        "title": card.title,
        "status": status,
        "priority": card.priority,
        "agent": card.owner,
        "caps": list(card.caps),
        "blocked_reason": reason,
        "commits": list(card.commits),
        "criteria": [
            {"text": text, "done": done, "check": None, "result": None}
            for text, done in card.criteria
        ],
        "role": "builder",
    }
    if card.done:
        task["done_at"] = f"{card.done}T00:00:00Z"
    return EventDraft("task.create", card.id, {"task": task}, actor)


def _card_changes(ref: KanbanCard, card: KanbanCard, task: Task, actor: str) -> list[EventDraft]:
    """Drafts for the fields the person changed (ref -> card) that the task does not have yet."""
    drafts: list[EventDraft] = []
    update: dict[str, Any] = {}
    if card.title != ref.title and card.title != task.title:
        update["title"] = card.title
    if card.priority != ref.priority and card.priority != task.priority:
        update["priority"] = card.priority
    if card.owner != ref.owner and card.owner != task.agent:
        update["agent"] = card.owner
    if card.caps != ref.caps and list(card.caps) != task.caps:
        update["caps"] = list(card.caps)
    if card.commits != ref.commits and list(card.commits) != task.commits:
        update["commits"] = list(card.commits)
    drafts += _criteria_changes(ref, card, task, actor, update)
    target: Status = card.status
    if card.checked and not ref.checked and target not in ("done", "cancelled"):
        target = "done"
    reason = card.blocked_reason
    if target == "blocked" and not reason:
        reason = task.blocked_reason or f"blocked in KANBAN.md by {actor}"
    moved = target != ref.status or (target == "done" and card.checked != ref.checked)
    if moved and target != task.status:
        fields: dict[str, Any] = {
            "to": target,
            "reason": reason or f"moved in KANBAN.md by {actor}",
        }
        if target == "done" or target not in ALLOWED_MOVES[task.status]:
            fields["force"] = True  # a person moving a card is the "person, forcing" of DESIGN.md
        drafts.append(EventDraft("task.move", task.id, fields, actor))
    elif (
        card.blocked_reason != ref.blocked_reason
        and card.blocked_reason
        and card.blocked_reason != task.blocked_reason
    ):
        update["blocked_reason"] = card.blocked_reason
    if update:
        drafts.insert(0, EventDraft("task.update", task.id, update, actor))
    return drafts


def _criteria_changes(
    ref: KanbanCard, card: KanbanCard, task: Task, actor: str, update: dict[str, Any]
) -> list[EventDraft]:
    """Criteria rewritten go into `update` (keeping each kept text's check and result);
    only ticks changed become `criterion.check` drafts."""
    drafts: list[EventDraft] = []
    texts = [t for t, _ in card.criteria]
    if texts != [t for t, _ in ref.criteria]:
        if texts != [c.text for c in task.criteria]:
            results = {c.text: c for c in task.criteria}
            update["criteria"] = [
                {
                    "text": text,
                    "done": done,
                    "check": results[text].check if text in results else None,
                    "result": results[text].result if text in results else None,
                }
                for text, done in card.criteria
            ]
    else:
        for index, ((_, done), (_, was)) in enumerate(
            zip(card.criteria, ref.criteria, strict=True)
        ):
            if done != was and index < len(task.criteria) and task.criteria[index].done != done:
                drafts.append(
                    EventDraft(
                        "criterion.check",
                        task.id,
                        {"index": index, "done": done, "result": f"ticked in KANBAN.md by {actor}"},
                        actor,
                    )
                )
    return drafts


def _answers(
    base: KanbanDocument, edited: KanbanDocument, state: BoardState, actor: str, out: MergeResult
) -> None:
    """An answer written under a question that is still open on the board answers it; one
    the base already had (rendered) is no change. A question answered meanwhile by another
    door keeps that answer, and a warning says the file's was not taken."""
    before = {q.id: q.answer for q in base.questions}
    asked = {q.id: q for q in state.questions}
    for q in edited.questions:
        if q.answer is None or before.get(q.id) == q.answer:
            continue
        current = asked.get(q.id)
        if current is None or current.task != q.task:
            out.warnings.append(
                f"KANBAN.md line {q.line}: no question q:{q.id} about {q.task} on the board; "
                "the answer under it was not taken"
            )
        elif current.answer is not None:
            if " ".join(current.answer.split()) != q.answer:
                out.warnings.append(
                    f"{q.task}: question q:{q.id} was answered already by "
                    f"{current.answered_by}; the other answer in KANBAN.md was not taken"
                )
        else:
            out.drafts.append(
                EventDraft("question.answer", q.task, {"text": q.answer, "question": q.id}, actor)
            )
