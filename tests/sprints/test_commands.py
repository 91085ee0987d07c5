"""`sprintboard import / export / graph / next` through the real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson


def run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("sprintboard")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60)


def test_import_graph_next_export(tmp_path: Path, examples: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", str(ws), "--no-git").returncode == 0
    w = ("-w", str(ws))
    imported = run("import", str(examples / "oodatcaa-SPRINT_BACKLOG.md"), *w)
    assert imported.returncode == 0, imported.stderr
    assert "imported 8 task(s)" in imported.stdout
    assert "T005 is a leaf" in imported.stderr

    graph = orjson.loads(run("graph", "--json", *w).stdout)
    assert {"critical_path", "phases", "cycles", "slack"} <= set(graph)
    assert graph["critical_path"] == ["T001", "T003", "T004", "T006", "T008"]
    assert (graph["length_min"], graph["length_max"]) == (840, 1200)
    assert len(graph["phases"]) == 5 and graph["cycles"] == []

    nxt = orjson.loads(run("next", "--role", "builder", "--json", *w).stdout)
    assert [t["id"] for t in nxt["tasks"]] == ["T001"] and nxt["wip_limit"] is None

    out = tmp_path / "queue.json"
    assert run("export", "--format", "queue", "-o", str(out), *w).returncode == 0
    doc = orjson.loads(out.read_bytes())
    assert doc["metadata"]["total_tasks"] == 8 and doc["tasks"][1]["dependencies"] == ["T001"]
    backlog = run("export", "--format", "backlog", *w).stdout
    assert "**Critical Path:**  \nT001 → T003 → T004 → T006 → T008" in backlog


def test_refused_import_is_one_line_and_exit_1(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run("init", str(ws), "--no-git")
    bad = tmp_path / "SPRINT_QUEUE.json"
    bad.write_text('{"tasks": [\n<<<<<<< ours\n=======\n>>>>>>> theirs\n]}\n', encoding="utf-8")
    result = run("import", str(bad), "-w", str(ws))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"{bad}:2: git conflict markers on line(s) 2, 3, 4" in result.stderr
    assert run("export", "--format", "yaml", "-w", str(ws)).returncode == 2
