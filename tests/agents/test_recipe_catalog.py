"""Issue 27 item 9: recipes are discoverable. `agents recipes` lists the shipped and the
workspace's recipes with each parameter's type, default and meaning and an example command;
a missing or unknown parameter is refused with the example."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from sprintboard.agents.recipe import (
    expand_recipe,
    load_recipe,
    parse_params,
    shipped_recipes,
)
from sprintboard.agents.recipe_catalog import list_recipes
from sprintboard.errors import ConfigError
from sprintboard.workspace import init_workspace

OWN_RECIPE = """\
[recipe]
name = "docs"
summary = "Write the docs"
params = ["topic"]

[recipe.defaults]
pages = 3

[recipe.param_help]
topic = "What the docs explain"
pages = "How many pages at most"

[recipe.example]
objective = "Document the board"
params = { topic = "the board" }

[[tasks]]
key = "write"
title = "Write about {param:topic}"
"""

CliRun = Callable[..., tuple[int, str, str]]
"""The `cli` fixture of tests/conftest.py."""


@pytest.mark.parametrize("name", shipped_recipes())
def test_every_shipped_recipe_explains_each_parameter_and_its_example_plans(name: str) -> None:
    recipe = load_recipe(name)
    info = recipe.recipe
    undescribed = [p for p in [*info.params, *info.defaults] if not info.param_help.get(p)]
    assert not undescribed, f"{name}: parameters without a [recipe.param_help] line"
    assert all("\n" not in text for text in info.param_help.values())
    assert info.example is not None, f"{name}: no [recipe.example]"
    # the example is what a person would type: its values parse and the recipe expands
    typed = [f"{k}={v}" for k, v in info.example.params.items()]
    tasks = expand_recipe(recipe, parse_params(typed))
    assert tasks and info.summary


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = init_workspace(tmp_path / "ws", hosts=[("alpha", [])], git=False)
    (root / "recipes").mkdir()
    (root / "recipes" / "docs.toml").write_text(OWN_RECIPE, encoding="utf-8")
    return root


def test_recipes_lists_the_workspace_and_shipped_ones_with_parameters(
    ws: Path, cli: CliRun
) -> None:
    code, out, _ = cli("agents", "recipes", "--json", "-w", str(ws))
    assert code == 0
    docs = {d["ref"]: d for d in orjson.loads(out)}
    assert set(docs) == {"docs", *shipped_recipes()}
    assert docs["docs"]["source"] == "workspace" and docs["finetune"]["source"] == "shipped"
    params = {p["name"]: p for p in docs["finetune"]["params"]}
    assert params["sources"] == {
        "name": "sources",
        "type": "list",
        "required": True,
        "default": None,
        "description": params["sources"]["description"],
    }
    assert params["sources"]["description"].startswith("JSONL")
    assert (params["iters"]["type"], params["iters"]["default"], params["iters"]["required"]) == (
        "integer",
        20,
        False,
    )
    assert params["learning_rate"]["type"] == "number"
    assert docs["docs"]["example"] == (
        "sprintboard agents plan --recipe docs --objective 'Document the board' "
        "--param 'topic=the board'"
    )

    code, out, _ = cli("agents", "recipes", "-w", str(ws))
    assert code == 0
    assert "docs (" in out and "finetune (shipped)" in out
    assert "  topic  text, required. What the docs explain" in out
    assert "  pages  integer, default 3. How many pages at most" in out


def test_one_recipe_in_full_shows_its_tasks(ws: Path, cli: CliRun) -> None:
    code, out, _ = cli("agents", "recipes", "finetune", "-w", str(ws))
    assert code == 0
    assert "example: sprintboard agents plan --recipe finetune" in out
    assert "    train, after split: train; needs mlx - Train a LoRA adapter" in out
    code, _, err = cli("agents", "recipes", "nosuch", "-w", str(ws))
    assert code == 1 and "no recipe 'nosuch'; known: docs, finetune" in err


def test_recipes_works_outside_a_workspace(
    tmp_path: Path, cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("agents", "recipes", "--json")
    assert code == 0 and [d["ref"] for d in orjson.loads(out)] == shipped_recipes()


def test_a_workspace_recipe_plans_by_name(ws: Path) -> None:
    assert load_recipe("docs", ws).recipe.name == "docs"
    assert load_recipe("finetune", ws).recipe.name == "finetune"
    with pytest.raises(ConfigError, match="no shipped recipe 'docs'"):
        load_recipe("docs")  # without the workspace, only the shipped ones
    assert [d.ref for d in list_recipes(None)] == shipped_recipes()


def test_a_missing_parameter_names_it_and_shows_the_example(ws: Path, cli: CliRun) -> None:
    code, out, err = cli(
        "agents", "plan", "--recipe", "finetune", "--objective", "tune",
        "--param", "sources=a.jsonl", "-w", str(ws),
    )  # fmt: skip
    assert code == 1 and not out
    assert "missing parameter model (model: The base model" in err
    assert "e.g. sprintboard agents plan --recipe finetune --objective" in err
    assert "--param model=models/base" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_parameter_is_refused_with_a_hint_and_the_example(ws: Path, cli: CliRun) -> None:
    code, _, err = cli(
        "agents", "plan", "--recipe", "docs", "--objective", "d",
        "--param", "topic=x", "--param", "pagse=4", "-w", str(ws),
    )  # fmt: skip
    assert code == 1
    assert "unknown parameter pagse (did you mean pages?)" in err
    assert "--param 'topic=the board'" in err
    assert not (ws / "sprints" / "S1").exists()  # nothing was planned


def test_help_for_an_unknown_parameter_in_the_recipe_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(OWN_RECIPE.replace('pages = "How', 'pagez = "How'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"recipe\.param_help\.pagez.*'pagez' is no parameter"):
        load_recipe(bad)
