"""Two hosts with separate workspaces, talking only through a real bare git remote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git
import pytest

from sprintboard.a2a.transport_git import GitTransport
from sprintboard.workspace import open_board

pytestmark = pytest.mark.slow


def test_beta_trains_over_git_and_the_branch_stays_small(git_cluster: Any) -> None:
    ws = git_cluster.alpha_ws
    board = open_board(ws, host="alpha")
    board.start_sprint("S1")
    board.create_tasks([{"id": "T2", "title": "train adapter", "status": "ready", "caps": ["mlx"]}])
    git_cluster.serve_owner(0.2)
    run = git_cluster.worker("T2", "finish")
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    task = board.snapshot().tasks["T2"]
    assert task.status == "awaiting_test" and task.host == "beta"
    (art,) = task.artifacts
    assert (ws / art.path).read_text(encoding="utf-8").startswith("adapter for T2")
    assert not (
        git_cluster.beta_ws / "sprints" / "events.jsonl"
    ).exists()  # beta never wrote a board

    # handled messages are removed from the branch (the ledger and archive keep them)
    def remote_messages() -> list[str]:
        repo = git.Repo(git_cluster.remote)
        tree = repo.commit("a2a").tree
        return [b.path for b in tree.traverse() if b.path.startswith("to/") and b.type == "blob"]

    git_cluster.wait_for(lambda: remote_messages() == [], 60, "handled messages archived")
    assert list((ws / ".a2a" / "alpha" / "archive").iterdir())


def test_a_rejected_push_is_read_from_the_flags_pulled_and_retried(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True)
    one = GitTransport(tmp_path / "a" / ".a2a", "beta", str(remote), clone=tmp_path / "a" / "c")
    two = GitTransport(tmp_path / "b" / ".a2a", "gamma", str(remote), clone=tmp_path / "b" / "c")
    one.repo(), two.repo()  # both clone now; the next pushes race
    one.send("alpha", [("beta-1.json", b"{}\n")])
    two.send("alpha", [("gamma-1.json", b"{}\n")])  # behind the remote: rejected, then rebased
    assert two.rejected_pushes >= 1
    alpha = GitTransport(tmp_path / "o" / ".a2a", "alpha", str(remote), clone=tmp_path / "o" / "c")
    assert alpha.sync() == 2
    assert alpha.inbox("alpha").pending() == ["beta-1.json", "gamma-1.json"]
    log = git.Repo(remote).git.log("a2a", "--format=%s")
    assert "forced" not in log and log.count("->") == 2
