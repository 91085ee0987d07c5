"""Plans from an objective: a recipe only when named or matched; otherwise refused without
`--llm`, and drafted by the model (step-less tasks and tool steps) with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.agents.hosting import run_host
from sprintboard.agents.recipe import matching_recipe
from sprintboard.agents.runner import PlanRequest, RunnerOptions
from sprintboard.errors import BoardError
from sprintboard.llm import ScriptedBackend
from sprintboard.workspace import open_board

PLAN_ONLY = RunnerOptions(roles=("planner",), once=True, max_ticks=1)
OBJECTIVE = "Write the training documentation"


def test_an_objective_matches_a_recipe_only_when_it_asks_for_it() -> None:
    assert matching_recipe(OBJECTIVE) is None
    assert matching_recipe("Write the model card") is None
    assert matching_recipe("Fine-tune the base model on our chats") == "finetune"
    assert matching_recipe("finetune it") == "finetune"
    assert matching_recipe("audit and dedup the dataset, then train") == "finetune"


def test_an_objective_no_recipe_matches_is_refused_without_llm(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(BoardError) as refused:
        run_host(workspace, "alpha", PLAN_ONLY, plan=PlanRequest(OBJECTIVE))
    text = str(refused.value)
    assert "matches no recipe" in text and "finetune: Dataset to fine-tuned model" in text
    assert "--recipe NAME" in text and "--llm" in text
    board = open_board(workspace)
    assert board.snapshot().tasks == {} and board.snapshot().sprint.id != "S1"

    from sprintboard.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["agents", "plan", "--objective", OBJECTIVE, "-w", str(workspace)])
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert "matches no recipe" in err and "Traceback" not in err


def test_with_llm_the_objective_becomes_a_step_less_task_and_a_tool_step(
    workspace: Path, sources: Callable[..., list[str]]
) -> None:
    (data,) = sources(workspace, count=1)
    drafted = {
        "tasks": [
            {"key": "docs", "title": "Write TRAINING.md", "caps": ["docs"],
             "description": "How to train: data, command, expected loss",
             "criteria": [{"text": "written", "check": "file_exists {run}/TRAINING.md"}]},
            {"key": "audit", "title": "Audit the training data", "after": ["docs"],
             "steps": [{"tool": "audit", "config": {"inputs": [data], "out_dir": "{run}"}}],
             "criteria": [{"text": "audited", "check": "file_exists {run}/audit.manifest.json"}]},
        ]
    }  # fmt: skip
    backend = ScriptedBackend.replying(json.dumps(drafted))

    summary = run_host(
        workspace, "alpha", PLAN_ONLY, plan=PlanRequest(OBJECTIVE), llm=True, backend=backend
    )

    assert summary.plan_source == "llm" and summary.planned == 2
    system = backend.requests[0].messages[0].content + backend.requests[0].messages[1].content
    assert "no steps" in system and "caps" in system
    tasks = open_board(workspace).snapshot().tasks
    docs, audit = tasks["T001"], tasks["T002"]
    assert docs.steps == [] and docs.caps == ["docs"] and docs.status == "ready"
    assert docs.criteria[0].check == "file_exists {run:T001}/TRAINING.md"
    assert [s.tool for s in audit.steps] == ["audit"] and audit.dependencies == ["T001"]


def test_an_llm_plan_that_does_not_validate_is_refused_when_no_recipe_is_at_hand(
    workspace: Path,
) -> None:
    bad = {"tasks": [{"key": "x", "title": "X", "steps": [{"tool": "rm_rf", "config": {}}]}]}
    backend = ScriptedBackend.replying(json.dumps(bad))
    with pytest.raises(BoardError, match="rm_rf.*no recipe to fall back to"):
        run_host(
            workspace, "alpha", PLAN_ONLY, plan=PlanRequest(OBJECTIVE), llm=True, backend=backend
        )
    assert open_board(workspace).snapshot().tasks == {}
