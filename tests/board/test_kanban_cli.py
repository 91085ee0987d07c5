"""`sprintboard board render|sync|check` and `watch`, through the CLI entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from sprintboard.cli import main
from sprintboard.workspace import init_workspace, open_board

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return init_workspace(tmp_path / "ws", git=False, name="demo")


def test_init_renders_the_first_board(ws: Path) -> None:
    text = (ws / "KANBAN.md").read_text("utf-8")
    assert text.startswith("# KANBAN.md — demo\n\n_Last synced: never_\n\n## ✅ Done\n")
    assert "## 🧭 Decisions" in text and "## 📝 Notes" in text


def test_importing_the_quimbot_board_then_checking_it(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(EXAMPLES / "quimbot-KANBAN.md", ws / "KANBAN.md")
    code, out, _ = _run(capsys, "board", "check", "-w", str(ws), "--json")
    assert code == 0 and orjson.loads(out)["cards"] == 17
    code, out, _ = _run(capsys, "board", "sync", "-w", str(ws), "--as", "human:ana", "--json")
    doc = orjson.loads(out)
    assert code == 0 and doc["merged"] and len(doc["new_ids"]) == 17
    state = open_board(ws).snapshot()
    assert state.tasks["T017"].blocked_reason is not None
    assert {n.actor for n in state.notes} == {"human:ana"}
    text = (ws / "KANBAN.md").read_text("utf-8")
    assert "### ✅ Decisions resolved (2026-02-17 morning standup)" in text
    code, out, _ = _run(capsys, "board", "sync", "-w", str(ws))
    assert code == 0 and "no unmerged edit" in out
    code, _, _ = _run(capsys, "board", "render", "-w", str(ws))
    assert code == 0 and (ws / "KANBAN.md").read_text("utf-8") == text  # byte-stable


def test_check_proposes_the_mojibake_repair_and_writes_it_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "KANBAN.md"
    shutil.copy(EXAMPLES / "quimbot-KANBAN.mojibake.md", target)
    before = target.read_bytes()
    code, _, err = _run(capsys, "board", "check", str(target))
    assert code == 1 and f"{target}:1:" in err and "guess" in err
    assert target.read_bytes() == before
    assert "was not changed; `--repair` shows the proposed diff" in err
    code, out, err = _run(capsys, "board", "check", str(target), "--repair")
    assert code == 1 and target.read_bytes() == before  # --repair only shows
    assert out.startswith(f"--- {target} (now)\n+++ {target} (repaired)\n@@")
    assert "`--repair --write` writes this diff" in err and "written" not in err
    code, out, _ = _run(capsys, "board", "check", str(target), "--repair", "--write", "--json")
    report = orjson.loads(out)
    assert code == 0 and report["repair"]["written"] and report["repair"]["lossy"]
    assert target.read_bytes() == (EXAMPLES / "quimbot-KANBAN.md").read_bytes()
    assert report["repair"]["original"] == f"{target}.orig"
    assert (tmp_path / "KANBAN.md.orig").read_bytes() == before
    code, _, err = _run(capsys, "board", "check", str(target), "--write")
    assert code == 2 and "give --repair too" in err


def test_a_broken_file_fails_sync_with_file_and_line(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kanban = ws / "KANBAN.md"
    kanban.write_text(
        kanban.read_text("utf-8").replace("## 🟢 Ready\n", "## 🟢 Ready\n>>>>>>> theirs\n"),
        encoding="utf-8",
    )
    broken = kanban.read_bytes()
    code, _, err = _run(capsys, "board", "sync", "-w", str(ws))
    assert code == 1 and f"{kanban}:" in err and "conflict marker" in err
    code, _, err = _run(capsys, "board", "render", "-w", str(ws))
    assert code == 1 and "not merged" in err
    assert kanban.read_bytes() == broken


def test_watch_runs_for_a_bounded_time(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "watch", "-w", str(ws), "--polling", "--for", "0.2")
    assert code == 0 and "watching" in err


def test_section_headings_come_from_sprintboard_toml(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (ws / "sprintboard.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[kanban]\nsections = { ready = "🚀 Up next", in_progress = "🏗 Doing" }\n')
    (ws / "KANBAN.md").unlink()
    shutil.rmtree(ws / ".sprintboard" / "kanban")  # no earlier layout to keep
    open_board(ws).create_tasks([{"id": "T001", "title": "Audit", "status": "ready"}])
    text = (ws / "KANBAN.md").read_text("utf-8")
    assert "## 🚀 Up next\n- [ ] `T001` P3 **Audit**\n" in text and "## 🏗 Doing\n" in text
    code, out, _ = _run(capsys, "board", "check", "-w", str(ws), "--json")
    assert code == 0 and orjson.loads(out)["warnings"] == []
