"""People's KANBAN.md edits become events: field-level three-way merge with agents' changes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.kanban.merge import merge_edit
from sprintboard.board.kanban.model import (
    KanbanCard,
    KanbanDocument,
    KanbanEntry,
    KanbanQuestion,
    cards_of,
    entries_of,
    questions_of,
)
from sprintboard.board.kanban.sync import KanbanSync
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Task
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.board.state import BoardState

ROLES = ("planner", "negotiator", "builder", "auditor")
POLICY = BoardPolicy(owner="alpha", agent_roles={f"{r}-1": r for r in ROLES})


def _open(root: Path) -> tuple[LocalBoard, KanbanSync]:
    view = KanbanSync(root, actor="human:ana")
    board = LocalBoard(
        root, host="alpha", policy=POLICY, clock=FrozenClock(), ids=CounterIds(), observers=[view]
    )
    return board, view


def _seed(board: LocalBoard) -> None:
    board.create_tasks(
        [
            {"id": "T001", "title": "Audit the TOEFL set", "status": "ready", "priority": 1},
            {"id": "T002", "title": "Dedup stage 1", "status": "ready", "priority": 2},
            {
                "id": "T003",
                "title": "Train LoRA",
                "status": "needs_plan",
                "criteria": [{"text": "val loss below 1.5"}, {"text": "adapter saved"}],
            },
        ],
        actor="planner-1@alpha",
    )
    board.add_decision("Dedup within source only", actor="human:ana")


def _save(path: Path, text: str) -> None:
    """Save the way editors do: write a temp file, rename it over the old one."""
    tmp = path.with_name(".KANBAN.md.swp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _edit(path: Path, old: str, new: str, text: str | None = None) -> str:
    text = text if text is not None else path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in the file"
    return text.replace(old, new, 1)


def _section_of(text: str, needle: str) -> str:
    heading = ""
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line
        if needle in line:
            return heading
    raise AssertionError(f"{needle!r} not in the file")


@pytest.fixture
def board(tmp_path: Path) -> tuple[LocalBoard, KanbanSync]:
    board, view = _open(tmp_path)
    _seed(board)
    return board, view


def test_each_kind_of_edit_becomes_an_event_by_the_person(
    board: tuple[LocalBoard, KanbanSync],
) -> None:
    b, view = board
    text = view.path.read_text(encoding="utf-8")
    line = "- [ ] `T001` P1 **Audit the TOEFL set**"
    text = _edit(view.path, line + "\n", "", text)  # move T001 to In Progress, owner, priority
    text = _edit(
        view.path,
        "## 🔨 In Progress\n",
        "## 🔨 In Progress\n- [ ] `T001` P0 **Audit the TOEFL set** · **[builder-1]**\n",
        text,
    )
    text = _edit(view.path, "  - [ ] val loss below 1.5", "  - [x] val loss below 1.5", text)
    text = _edit(view.path, "- [ ] `T002` P2 **Dedup stage 1**\n", "", text)
    text = _edit(
        view.path,
        "## 🚫 Blocked\n",
        "## 🚫 Blocked\n- [ ] `T002` P2 **Dedup stage 1** · blocked: waiting for disk space\n",
        text,
    )
    text = _edit(
        view.path, "## 📋 Backlog\n", "## 📋 Backlog\n- Write the eval harness — Petrarch\n", text
    )
    text = _edit(view.path, "## 📝 Notes\n", "## 📝 Notes\n- GPU box is down on Friday\n", text)
    text = _edit(view.path, "## 🧭 Decisions\n", "## 🧭 Decisions\n- Three epochs, no more\n", text)
    _save(view.path, text)
    report = view.sync(b)
    assert report.error is None and report.merged
    assert {e.actor for e in report.events} == {"human:ana"}
    assert report.new_ids == ["T004"]
    state = b.snapshot()
    t1, t2, t3, t4 = (state.tasks[t] for t in ("T001", "T002", "T003", "T004"))
    assert (t1.status, t1.agent, t1.priority) == ("in_progress", "builder-1", 0)
    assert (t2.status, t2.blocked_reason) == ("blocked", "waiting for disk space")
    assert [c.done for c in t3.criteria] == [True, False]
    assert (t4.title, t4.agent, t4.status) == ("Write the eval harness", "Petrarch", "needs_plan")
    assert [d.text for d in state.decisions] == [
        "Dedup within source only",
        "Three epochs, no more",
    ]
    assert [n.text for n in state.notes] == ["GPU box is down on Friday"]
    # Re-rendered from the journal: the new card shows its id, the file is a rendered copy.
    after = view.path.read_bytes()
    assert view.is_rendered(after)
    assert "- [ ] `T004` P3 **Write the eval harness** · **[Petrarch]**" in after.decode()
    assert view.sync(b).merged is False  # nothing left to merge


def test_a_person_sets_caps_on_a_card(board: tuple[LocalBoard, KanbanSync]) -> None:
    b, view = board
    line = "- [ ] `T001` P1 **Audit the TOEFL set**"
    _save(view.path, _edit(view.path, line, line + " · needs: code, gpu"))
    report = view.sync(b)
    assert report.error is None and report.merged
    assert b.snapshot().tasks["T001"].caps == ["code", "gpu"]
    assert line + " · needs: code, gpu" in view.path.read_text(encoding="utf-8")


def test_person_and_agent_changing_different_fields_both_survive(
    board: tuple[LocalBoard, KanbanSync],
) -> None:
    b, view = board
    # The person raises T002's priority in an editor (not saved yet)...
    edited = _edit(view.path, "`T002` P2", "`T002` P0")
    # ...while an agent claims T002 (status + owner change, file re-rendered).
    b.claim("T002", agent="builder-1", host="alpha", ttl=600)
    assert "`T002` P2 **Dedup stage 1** · **[builder-1]**" in view.path.read_text("utf-8")
    _save(view.path, edited)
    view.sync(b)
    t2 = b.snapshot().tasks["T002"]
    assert (t2.priority, t2.status, t2.agent) == (0, "in_progress", "builder-1")
    assert t2.lease is not None  # the agent's lease survives a person's edit of other fields


def test_on_a_field_both_touched_the_person_wins(board: tuple[LocalBoard, KanbanSync]) -> None:
    b, view = board
    edited = _edit(view.path, "`T001` P1 **Audit the TOEFL set**", "`T001` P1 **Audit TOEFL v2**")
    b.update_task("T001", {"title": "Audit the TOEFL set (agent)"}, actor="planner-1@alpha")
    _save(view.path, edited)
    view.sync(b)
    assert b.snapshot().tasks["T001"].title == "Audit TOEFL v2"


def _the_real_failure(b: LocalBoard, view: KanbanSync, order: str) -> BoardState:
    """DESIGN.md's lost decisions: a person adds a decision while an agent moves two cards
    and adds its own decision."""
    edited = _edit(
        view.path,
        "- Dedup within source only _(human:ana, 2026-01-01)_\n",
        "- Dedup within source only _(human:ana, 2026-01-01)_\n- Keep the 402 fallback\n",
    )

    def agent() -> None:
        b.claim("T001", agent="builder-1", host="alpha", ttl=600)
        b.move("T003", "ready", actor="planner-1@alpha")
        b.add_decision("Mix ratio 40/25/20/10/5", actor="negotiator-1@alpha")

    if order == "person-merged-first":
        _save(view.path, edited)
        assert view.sync(b).merged
        agent()
    elif order == "person-saved-first":
        _save(view.path, edited)
        agent()  # renders are refused: the file holds the person's unmerged edit
        assert view.pending and view.path.read_text("utf-8") == edited
        assert view.sync(b).merged
    else:
        agent()  # the file is re-rendered under the person's open editor
        _save(view.path, edited)
        assert view.sync(b).merged
    return b.snapshot()


@pytest.mark.parametrize("order", ["person-merged-first", "person-saved-first", "agent-first"])
def test_a_decision_added_while_an_agent_works_is_never_dropped(
    board: tuple[LocalBoard, KanbanSync], order: str
) -> None:
    b, view = board
    state = _the_real_failure(b, view, order)
    assert sorted(d.text for d in state.decisions) == [
        "Dedup within source only",
        "Keep the 402 fallback",
        "Mix ratio 40/25/20/10/5",
    ]
    assert {d.actor for d in state.decisions} == {"human:ana", "negotiator-1@alpha"}
    assert (state.tasks["T001"].status, state.tasks["T003"].status) == ("in_progress", "ready")
    assert state.tasks["T001"].lease is not None
    text = view.path.read_text("utf-8")
    for decision in ("Dedup within source only", "Keep the 402 fallback", "Mix ratio 40/25"):
        assert _section_of(text, decision) == "## 🧭 Decisions"
    assert _section_of(text, "`T001`") == "## 🔨 In Progress"
    assert _section_of(text, "`T003`") == "## 🟢 Ready"
    assert view.is_rendered(text.encode())


def test_a_broken_file_is_never_overwritten_and_the_board_keeps_working(
    board: tuple[LocalBoard, KanbanSync],
) -> None:
    b, view = board
    good = view.path.read_text("utf-8")
    broken = good.replace("## 🟢 Ready\n", "## 🟢 Ready\n<<<<<<< HEAD\n", 1)
    _save(view.path, broken)
    report = view.sync(b)
    assert (
        report.error is not None
        and report.error.line == broken.splitlines().index("<<<<<<< HEAD") + 1
    )
    before = b.snapshot()
    b.claim("T002", agent="builder-1", host="alpha", ttl=600)  # agents go on
    assert view.path.read_text("utf-8") == broken  # never overwritten
    assert b.snapshot().seq == before.seq + 1
    _save(view.path, good.replace("## 🧭 Decisions\n", "## 🧭 Decisions\n- Fixed it\n"))
    view.sync(b)
    state = b.snapshot()
    assert state.tasks["T002"].status == "in_progress"  # the claim made meanwhile survives
    assert [d.text for d in state.decisions][-1] == "Fixed it"


def test_a_half_saved_file_is_refused_then_merged_when_whole(
    board: tuple[LocalBoard, KanbanSync],
) -> None:
    b, view = board
    whole = _edit(view.path, "`T002` P2", "`T002` P1")
    _save(view.path, whole[: whole.index("## 🚫 Blocked")])
    report = view.sync(b)
    assert report.error is not None and "ends early" in report.error.reason
    assert b.snapshot().tasks["T002"].priority == 2
    _save(view.path, whole)
    assert view.sync(b).error is None
    assert b.snapshot().tasks["T002"].priority == 1


def test_deleting_a_line_deletes_nothing(board: tuple[LocalBoard, KanbanSync]) -> None:
    b, view = board
    _save(view.path, _edit(view.path, "- [ ] `T002` P2 **Dedup stage 1**\n", ""))
    report = view.sync(b)
    assert any("T002" in w and "cancelled" in w for w in report.warnings)
    assert "`T002`" in view.path.read_text("utf-8")


def test_ticking_a_card_finishes_it_as_a_forcing_person(
    board: tuple[LocalBoard, KanbanSync],
) -> None:
    b, view = board
    _save(view.path, _edit(view.path, "- [ ] `T001` P1", "- [x] `T001` P1"))
    view.sync(b)
    t1 = b.snapshot().tasks["T001"]
    assert t1.status == "done" and t1.done_at is not None
    assert _section_of(view.path.read_text("utf-8"), "`T001`") == "## ✅ Done"


def test_merging_the_same_edit_twice_adds_nothing(tmp_path: Path) -> None:
    b, view = _open(tmp_path)
    _seed(b)
    edited = _edit(view.path, "## 📝 Notes\n", "## 📝 Notes\n- once\n")
    _save(view.path, edited)
    first = view.sync(b)
    # A crash after the commit but before the re-render leaves the edit in place.
    _save(view.path, edited)
    second = view.sync(b)
    assert len(first.events) == 1 and second.events == []
    assert [n.text for n in b.snapshot().notes] == ["once"]


def test_a_copy_older_than_every_kept_render_reverts_nothing(
    board: tuple[LocalBoard, KanbanSync],
) -> None:
    """The base is the copy the file names (`journal seq N`), rebuilt from the journal when
    more agent writes than the kept copies (20) happened since (issue 16)."""
    b, view = board
    old = view.path.read_text(encoding="utf-8")  # a person opens the file...
    b.claim("T001", agent="builder-1", host="alpha", ttl=600)  # ...agents keep working
    b.update_task("T002", {"title": "Dedup stage 1 and 2"}, actor="planner-1@alpha")
    for priority in range(25):
        b.update_task("T003", {"priority": priority % 9}, actor="planner-1@alpha")
    assert len(list(view.store.glob("*.md"))) <= 20
    _save(view.path, _edit(view.path, "## 🧭 Decisions\n", "## 🧭 Decisions\n- Ship Friday\n", old))
    report = view.sync(b)
    assert report.error is None and report.merged
    state = b.snapshot()
    assert state.tasks["T001"].status == "in_progress" and state.tasks["T001"].lease is not None
    assert state.tasks["T002"].title == "Dedup stage 1 and 2"
    assert state.tasks["T003"].priority == 24 % 9
    assert [d.text for d in state.decisions][-1] == "Ship Friday"
    assert {e.op for e in report.events} == {"decision.add"}


def test_a_file_that_names_no_copy_merges_only_what_was_added(
    board: tuple[LocalBoard, KanbanSync],
) -> None:
    b, view = board
    text = view.path.read_text(encoding="utf-8")
    synced = next(line for line in text.splitlines() if line.startswith("_Last synced"))
    text = _edit(view.path, synced + "\n", "", text)
    text = _edit(view.path, "`T002` P2", "`T002` P0", text)  # not taken: the base is unknown
    text = _edit(view.path, "## 📝 Notes\n", "## 📝 Notes\n- Backups run nightly\n", text)
    _save(view.path, text)
    report = view.sync(b)
    assert report.error is None
    assert b.snapshot().tasks["T002"].priority == 2
    assert [n.text for n in b.snapshot().notes] == ["Backups run nightly"]
    assert any("only new cards, decisions and notes" in w for w in report.warnings)


# -- every merged field: the person wins where both touched it, the agent keeps the rest ----

_PERSON = "human:ana"


@dataclass(frozen=True)
class _Field:
    """One field the merge carries: the person's edit of a card, an agent's change of the
    same field, and how to read it back from the task."""

    edit: Callable[[KanbanCard], KanbanCard]
    agent: Callable[[LocalBoard], None]
    read: Callable[[Task], object]
    person_value: object
    agent_value: object


def _agent_update(**fields: object) -> Callable[[LocalBoard], None]:
    return lambda b: b.update_task("T1", fields, actor="planner-1@alpha")


_FIELDS: dict[str, _Field] = {
    "title": _Field(
        lambda c: replace(c, title="Person title"),
        _agent_update(title="Agent title"),
        lambda t: t.title,
        "Person title",
        "Agent title",
    ),
    "priority": _Field(
        lambda c: replace(c, priority=0),
        _agent_update(priority=2),
        lambda t: t.priority,
        0,
        2,
    ),
    "owner": _Field(
        lambda c: replace(c, owner="ana"),
        _agent_update(agent="builder-1"),
        lambda t: t.agent,
        "ana",
        "builder-1",
    ),
    "commits": _Field(
        lambda c: replace(c, commits=("abc1234",)),
        _agent_update(commits=["fff0000"]),
        lambda t: t.commits,
        ["abc1234"],
        ["fff0000"],
    ),
    "criteria": _Field(
        lambda c: replace(c, criteria=(("person's criterion", False),)),
        _agent_update(criteria=[{"text": "agent's criterion"}]),
        lambda t: [x.text for x in t.criteria],
        ["person's criterion"],
        ["agent's criterion"],
    ),
    "status": _Field(
        lambda c: replace(c, status="cancelled", checked=True),
        lambda b: b.move("T1", "ready", actor="planner-1@alpha"),
        lambda t: t.status,
        "cancelled",
        "ready",
    ),
    "caps": _Field(
        lambda c: replace(c, caps=("mlx",)),
        _agent_update(caps=["cuda"]),
        lambda t: t.caps,
        ["mlx"],
        ["cuda"],
    ),
    "blocked_reason": _Field(
        lambda c: replace(c, blocked_reason="the person's reason"),
        _agent_update(blocked_reason="the agent's reason"),
        lambda t: t.blocked_reason,
        "the person's reason",
        "the agent's reason",
    ),
}


def _merge_board(tmp_path: Path) -> LocalBoard:
    board = LocalBoard(tmp_path, host="alpha", policy=POLICY, clock=FrozenClock(), ids=CounterIds())
    board.create_tasks(
        [
            {
                "id": "T1",
                "title": "Base title",
                "status": "blocked",
                "blocked_reason": "the base reason",
                "priority": 1,
                "criteria": [{"text": "base criterion"}],
                "commits": ["0000000"],
            },
            {"id": "T2", "title": "Other", "status": "ready"},
        ],
        actor="planner-1@alpha",
    )
    return board


def _merged(board: LocalBoard, base: KanbanDocument, edited: KanbanDocument) -> Task:
    result = merge_edit(base, edited, board.snapshot(), _PERSON)
    assert {d.actor for d in result.drafts} <= {_PERSON}
    board.apply(result.drafts)
    return board.snapshot().tasks["T1"]


@pytest.mark.parametrize("name", list(_FIELDS))
def test_on_every_merged_field_both_touched_the_person_wins(tmp_path: Path, name: str) -> None:
    spec = _FIELDS[name]
    board = _merge_board(tmp_path)
    base = KanbanDocument(cards=cards_of(board.snapshot()))
    edited = KanbanDocument(cards={**base.cards, "T1": spec.edit(base.cards["T1"])})
    spec.agent(board)
    assert spec.read(board.snapshot().tasks["T1"]) == spec.agent_value
    assert spec.read(_merged(board, base, edited)) == spec.person_value


@pytest.mark.parametrize("name", list(_FIELDS))
def test_an_agent_change_the_person_did_not_touch_survives(tmp_path: Path, name: str) -> None:
    spec = _FIELDS[name]
    board = _merge_board(tmp_path)
    base = KanbanDocument(cards=cards_of(board.snapshot()))
    other = "title" if name != "title" else "priority"
    edited_card = _FIELDS[other].edit(base.cards["T1"])
    edited = KanbanDocument(cards={**base.cards, "T1": edited_card})
    spec.agent(board)
    task = _merged(board, base, edited)
    assert spec.read(task) == spec.agent_value
    assert _FIELDS[other].read(task) == _FIELDS[other].person_value


def test_an_unchanged_file_merges_to_nothing(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    base = KanbanDocument(cards=cards_of(board.snapshot()))
    for spec in _FIELDS.values():
        if spec.read(board.snapshot().tasks["T1"]) != spec.agent_value:
            spec.agent(board)
    result = merge_edit(base, KanbanDocument(cards=dict(base.cards)), board.snapshot(), _PERSON)
    assert (result.drafts, result.warnings) == ([], [])


def _docs(board: LocalBoard) -> tuple[KanbanDocument, KanbanDocument]:
    state = board.snapshot()
    decisions, notes = entries_of(state)
    base = KanbanDocument(cards=cards_of(state), decisions=decisions, notes=notes)
    edited = KanbanDocument(cards=dict(base.cards), decisions=list(decisions), notes=list(notes))
    return base, edited


def test_new_cards_are_created_as_the_person_wrote_them(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    base, edited = _docs(board)
    edited.cards["N1"] = KanbanCard(
        "N1", "Ticked", "ready", priority=1, checked=True, done="2026-02-03"
    )
    edited.cards["N2"] = KanbanCard("N2", "Stuck", "blocked", owner="ana", commits=("abc",))
    edited.cards["N3"] = KanbanCard(
        "N3", "Why", "blocked", blocked_reason="legal", criteria=(("c", True),)
    )
    edited.cards["N4"] = KanbanCard("N4", "Dropped", "cancelled", checked=True)
    result = merge_edit(base, edited, board.snapshot(), _PERSON)
    assert [(d.op, d.task, d.actor) for d in result.drafts] == [
        ("task.create", n, _PERSON) for n in ("N1", "N2", "N3", "N4")
    ]
    n1, n2, n3, n4 = (d.fields["task"] for d in result.drafts)
    assert (n1["status"], n1["priority"], n1["done_at"]) == ("done", 1, "2026-02-03T00:00:00Z")
    assert (n2["status"], n2["blocked_reason"], n2["agent"], n2["commits"]) == (
        "blocked",
        "blocked in KANBAN.md by human:ana",
        "ana",
        ["abc"],
    )
    assert (n3["blocked_reason"], n3["role"], "done_at" in n3) == ("legal", "builder", False)
    assert n3["criteria"] == [{"text": "c", "done": True, "check": None, "result": None}]
    assert (n4["status"], n4["title"]) == ("cancelled", "Dropped")
    board.apply(result.drafts)
    assert board.snapshot().tasks["N1"].status == "done"


def test_ticking_criteria_in_the_file_checks_them_once(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    board.update_task("T1", {"criteria": [{"text": "a"}, {"text": "b"}, {"text": "c"}]})
    board.check_criterion("T1", 2, True, "by the auditor", "human:bob")
    base, edited = _docs(board)
    card = base.cards["T1"]
    ticked = (("a", True), ("b", False), ("c", True))
    edited.cards["T1"] = replace(card, criteria=ticked)
    assert card.criteria[2] == ("c", True)
    board.check_criterion("T1", 0, True, "meanwhile", "human:bob")  # the agent got there first
    result = merge_edit(base, edited, board.snapshot(), _PERSON)
    assert result.drafts == []  # a tick the task already has is not written again
    board2 = _merge_board(tmp_path / "again")
    board2.update_task("T1", {"criteria": [{"text": "a"}, {"text": "b"}]})
    base, edited = _docs(board2)
    edited.cards["T1"] = replace(base.cards["T1"], criteria=(("a", False), ("b", True)))
    (draft,) = merge_edit(base, edited, board2.snapshot(), _PERSON).drafts
    assert (draft.op, draft.task, draft.fields) == (
        "criterion.check",
        "T1",
        {"index": 1, "done": True, "result": "ticked in KANBAN.md by human:ana"},
    )


def test_renamed_criteria_keep_the_checks_and_results_of_the_ones_kept(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    crit = [{"text": "a", "check": "file_exists x", "result": "ok", "done": True}]
    board.update_task("T1", {"criteria": crit})
    base, edited = _docs(board)
    edited.cards["T1"] = replace(base.cards["T1"], criteria=(("new", False), ("a", True)))
    (draft,) = merge_edit(base, edited, board.snapshot(), _PERSON).drafts
    assert draft.fields == {
        "criteria": [
            {"text": "new", "done": False, "check": None, "result": None},
            {"text": "a", "done": True, "check": "file_exists x", "result": "ok"},
        ]
    }


def test_a_card_moved_in_the_file_moves_the_task_with_force_only_off_the_table(
    tmp_path: Path,
) -> None:
    board = _merge_board(tmp_path)
    base, edited = _docs(board)
    edited.cards["T1"] = replace(base.cards["T1"], status="ready", blocked_reason=None)
    edited.cards["T2"] = replace(base.cards["T2"], status="awaiting_test")
    drafts = merge_edit(base, edited, board.snapshot(), _PERSON).drafts
    assert [(d.task, d.fields) for d in drafts] == [
        ("T1", {"to": "ready", "reason": "moved in KANBAN.md by human:ana"}),
        ("T2", {"to": "awaiting_test", "reason": "moved in KANBAN.md by human:ana", "force": True}),
    ]
    base, edited = _docs(board)
    edited.cards["T2"] = replace(base.cards["T2"], status="blocked")
    (draft,) = merge_edit(base, edited, board.snapshot(), _PERSON).drafts
    assert draft.fields == {"to": "blocked", "reason": "blocked in KANBAN.md by human:ana"}


def test_ticking_a_card_already_under_done_finishes_the_task(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    board.move("T2", "done", "human:ana", force=True)
    board.move("T2", "ready", "human:ana", force=True)
    base, edited = _docs(board)
    base.cards["T2"] = replace(base.cards["T2"], status="done", checked=False)  # as last rendered
    edited.cards["T2"] = replace(base.cards["T2"], status="done", checked=True)
    (draft,) = merge_edit(base, edited, board.snapshot(), _PERSON).drafts
    assert draft.fields == {
        "to": "done",
        "reason": "moved in KANBAN.md by human:ana",
        "force": True,
    }


def test_decisions_and_notes_added_removed_and_made_on_both_sides(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    board.add_decision("same twice")
    board.add_decision("same twice")
    board.add_note("kept")
    base, edited = _docs(board)
    board.add_decision("both wrote this")  # merged from an earlier save meanwhile
    edited.decisions = [
        *edited.decisions[:1],  # one "same twice" deleted
        KanbanEntry("both wrote this"),
        KanbanEntry("new one"),
        KanbanEntry("new one"),
    ]
    edited.notes = []
    result = merge_edit(base, edited, board.snapshot(), _PERSON, id_prefix="merge-7")
    assert [(d.op, d.fields["text"], d.id) for d in result.drafts] == [
        ("decision.add", "new one", "merge-7-000"),
        ("decision.add", "new one", "merge-7-001"),
    ]
    assert result.warnings == [
        "a decision was deleted from KANBAN.md ('same twice'); the journal keeps every decision, "
        "so it is shown again",
        "a note was deleted from KANBAN.md ('kept'); the journal keeps every note, so it is "
        "shown again",
    ]


def test_deleting_a_card_is_a_warning_naming_it(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    base, edited = _docs(board)
    del edited.cards["T2"]
    result = merge_edit(base, edited, board.snapshot(), _PERSON)
    assert result.drafts == []
    assert result.warnings == [
        "T2 (Other) was deleted from KANBAN.md; deleting a line does not delete a task, so it is "
        "shown again. To drop it, mark it `cancelled`."
    ]
    board.create_tasks([{"id": "T3", "title": "agent's", "status": "ready"}])
    edited.cards["T3"] = replace(base.cards["T2"], id="T3", title="agent's", priority=0)
    (draft,) = merge_edit(base, edited, board.snapshot(), _PERSON).drafts  # no base: the board's
    assert (draft.op, draft.task, draft.fields) == ("task.update", "T3", {"priority": 0})


def test_the_fields_update_comes_before_the_move_that_records_unchecked_criteria(
    tmp_path: Path,
) -> None:
    # The person rewrote the criteria, all ticked, and ticked the card: the forced move
    # must see the new criteria (nothing unchecked), so the update goes first.
    board = _merge_board(tmp_path)
    base, edited = _docs(board)
    edited.cards["T1"] = replace(base.cards["T1"], criteria=(("new", True),), checked=True)
    drafts = merge_edit(base, edited, board.snapshot(), _PERSON).drafts
    assert [d.op for d in drafts] == ["task.update", "task.move"]
    board.apply(drafts)
    assert board.snapshot().tasks["T1"].status == "done"
    (move,) = [e for e in board.events() if e.op == "task.move"]
    assert "unchecked" not in move.fields


def test_a_task_moved_since_the_copy_stays_where_it_is(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    board.move("T2", "done", "human:bob", force=True)
    base, edited = _docs(board)
    board.move("T2", "ready", "human:bob", force=True)  # reopened meanwhile, card untouched
    assert merge_edit(base, edited, board.snapshot(), _PERSON).drafts == []


def test_ticking_a_card_forces_the_move_to_done_even_where_done_is_allowed(
    tmp_path: Path,
) -> None:
    board = _merge_board(tmp_path)
    board.move("T2", "awaiting_test", "human:bob", force=True)  # done is a plain move from here
    base, edited = _docs(board)
    edited.cards["T2"] = replace(base.cards["T2"], checked=True)
    (draft,) = merge_edit(base, edited, board.snapshot(), _PERSON).drafts
    assert draft.fields == {
        "to": "done",
        "reason": "moved in KANBAN.md by human:ana",
        "force": True,
    }


def test_a_tick_on_a_criterion_the_board_no_longer_has_is_dropped(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    board.update_task("T1", {"criteria": [{"text": "a"}, {"text": "b"}]})
    base, edited = _docs(board)
    board.update_task("T1", {"criteria": [{"text": "a"}]}, actor="planner-1@alpha")
    edited.cards["T1"] = replace(base.cards["T1"], criteria=(("a", False), ("b", True)))
    assert merge_edit(base, edited, board.snapshot(), _PERSON).drafts == []


def test_entries_count_as_a_multiset_on_every_side(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    for text in ("twice", "twice", "once"):
        board.add_note(text)
    base, edited = _docs(board)
    board.add_note("both")  # merged from an earlier save, twice
    board.add_note("both")
    edited.notes = [KanbanEntry("once"), KanbanEntry("once"), *[KanbanEntry("both")] * 3]
    result = merge_edit(base, edited, board.snapshot(), _PERSON)
    # "once" written a second time is a new note; two of the three "both" are the board's
    assert [(d.op, d.fields["text"]) for d in result.drafts] == [
        ("note.add", "once"),
        ("note.add", "both"),
    ]
    deleted = "a note was deleted from KANBAN.md ('twice'); the journal keeps every note, so "
    assert result.warnings == [deleted + "it is shown again"] * 2


def test_a_deleted_entry_is_named_by_its_first_sixty_characters(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    board.add_decision("d" * 59 + "ef")
    base, edited = _docs(board)
    edited.decisions = []
    assert merge_edit(base, edited, board.snapshot(), _PERSON).warnings == [
        f"a decision was deleted from KANBAN.md ({'d' * 59 + 'e'!r}); the journal keeps every "
        "decision, so it is shown again"
    ]


def test_without_a_base_deleted_entries_are_shown_again_and_changes_named(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    board.create_tasks([{"id": f"C{i:02d}", "title": "c", "status": "ready"} for i in range(11)])
    board.add_decision("kept decision")
    board.add_note("kept note")
    _, edited = _docs(board)
    edited.decisions, edited.notes = [], []
    for i in range(11):
        edited.cards[f"C{i:02d}"] = replace(edited.cards[f"C{i:02d}"], priority=0)
    result = merge_edit(None, edited, board.snapshot(), _PERSON)
    assert result.drafts == []
    ten = ", ".join(f"C{i:02d}" for i in range(10))
    assert result.warnings == [
        "KANBAN.md does not say which rendered copy it was edited from (its `_Last synced: "
        "... (journal seq N)_` line is missing), so only new cards, decisions and notes were "
        f"merged; changes to {ten} were not. Make them again in the file as it is now.",
        "a decision was deleted from KANBAN.md ('kept decision'); the journal keeps every "
        "decision, so it is shown again",
        "a note was deleted from KANBAN.md ('kept note'); the journal keeps every note, so it "
        "is shown again",
    ]


def _asked(board: LocalBoard) -> tuple[str, str]:
    first = board.ask("T1", "Which split?", "builder-1@alpha").id
    second = board.ask("T2", "Which seed?", "builder-1@alpha").id
    return first, second


def test_an_answer_under_any_open_question_is_taken(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    first, second = _asked(board)
    base = KanbanDocument(questions=questions_of(board.snapshot()))
    edited = KanbanDocument(questions=[base.questions[0], replace(base.questions[1], answer="7")])
    (draft,) = merge_edit(base, edited, board.snapshot(), _PERSON).drafts
    assert (draft.op, draft.task, draft.fields, draft.actor) == (
        "question.answer",
        "T2",
        {"text": "7", "question": second},
        _PERSON,
    )


def test_an_answer_the_board_cannot_take_is_a_warning(tmp_path: Path) -> None:
    board = _merge_board(tmp_path)
    first, _ = _asked(board)
    board.answer("T1", "80/20  by source", "human:bob")
    base = KanbanDocument(questions=questions_of(board.snapshot()))
    unknown = KanbanQuestion("nope", "T1", "Which?", answer="yes", line=12)
    elsewhere = replace(base.questions[0], id=first, task="T2", answer="sure", line=14)
    same = replace(base.questions[0], answer="80/20 by source")  # as rendered: no change
    dropped = replace(base.questions[0], answer=None)  # the answer line deleted: no change
    edited = KanbanDocument(questions=[unknown, elsewhere, same, dropped])
    result = merge_edit(base, edited, board.snapshot(), _PERSON)
    assert result.drafts == []
    assert result.warnings == [
        "KANBAN.md line 12: no question q:nope about T1 on the board; the answer under it "
        "was not taken",
        f"KANBAN.md line 14: no question q:{first} about T2 on the board; the answer under it "
        "was not taken",
    ]


def test_the_same_answer_given_meanwhile_through_another_door_is_no_conflict(
    tmp_path: Path,
) -> None:
    board = _merge_board(tmp_path)
    _asked(board)
    base = KanbanDocument(questions=questions_of(board.snapshot()))
    board.answer("T1", "80/20  by\nsource", "human:bob")  # the CLI, while the file was open
    edited = KanbanDocument(
        questions=[replace(base.questions[0], answer="80/20 by source"), base.questions[1]]
    )
    result = merge_edit(base, edited, board.snapshot(), _PERSON)
    assert (result.drafts, result.warnings) == ([], [])
