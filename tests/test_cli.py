"""The CLI through its entry point: exit codes 0/1/2, one-line errors, a stable --json shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from sprintboard.cli import main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("sprintboard")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    assert run("init", str(root), "--no-git", "--add-host", "beta:mlx").returncode == 0
    return root


def test_status_json_has_the_documented_shape(ws: Path) -> None:
    assert run("add", "T1", "Audit", "-w", str(ws)).returncode == 0
    assert (
        run("add", "T2", "Dedup", "-d", "T1", "--status", "blocked", "-w", str(ws)).returncode == 0
    )
    out = run("status", "--json", "-w", str(ws))
    assert out.returncode == 0
    doc = orjson.loads(out.stdout)
    assert set(doc) == {"version", "workspace", "host", "sprint", "counters", "tasks", "journal"}
    assert doc["counters"] == {"total_tasks": 2, "ready": 1, "blocked": 1}
    t2 = doc["tasks"][1]
    assert (t2["id"], t2["column"], t2["dependencies"]) == ("T2", "Backlog", ["T1"])


def test_claim_submit_and_log(ws: Path) -> None:
    run("add", "T1", "Audit", "-w", str(ws))
    claim = run("claim", "T1", "--agent", "builder-alpha", "--json", "-w", str(ws))
    fence = orjson.loads(claim.stdout)["fence"]
    art = ws / "out.txt"
    art.write_text("x", encoding="utf-8")
    sub = run(
        "submit",
        "T1",
        "--fence",
        str(fence),
        "--artifact",
        str(art),
        "-m",
        "val_loss=1.5",
        "-w",
        str(ws),
    )
    assert sub.returncode == 0, sub.stderr
    log = orjson.loads(run("log", "--json", "-w", str(ws)).stdout)
    assert [e["op"] for e in log] == [
        "task.create",
        "lease.grant",
        "artifact.add",
        "metric.set",
        "task.move",
    ]
    stale = run("submit", "T1", "--fence", str(fence), "-w", str(ws))
    assert stale.returncode == 1
    assert stale.stderr.startswith("error: T1: fencing token") and stale.stderr.count("\n") == 1


def test_user_errors_exit_1_with_one_line(ws: Path) -> None:
    out = run("move", "T404", "ready", "-w", str(ws))
    assert (
        out.returncode == 1
        and "unknown task 'T404'" in out.stderr
        and "Traceback" not in out.stderr
    )


def test_usage_errors_exit_2(ws: Path) -> None:
    assert run("claim", "-w", str(ws)).returncode == 2
    assert run("move", "T1", "sideways", "-w", str(ws)).returncode == 2
    assert run("no-such-command").returncode == 2


def test_outside_a_workspace_says_what_to_do(tmp_path: Path) -> None:
    out = run("status", cwd=tmp_path)
    assert out.returncode == 1 and "sprintboard init" in out.stderr


def test_init_refuses_the_repo_root_and_an_existing_workspace(ws: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    assert (repo / "pyproject.toml").exists()
    with pytest.raises(SystemExit) as err:
        main(["init", str(repo), "--no-git"])
    assert err.value.code == 1
    again = run("init", str(ws), "--no-git")
    assert again.returncode == 1 and "already a workspace" in again.stderr


def test_validate_detects_a_rolled_back_journal_and_adopt_accepts_it(ws: Path) -> None:
    run("add", "T1", "One", "-w", str(ws))
    journal = ws / "sprints" / "events.jsonl"
    old = journal.read_bytes()
    run("add", "T2", "Two", "-w", str(ws))
    journal.write_bytes(old)
    bad = run("validate", "-w", str(ws))
    assert bad.returncode == 1 and "reverted" in bad.stderr
    good = run("validate", "--adopt", "--json", "-w", str(ws))
    assert good.returncode == 0 and orjson.loads(good.stdout)["events"] == 1


def test_init_makes_a_git_workspace_with_the_layout(tmp_path: Path) -> None:
    import git

    root = tmp_path / "board"
    assert run("init", str(root), "--add-host", "beta:mlx").returncode == 0
    for rel in (
        "KANBAN.md",
        "sprintboard.toml",
        "sprints/SPRINT_QUEUE.json",
        "memory",
        ".a2a/beta/inbox/new",
        ".a2a/ledger",
    ):
        assert (root / rel).exists(), rel
    repo = git.Repo(root)
    assert not repo.is_dirty(untracked_files=True)
    assert ".sprintboard/" in (root / ".gitignore").read_text(encoding="utf-8")
