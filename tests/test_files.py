"""One rule for artifact paths: relative to the workspace root, whichever door hands them in."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sprintboard.cli import main
from sprintboard.errors import WorkspaceError
from sprintboard.files import FileRef, file_ref, workspace_file_ref
from sprintboard.workspace import init_workspace, open_board


def test_a_file_in_the_workspace_is_recorded_relative_to_its_root(tmp_path: Path) -> None:
    out = tmp_path / "ws" / "runs" / "T1" / "1" / "out.jsonl"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"abc\n")

    ref = workspace_file_ref(tmp_path / "ws", out)

    assert ref == FileRef("runs/T1/1/out.jsonl", hashlib.sha256(b"abc\n").hexdigest(), 4)
    assert file_ref(out).path == str(out)  # a tool's manifest keeps the path it was given


def test_a_relative_path_counts_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ws" / "data").mkdir(parents=True)
    (tmp_path / "ws" / "data" / "a.txt").write_text("x", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "ws" / "data")

    assert workspace_file_ref(tmp_path / "ws", Path("a.txt")).path == "data/a.txt"
    assert workspace_file_ref(Path(".."), Path("../data/./a.txt")).path == "data/a.txt"


def test_a_file_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x", encoding="utf-8")

    with pytest.raises(WorkspaceError, match="not inside the workspace"):
        workspace_file_ref(tmp_path / "ws", outside)
    with pytest.raises(WorkspaceError):
        workspace_file_ref(tmp_path / "ws", tmp_path / "ws" / ".." / "elsewhere.txt")


def test_a_link_inside_the_workspace_is_recorded_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    target = tmp_path / "ws" / "real.txt"
    target.write_text("x", encoding="utf-8")
    os.symlink(target, tmp_path / "ws" / "link.txt")

    assert workspace_file_ref(tmp_path / "ws", tmp_path / "ws" / "link.txt").path == "link.txt"


def test_cli_submit_records_the_artifact_relative_to_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = init_workspace(tmp_path / "ws", git=False)
    (ws / "out").mkdir()
    (ws / "out" / "a.txt").write_text("x", encoding="utf-8")
    monkeypatch.chdir(ws / "out")
    main(["add", "T1", "Audit", "-w", str(ws)])
    main(["claim", "T1", "--agent", "builder-alpha", "-w", str(ws)])
    main(["submit", "T1", "--fence", "1", "--artifact", "a.txt", "-w", str(ws)])

    assert [a.path for a in open_board(ws).snapshot().tasks["T1"].artifacts] == ["out/a.txt"]
