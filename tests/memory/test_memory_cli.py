"""`sprintboard standup` and `sprintboard report` through the CLI entry point, in a real workspace."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sprintboard.cli import main
from sprintboard.workspace import init_workspace, open_board


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = init_workspace(tmp_path / "ws", git=False)
    board = open_board(root)
    board.start_sprint("S1", goal="try the cli")
    board.create_tasks([{"id": "T1", "title": "Audit", "status": "ready", "priority": 1}])
    return root


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_standup_appends_once_and_updates_the_sprint_log(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "standup", "-w", str(ws), "--json")
    assert code == 0
    doc = orjson.loads(out)
    note = Path(doc["standup"]["path"])
    assert doc["standup"]["appended"] and note.parent == ws / "memory"
    assert "- **T1** Audit — P1, ready" in note.read_text("utf-8")
    assert doc["sprint_log"]["appended"] == 2
    assert (ws / "sprints" / "SPRINT_LOG.md").is_file()

    code, out, _ = _run(capsys, "standup", "-w", str(ws))
    assert code == 0 and "nothing added" in out


def test_standup_refuses_a_bad_date(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "standup", "-w", str(ws), "--date", "23/11/2026")
    assert code == 2 and "YYYY-MM-DD" in err


def test_standup_with_an_unreachable_llm_still_writes_the_facts(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sprintboard.llm as llm

    config = ws / "sprintboard.toml"
    text = config.read_text("utf-8").replace(
        "[llm]\n", '[llm]\nbase_url = "http://127.0.0.1:9/v1"\nmax_retries = 0\ntimeout = 1\n'
    )
    config.write_text(text, encoding="utf-8")
    monkeypatch.setattr(llm, "ALLOW_MODEL_REQUESTS", True)  # port 9 (discard): refused at once

    code, out, _ = _run(capsys, "standup", "-w", str(ws), "--llm", "--json")

    assert code == 0
    doc = orjson.loads(out)["standup"]
    assert doc["appended"] and doc["summary"] is None
    assert "cannot connect" in doc["llm_error"]
    assert "_No summary: LLM at http://127.0.0.1:9/v1 unavailable" in doc["text"]


def test_report_prints_text_and_writes_html(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "report", "-w", str(ws), "--html")

    assert code == 0
    assert "Burndown (end of day)" in out and "page: " in out
    assert list((ws / "memory").glob("report-*.png")) and list(
        (ws / "memory").glob("report-*.html")
    )
