"""Issue 27, items 1-3: `status` for people, "waiting" apart from "blocked", `init`'s next
steps and `doctor`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from sprintboard.workspace import init_workspace

CliRun = Callable[..., tuple[int, str, str]]
"""The `cli` fixture of tests/conftest.py."""


@pytest.fixture
def ws(tmp_path: Path, cli: CliRun) -> Path:
    root = init_workspace(tmp_path / "ws", hosts=[("alpha", []), ("beta", ["mlx"])], git=False)
    w = ("-w", str(root))
    cli("add", "T1", "Audit", "-p", "1", *w)
    cli("add", "T2", "Dedup", "-d", "T1", "--status", "blocked", *w)
    cli("add", "T3", "Mix", "--role", "auditor", *w)
    cli("move", "T3", "blocked", "-r", "the source is gone", *w)
    cli("claim", "T1", "--agent", "builder-alpha", *w)
    return root


def test_waiting_on_dependencies_is_not_blocked(ws: Path, cli: CliRun) -> None:
    code, out, _ = cli("status", "--json", "-w", str(ws))
    doc = orjson.loads(out)
    assert code == 0
    assert doc["counters"]["waiting"] == 1 and doc["counters"]["blocked"] == 1
    states = {t["id"]: (t["status"], t["state"]) for t in doc["tasks"]}
    assert states == {
        "T1": ("in_progress", "in_progress"),
        "T2": ("blocked", "waiting"),
        "T3": ("blocked", "blocked"),
    }
    assert doc["tasks"][1]["waits"] == {"on": "tasks", "who": "T1", "run": "they finish first"}


def test_status_is_one_plain_line_per_task_by_column(ws: Path, cli: CliRun) -> None:
    code, out, _ = cli("status", "-w", str(ws))
    assert code == 0
    lines = out.splitlines()
    assert not any(ch in out for ch in "┏│└━") and "\x1b[" not in out  # piped: plain text
    assert lines.index("Backlog (1, 1 waiting)") < lines.index("In Progress (1)")
    t1 = next(line for line in lines if line.lstrip().startswith("T1 "))
    assert "in_progress" in t1 and "builder-alpha@alpha, lease 0s (fence 1" in t1
    assert "waits for T1" in next(line for line in lines if line.lstrip().startswith("T2 "))
    assert "blocked: the source is gone" in out
    assert out.rstrip().endswith("total_tasks: 3, in_progress: 1, blocked: 1, waiting: 1")


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("--status", "waiting"), {"T2"}),
        (("--status", "blocked"), {"T3"}),
        (("-s", "in_progress,backlog"), {"T1", "T2"}),
        (("--role", "auditor"), {"T3"}),
        (("--agent", "builder-alpha"), {"T1"}),
        (("--on", "alpha"), {"T1"}),
        (("--on", "beta"), set()),
    ],
)
def test_status_filters(ws: Path, cli: CliRun, args: tuple[str, ...], shown: set[str]) -> None:
    _, out, _ = cli("status", "--json", *args, "-w", str(ws))
    assert {t["id"] for t in orjson.loads(out)["tasks"]} == shown


def test_mine_is_the_agent_in_the_environment(
    ws: Path, cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = cli("status", "--mine", "-w", str(ws))
    assert code == 2 and "SPRINTBOARD_AGENT" in err
    monkeypatch.setenv("SPRINTBOARD_AGENT", "builder-alpha")
    _, out, _ = cli("status", "--mine", "--json", "-w", str(ws))
    assert [t["id"] for t in orjson.loads(out)["tasks"]] == ["T1"]


def test_init_prints_each_hosts_next_steps(tmp_path: Path, cli: CliRun) -> None:
    code, out, _ = cli("init", str(tmp_path / "b"), "--add-host", "beta:mlx", "--no-git")
    assert code == 0
    for step in (
        "on alpha: sprintboard a2a keygen beta",
        "on alpha: sprintboard a2a serve",
        "on beta:  sprintboard a2a pair alpha -",
        "on beta:  sprintboard agents run --host beta",
        "sprintboard doctor",
    ):
        assert step in out, step


def test_doctor_names_what_to_run_and_exits_1(ws: Path, cli: CliRun) -> None:
    code, out, _ = cli("doctor", "-w", str(ws))
    assert code == 1
    assert "fail  keys alpha/beta" in out and "run: sprintboard a2a keygen beta" in out
    assert "warn  host beta: never seen" in out
    assert "ok    journal: " in out
    cli("a2a", "keygen", "beta", "-w", str(ws))
    code, out, _ = cli("doctor", "--json", "-w", str(ws))
    doc = orjson.loads(out)
    assert code == 0 and doc["ok"] is True
    levels = {c["name"]: c["level"] for c in doc["checks"]}
    assert levels["keys alpha/beta"] == "ok" and levels["host beta"] == "warn"
