"""People's KANBAN.md edits become events: field-level three-way merge with agents' changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.kanban.sync import KanbanSync
from sprintboard.board.local import LocalBoard
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
