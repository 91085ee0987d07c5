"""KANBAN.md render/parse: lossless round trip, the real boards people wrote, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sprintboard.board.kanban.model import END_MARKER, CardRun, Verbatim, cards_of, entries_of
from sprintboard.board.kanban.parse import heading_key, parse_kanban
from sprintboard.board.kanban.render import render_kanban
from sprintboard.board.models import STATUSES, Criterion, Decision, Note, Task
from sprintboard.board.state import BoardState
from sprintboard.errors import KanbanParseError
from sprintboard.files import FileRef

# The seed documents live beside the repo (`../shared/examples`, DESIGN.md).
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
QUIMBOT = EXAMPLES / "quimbot-KANBAN.md"
MOJIBAKE = EXAMPLES / "quimbot-KANBAN.mojibake.md"

# Text people type: letters, digits, punctuation (markdown specials included), emoji.
_text = (
    st.text(
        alphabet=st.characters(
            whitelist_categories=("L", "N", "P", "S", "Zs"), blacklist_characters="\n\r\x85"
        ),
        min_size=1,
        max_size=40,
    )
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)
_word = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
_sha = st.from_regex(r"[0-9a-f]{7}", fullmatch=True)
_day = st.dates().map(lambda d: f"{d.isoformat()}T10:00:00Z").filter(lambda s: len(s) == 20)


@st.composite
def _states(draw: st.DrawFn) -> BoardState:
    state = BoardState()
    for n in range(draw(st.integers(0, 8))):
        status = draw(st.sampled_from(STATUSES))
        reason = draw(st.none() | _text) if status == "blocked" else None
        task = Task(
            id=f"T{n + 1:03d}",
            title=draw(_text),
            status=status,
            priority=draw(st.integers(0, 4)),
            agent=draw(st.none() | _word),
            caps=draw(st.lists(_word, max_size=2, unique=True)),
            artifacts=[
                FileRef(f"runs/T{n + 1:03d}/1/{name}.md", "0" * 64, 1)
                for name in draw(st.lists(_word, max_size=2, unique=True))
            ],
            blocked_reason=reason,
            commits=draw(st.lists(_sha, max_size=2)),
            done_at=draw(_day) if status == "done" else None,
            criteria=[
                Criterion(text=t, done=d)
                for t, d in draw(st.lists(st.tuples(_text, st.booleans()), max_size=3))
            ],
        )
        state.tasks[task.id] = task
    for n, text in enumerate(draw(st.lists(_text, max_size=3))):
        state.decisions.append(Decision(f"a:{n}", text, "human:ana", "2026-11-23T10:00:00Z"))
    for n, text in enumerate(draw(st.lists(_text, max_size=2))):
        state.notes.append(Note(f"b:{n}", text, "planner-1@alpha", "2026-11-22T10:00:00Z"))
    state.updated = "2026-11-23T10:00:00Z"
    return state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_states())
def test_parse_of_render_gives_the_state_back(state: BoardState) -> None:
    text = render_kanban(state)
    # As text: the board trusts its own rendering (random symbols may look like mojibake).
    doc = parse_kanban(text, taken=list(state.tasks))
    assert doc.cards == cards_of(state)
    decisions, notes = entries_of(state)
    assert doc.decisions == decisions and doc.notes == notes
    assert doc.new_ids == [] and doc.warnings == []
    assert render_kanban(state, doc) == text  # read and rendered again: byte-identical


def test_a_card_shows_its_caps_and_in_review_what_was_submitted() -> None:
    state = BoardState()
    art = FileRef("runs/T001/1/report.md", "0" * 64, 9)
    state.tasks["T001"] = Task(
        id="T001", title="Research", status="needs_manual", caps=["code", "gpu"], artifacts=[art]
    )
    state.tasks["T002"] = Task(id="T002", title="Done one", status="done", artifacts=[art])
    text = render_kanban(state)
    line = "- [ ] `T001` P3 **Research** · needs: code, gpu · `needs_manual`"
    assert f"{line}\n  - 📎 `runs/T001/1/report.md`" in text
    assert text.count("📎") == 1  # only while in review: not under the done T002
    loose = parse_kanban("# K\n\n## Ready\n- Port the loader · needs: code, mlx\n", taken=[])
    (card,) = loose.cards.values()
    assert (card.title, card.caps) == ("Port the loader", ("code", "mlx"))


def test_the_quimbot_board_is_read_as_people_wrote_it() -> None:
    doc = parse_kanban(QUIMBOT.read_bytes(), QUIMBOT)
    by_status: dict[str, int] = {}
    for card in doc.cards.values():
        by_status[card.status] = by_status.get(card.status, 0) + 1
    assert by_status == {"done": 8, "in_progress": 3, "needs_plan": 5, "blocked": 1}
    assert doc.new_ids == [f"T{n:03d}" for n in range(1, 18)]  # stable: document order
    recipe = doc.cards["T009"]
    assert (recipe.title, recipe.owner) == (
        "Write build recipe (concrete input paths + expected counts for all 3 supersets)",
        "Quimbot",
    )
    blocked = doc.cards["T017"]
    assert blocked.title == "OpenRouter scale-out generation"
    assert blocked.blocked_reason == "**HTTP 402 Payment Required** (billing/account state)"
    # The standup's resolved decisions sit under In Progress: kept as text, not cards.
    progress = doc.section("in_progress")
    assert progress is not None
    kept = [b for b in progress.blocks if isinstance(b, Verbatim)]
    assert kept[0].lines[0] == "### ✅ Decisions resolved (2026-02-17 morning standup)"
    assert len(kept[0].lines) == 6
    # The `📠Notes` heading (a byte lost in an old bad save) is still the Notes section.
    notes = doc.section("notes")
    assert notes is not None and notes.heading == "## 📠Notes"
    assert len(doc.notes) == 3 and doc.warnings == []


def test_an_imported_board_renders_stably_and_keeps_its_free_text() -> None:
    doc = parse_kanban(QUIMBOT.read_bytes(), QUIMBOT)
    state = _state_from(doc)
    first = render_kanban(state, doc)
    assert "### ✅ Decisions resolved (2026-02-17 morning standup)" in first
    assert "- ✅ Dedup policy: hard dedup by full `messages` hash" in first
    again = parse_kanban(first.encode("utf-8"), taken=list(state.tasks))
    assert again.new_ids == []
    assert render_kanban(state, again) == first


def _state_from(doc: object) -> BoardState:
    from sprintboard.board.kanban.model import KanbanDocument

    assert isinstance(doc, KanbanDocument)
    state = BoardState()
    for card in doc.cards.values():
        state.tasks[card.id] = Task(
            id=card.id,
            title=card.title,
            status=card.status,
            priority=card.priority,
            agent=card.owner,
            blocked_reason=card.blocked_reason,
        )
    return state


SECOND_GENERATION = """\
# KANBAN.md — Quimbot

_Last synced: 2026-02-18 08:00 ET_

### 2026-02-18 standup
- Quimbot: superset 2 done, starting 3
- Petrarch: eval harness half-way

## ✅ Policy Decisions
- ✅ Hard dedup within source only

## ✅ Done
- [x] **[Quimbot]** Execute Superset 2 (commit abc1234) ✅ 2/17
- [x] T021 P1 Write build recipe — Petrarch

## To Do
- [ ] **Run Stage 1 LoRA training** — Quimbot

## Review/Blocked
- something ambiguous

## Stalled
### Waiting on billing
- [ ] OpenRouter scale-out: HTTP 402
"""


def test_the_second_generation_board_and_its_odd_headings() -> None:
    doc = parse_kanban(SECOND_GENERATION)
    cards = {c.title: c for c in doc.cards.values()}
    superset = cards["Execute Superset 2"]
    assert (superset.owner, superset.commits, superset.done, superset.checked) == (
        "Quimbot",
        ("abc1234",),
        "2026-02-17",
        True,
    )
    recipe = doc.cards["T021"]
    assert (recipe.priority, recipe.owner, recipe.status) == (1, "Petrarch", "done")
    training = cards["Run Stage 1 LoRA training"]
    assert (training.status, training.owner) == ("ready", "Quimbot")
    stalled = cards["OpenRouter scale-out"]
    assert (stalled.status, stalled.blocked_reason) == ("blocked", "HTTP 402")
    # "✅ Policy Decisions" uses the Done emoji but is not the Done column.
    assert [s.key for s in doc.sections] == [None, "done", "ready", None, "blocked"]
    assert any("Review/Blocked" in w and "more than one column" in w for w in doc.warnings)
    assert any("Policy Decisions" in w for w in doc.warnings)
    assert doc.preamble[0].lines[0] == "### 2026-02-18 standup"
    blocked = doc.section("blocked")
    assert blocked is not None
    assert isinstance(blocked.blocks[0], CardRun)
    assert blocked.blocks[0].heading == "### Waiting on billing"
    # New ids continue after the highest one in the file (T021), in document order.
    assert doc.new_ids == ["T022", "T023", "T024"]
    # Rendered and read again, the odd sections and the standup come back byte for byte.
    state = _state_from(doc)
    text = render_kanban(state, doc)
    assert "## ✅ Policy Decisions\n- ✅ Hard dedup within source only\n" in text
    assert "## Review/Blocked\n- something ambiguous\n" in text
    assert "### 2026-02-18 standup\n- Quimbot: superset 2 done, starting 3\n" in text
    assert render_kanban(state, parse_kanban(text, taken=list(state.tasks))) == text


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("✅ Done", "done"),
        ("Done (12)", "done"),
        ("To Do", "ready"),
        ("Stalled", "blocked"),
        ("🔨 In Progress", "in_progress"),
        ("✅ Policy Decisions", None),
        ("Review/Blocked", None),
        ("📠Notes", "notes"),
    ],
)
def test_headings_are_known_by_their_words_not_their_emoji(name: str, key: str | None) -> None:
    assert heading_key(name) == key


def test_configured_headings_are_written_and_read() -> None:
    state = BoardState(tasks={"T001": Task(id="T001", title="x", status="ready")})
    text = render_kanban(state, headings={"ready": "🚀 Up next"})
    assert "## 🚀 Up next\n- [ ] `T001` P3 **x**" in text
    doc = parse_kanban(text, headings={"ready": "🚀 Up next"})
    assert doc.cards["T001"].status == "ready"


def _error(data: bytes | str, **kw: object) -> KanbanParseError:
    with pytest.raises(KanbanParseError) as err:
        parse_kanban(data, Path("/ws/KANBAN.md"), **kw)  # type: ignore[arg-type]
    return err.value


def test_conflict_markers_are_refused_at_their_line() -> None:
    text = "# K\n\n## ✅ Done\n<<<<<<< HEAD\n- a\n=======\n- b\n>>>>>>> other\n"
    err = _error(text)
    assert (err.line, str(err.path)) == (4, "/ws/KANBAN.md")
    assert "conflict marker" in err.reason and "/ws/KANBAN.md:4" in str(err)


def test_an_empty_or_cut_short_file_is_refused() -> None:
    assert "empty" in _error(b"   \n").reason
    whole = render_kanban(BoardState(tasks={"T001": Task(id="T001", title="x")}))
    assert whole.endswith(END_MARKER + "\n")
    half = whole[: len(whole) // 2]
    assert "ends early" in _error(half, require_end=True).reason
    parse_kanban(whole, require_end=True)


def test_duplicate_ids_name_both_lines() -> None:
    text = "# K\n## Ready\n- `T001` P1 **a**\n- `T001` P2 **b**\n"
    err = _error(text)
    assert err.line == 4 and "T001" in err.reason and "line 3" in err.reason


def test_mojibake_and_bad_bytes_are_refused() -> None:
    err = _error(MOJIBAKE.read_bytes())
    assert err.line == 1 and "mojibake" in err.reason and "--repair" in err.reason
    err = _error(b"# K\n## Ready\n- caf\xe9\n")
    assert err.line == 3 and "not UTF-8" in err.reason


def test_the_mojibake_repair_is_a_proposal_that_says_it_guesses() -> None:
    from sprintboard.board.kanban.mojibake import propose_repair

    proposal = propose_repair(MOJIBAKE.read_text(encoding="utf-8"))
    assert proposal.text == QUIMBOT.read_text(encoding="utf-8")
    assert proposal.lossy and "guess" in proposal.summary()
    assert 1 in proposal.changed_lines and 37 in proposal.changed_lines
    parse_kanban(proposal.text)  # the repaired file is a board
