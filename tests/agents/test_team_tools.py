"""A team's own tool, registered through `[tools] modules`: validated at plan time, run as a
planned step, from the CLI, and offered to the LLM worker."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

from sprintboard.agents.hosting import run_host
from sprintboard.agents.runner import PlanRequest, RunnerOptions
from sprintboard.errors import BoardError
from sprintboard.tools.registry import tool_names
from sprintboard.workspace import open_board

TOOL_MODULE = '''
"""Counts words: a team's own tool."""
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sprintboard.files import file_ref
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.registry import register


class WordCountConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[Path]
    out: Path


class WordCountReport(BaseModel):
    words: int
    output: str


@register("{name}", config=WordCountConfig, report=WordCountReport)
def word_count(config: WordCountConfig) -> WordCountReport:
    """Count the words of text files."""
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in config.inputs)
    config.out.mkdir(parents=True, exist_ok=True)
    out = config.out / "count.json"
    out.write_text(str(words), encoding="utf-8")
    write_manifest(
        config.out / "manifest.json",
        Manifest(tool="{name}", version="1", inputs=[file_ref(p) for p in config.inputs],
                 outputs=[file_ref(out)], counts={{"words": words}}),
    )
    return WordCountReport(words=words, output=str(out))
'''

CONFIG = """\
[board]
owner = "alpha"

[[agents]]
name = "planner-1"
role = "planner"
host = "alpha"

[[agents]]
name = "auditor-1"
role = "auditor"
host = "alpha"

[[agents]]
name = "builder-1"
role = "builder"
host = "alpha"

[tools]
modules = ["{module}"]
"""

RECIPE = """\
[recipe]
name = "count"
summary = "Count the words of the notes"

[[tasks]]
key = "count"
title = "Count words"
steps = [{{ tool = "{name}", config = {{ inputs = ["notes.txt"], out = "{{run}}" }} }}]
criteria = [{{ text = "counted", check = "file_exists {{run}}/count.json" }}]
"""


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    """A workspace whose `[tools] modules` names a fresh module that registers a tool."""
    suffix = uuid.uuid4().hex[:8]
    module, name = f"team_tools_{suffix}", f"wordcount_{suffix}"
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / f"{module}.py").write_text(TOOL_MODULE.format(name=name), encoding="utf-8")
    monkeypatch.syspath_prepend(str(lib))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "sprintboard.toml").write_text(CONFIG.format(module=module), encoding="utf-8")
    (ws / "notes.txt").write_text("one two three\nfour\n", encoding="utf-8")
    return ws, module, name


def test_a_team_tool_is_planned_validated_and_run_as_a_step(
    team: tuple[Path, str, str],
) -> None:
    ws, module, name = team
    assert module not in sys.modules and name not in tool_names()
    recipe = ws / "count.toml"
    bad = ws / "bad.toml"
    recipe.write_text(RECIPE.format(name=name), encoding="utf-8")
    bad.write_text(RECIPE.format(name=name).replace("inputs", "inptus"), encoding="utf-8")
    options = RunnerOptions(once=True, tick=0.1, max_ticks=50)

    with pytest.raises(BoardError, match=rf"{name}: invalid step config: .*inptus"):
        run_host(ws, "alpha", options, plan=PlanRequest("count", str(bad)))
    assert open_board(ws).snapshot().tasks == {}  # validated at plan time: nothing queued

    summary = run_host(ws, "alpha", options, plan=PlanRequest("count", str(recipe)))

    assert summary.planned == 1
    task = open_board(ws).snapshot().tasks["T001"]
    assert task.status == "done", task.blocked_reason
    run = ws / "runs" / "T001" / "1"
    assert (run / "count.json").read_text(encoding="utf-8") == "4"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tool"] == name and manifest["counts"] == {"words": 4}
    assert task.metrics[f"{name}_words"] == 4.0


def test_a_team_tool_runs_from_the_cli(
    team: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from sprintboard.cli import main

    ws, _, name = team
    config = ws / "wc.json"
    config.write_text(json.dumps({"inputs": [str(ws / "notes.txt")], "out": str(ws / "o")}))
    main(["tools", "run", name, "--config", str(config), "-w", str(ws), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report == {"words": 4, "output": str(ws / "o" / "count.json")}
    main(["tools", "list", "-w", str(ws), "--json"])
    rows = json.loads(capsys.readouterr().out)["tools"]
    assert {"name": name, "summary": "Count the words of text files."} in rows
    config.write_text(json.dumps({"inputs": [], "out": 3}))
    with pytest.raises(SystemExit) as refused:
        main(["tools", "run", name, "--config", str(config), "-w", str(ws)])
    assert refused.value.code == 1
    assert f"{name}: invalid step config" in capsys.readouterr().err


def test_a_team_tool_is_offered_to_the_llm_worker(team: tuple[Path, str, str]) -> None:
    from sprintboard.agents.workers.job import WorkerJob
    from sprintboard.agents.workers.llm_tools import Toolbox
    from sprintboard.allowlist import AllowList
    from sprintboard.llm import ToolCall
    from sprintboard.tools.registry import load_tool_modules

    ws, module, name = team
    load_tool_modules([module])
    run = ws / "runs" / "T9" / "1"
    run.mkdir(parents=True)
    job = WorkerJob(task="T9", attempt=1, fence=1, agent="w", host="alpha", root=ws,
                    run_dir=run, cwd=run, env={})  # fmt: skip
    box = Toolbox(job, board=None, allow=AllowList(), tools=[name])  # type: ignore[arg-type]
    offered = {d.name: d for d in box.definitions()}
    assert offered[name].parameters["required"] == ["inputs", "out"]
    args = json.dumps({"inputs": ["notes.txt"], "out": "runs/T9/1"})
    result = box.call(ToolCall(id="c", name=name, arguments=args))
    assert json.loads(result.text)["words"] == 4 and (run / "count.json").is_file()
