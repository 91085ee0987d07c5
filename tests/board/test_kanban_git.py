"""Git history of the board: meaningful auto-commits, the KANBAN.md merge driver, push retry.

Real repositories in tmp_path: a bare remote, the owner's workspace, a person's clone.
"""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from sprintboard.board.kanban.git import (
    commit_board,
    describe_changes,
    install_merge_driver,
    push_with_retry,
)
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Decision, Task
from sprintboard.board.state import BoardState
from sprintboard.workspace import init_workspace, kanban_sync, open_board


def test_commit_messages_say_what_changed() -> None:
    before = BoardState(tasks={"T004": Task(id="T004", title="Train", status="ready")})
    after = BoardState(
        tasks={
            "T004": Task(id="T004", title="Train", status="in_progress", agent="builder-1"),
            "T005": Task(id="T005", title="Eval", status="ready"),
        },
        decisions=[Decision("a:1", "Three epochs", "human:ana", "2026-11-23T10:00:00Z")],
    )
    message = describe_changes(before, after)
    assert message.splitlines()[0] == "board: T004 ready -> in_progress (builder-1) (+2 more)"
    assert "- T005 added (ready): Eval" in message
    assert "- decision by human:ana: Three epochs" in message


@pytest.fixture
def owner(tmp_path: Path) -> tuple[LocalBoard, git.Repo, Path]:
    """The owner's workspace with auto-commit on, pushed to a bare remote."""
    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True)
    root = init_workspace(tmp_path / "alpha", owner="alpha")
    with (root / "sprintboard.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[kanban]\nauto_commit = true\n")
    install_merge_driver(root)
    repo = git.Repo(root)
    repo.git.add(A=True)
    repo.index.commit("board: auto-commit and merge driver on")
    repo.create_remote("origin", str(remote))
    repo.git.push("origin", f"{repo.active_branch.name}:{repo.active_branch.name}")
    board = open_board(root)
    board.create_tasks(
        [
            {"id": "T001", "title": "Audit", "status": "ready"},
            {"id": "T002", "title": "Dedup", "status": "ready"},
        ],
        actor="planner-1@alpha",
    )
    push_with_retry(root)
    return board, repo, remote


def _clone(remote: Path, where: Path) -> git.Repo:
    clone = git.Repo.clone_from(str(remote), where)
    with clone.config_writer() as cfg:
        cfg.set_value("user", "name", "Ana")
        cfg.set_value("user", "email", "ana@example.org")
    return clone


def test_every_change_is_committed_with_what_changed(
    owner: tuple[LocalBoard, git.Repo, Path],
) -> None:
    board, repo, _ = owner
    board.claim("T001", agent="builder-alpha", host="alpha", ttl=600)
    head = repo.head.commit
    assert head.message.startswith("board: T001 ready -> in_progress (builder-alpha)")
    assert set(head.stats.files) >= {"KANBAN.md", "sprints/events.jsonl"}
    assert not repo.is_dirty(path="KANBAN.md")


def test_a_file_that_does_not_parse_is_never_committed(
    owner: tuple[LocalBoard, git.Repo, Path],
) -> None:
    board, repo, _ = owner
    kanban = board.root / "KANBAN.md"
    committed = repo.head.commit.tree["KANBAN.md"].data_stream.read()
    kanban.write_text("<<<<<<< HEAD\n- a\n=======\n- b\n>>>>>>> x\n", encoding="utf-8")
    board.claim("T002", agent="builder-alpha", host="alpha", ttl=600)  # auto-commit runs
    assert repo.head.commit.message.startswith("board: T002")
    assert repo.head.commit.tree["KANBAN.md"].data_stream.read() == committed
    assert commit_board(board.root, "again") is None  # nothing else to commit


def test_a_pulled_edit_is_merged_as_a_person_and_the_push_retried(
    owner: tuple[LocalBoard, git.Repo, Path], tmp_path: Path
) -> None:
    board, repo, remote = owner
    # A person on another machine adds a decision and pushes first.
    ana = _clone(remote, tmp_path / "ana")
    kanban = Path(ana.working_dir) / "KANBAN.md"
    text = kanban.read_text("utf-8")
    kanban.write_text(
        text.replace("## 🧭 Decisions\n", "## 🧭 Decisions\n- Keep the 402 fallback\n"),
        encoding="utf-8",
    )
    ana.index.add(["KANBAN.md"])
    ana.index.commit("ana: a decision")
    ana.remote("origin").push()
    # Meanwhile an agent moves a card and adds its own decision (auto-committed here).
    board.claim("T001", agent="builder-alpha", host="alpha", ttl=600)
    board.add_decision("Mix ratio 40/25/20/10/5", actor="negotiator-1@alpha")
    result = push_with_retry(board.root)
    assert result.pushed and result.attempts == 2
    assert any("rejected" in s or "fetch first" in s for s in result.summaries)
    state = board.refresh()
    assert sorted(d.text for d in state.decisions) == [
        "Keep the 402 fallback",
        "Mix ratio 40/25/20/10/5",
    ]
    assert state.tasks["T001"].status == "in_progress"
    merged = (board.root / "KANBAN.md").read_text("utf-8")
    assert "<<<<<<<" not in merged and ">>>>>>>" not in merged
    assert "Keep the 402 fallback" in merged and "Mix ratio" in merged
    assert kanban_sync(board).is_rendered(merged.encode())
    # The person's clone gets the merged board back, journal included.
    ana.remote("origin").pull()
    theirs = kanban.read_text("utf-8")
    assert "Keep the 402 fallback" in theirs and "Mix ratio" in theirs
    assert "`T001`" in theirs and "**[builder-alpha]**" in theirs
    journal = (Path(ana.working_dir) / "sprints" / "events.jsonl").read_text("utf-8")
    assert "human:git-merge" in journal
