"""Issue 27, conventions left after items 4-7: `--json` on `note`, `ask`, `answer` and
`import` (a model dump on stdout, errors as JSON on stderr), and `NO_COLOR` honoured on a
real terminal by the people's `status` and `report`."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from sprintboard.workspace import init_workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"

CliRun = Callable[..., tuple[int, str, str]]
"""The `cli` fixture of tests/conftest.py."""


@pytest.fixture
def ws(tmp_path: Path, cli: CliRun) -> Path:
    root = init_workspace(tmp_path / "ws", hosts=[("alpha", [])], git=False)
    w = ("-w", str(root))
    assert cli("add", "T1", "Audit", "-p", "1", *w)[0] == 0
    assert cli("add", "T2", "Dedup", "-d", "T1", "--status", "blocked", *w)[0] == 0
    assert cli("claim", "T1", "--agent", "builder-alpha", *w)[0] == 0
    return root


def test_note_ask_and_answer_answer_json(ws: Path, cli: CliRun) -> None:
    w = ("-w", str(ws), "--json")
    code, out, _ = cli("note", "T1", "half the rows read", "--as", "builder-alpha", *w)
    assert code == 0
    noted = orjson.loads(out)
    assert noted["task"] == "T1" and noted["note_id"]
    assert (noted["note"]["text"], noted["note"]["actor"]) == (
        "half the rows read",
        "builder-alpha@alpha",
    )

    code, out, _ = cli("ask", "T1", "drop the empty rows?", "--as", "builder-alpha", *w)
    asked = orjson.loads(out)
    assert code == 0 and asked["task"] == "T1"
    assert asked["question"]["id"] == asked["question_id"]
    assert (asked["question"]["text"], asked["question"]["answer"]) == (
        "drop the empty rows?",
        None,
    )

    code, out, _ = cli("answer", "T1", "yes", "--as", "human:ana", *w)
    answered = orjson.loads(out)
    assert code == 0 and answered["question_id"] == asked["question_id"]
    assert (answered["question"]["answer"], answered["question"]["answered_by"]) == (
        "yes",
        "human:ana",
    )

    code, out, _ = cli("show", "T1", *w)
    shown = orjson.loads(out)
    assert shown["notes"][0] == noted["note"]  # the same document `show --json` lists
    assert shown["questions"][0] == answered["question"]


def test_conversation_errors_are_json_on_stderr(ws: Path, cli: CliRun) -> None:
    for args in (
        ("note", "T404", "x", "--as", "builder-alpha"),
        ("answer", "T1", "no question was asked", "--as", "human:ana"),
    ):
        code, out, err = cli(*args, "-w", str(ws), "--json")
        assert code == 1 and out == ""
        error = orjson.loads(err)["error"]
        assert error["exit_code"] == 1 and error["message"]


def test_import_answers_json(tmp_path: Path, cli: CliRun) -> None:
    root = init_workspace(tmp_path / "ws", hosts=[("alpha", [])], git=False)
    backlog = EXAMPLES / "oodatcaa-SPRINT_BACKLOG.md"
    code, out, _ = cli("import", str(backlog), "-w", str(root), "--json")
    doc = orjson.loads(out)
    assert code == 0 and doc["kind"] == "backlog" and doc["created"][0] == "T001"
    code, out, err = cli("import", str(tmp_path / "nope.md"), "-w", str(root), "--json")
    assert code != 0 and out == "" and "error" in orjson.loads(err)


def _on_a_terminal(ws: Path, *args: str, no_color: bool) -> bytes:
    """Run the CLI with stdout on a pseudo-terminal, as a person's shell would."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(COLUMNS="200", TERM="xterm-256color")
    if no_color:
        env["NO_COLOR"] = "1"
    leader, follower = pty.openpty()
    exe = Path(sys.executable).with_name("sprintboard")
    with subprocess.Popen(
        [str(exe), *args, "-w", str(ws)], stdout=follower, stderr=subprocess.PIPE, env=env
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the process exits (EIO)
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    os.close(leader)
    return b"".join(chunks)


def test_no_color_gives_plain_status_and_report_on_a_terminal(ws: Path) -> None:
    styled = _on_a_terminal(ws, "status", no_color=False)
    assert b"\x1b[" in styled  # on a terminal, status is styled: the check below can fail
    plain = _on_a_terminal(ws, "status", no_color=True)
    assert b"\x1b[" not in plain and b"T1" in plain and b"In Progress (1)" in plain
    report = _on_a_terminal(ws, "report", "--out", str(ws / "out"), no_color=True)
    assert b"\x1b[" not in report and b"Lead time per task" in report
