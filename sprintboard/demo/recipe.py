"""The demo's recipe: the shipped `finetune` recipe, adapted to a 40/25/20/10/5 mix.

The shipped recipe mixes its sources in equal shares and has no optional work. The demo
keeps every template of it and changes three things: the `mix` step names each source
with its share, a low-priority "Near-duplicate report" task (dedup with `near`, kept
apart from the main chain) is added, and so is a step-less "Write the model card" task
after the evaluation, for the demo's command worker (`sprintboard.demo.model_card`). The result is written as a recipe file the Planner
loads like any other (`--recipe PATH`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sprintboard.agents.recipe import Recipe, RecipeCriterion, RecipeStep, RecipeTask, load_recipe

__all__ = [
    "MODEL_CARD_TITLE",
    "NEAR_DUP_TITLE",
    "WRITER_CAPS",
    "demo_recipe",
    "recipe_toml",
    "write_demo_recipe",
]

NEAR_DUP_TITLE = "Near-duplicate report (optional)"
MODEL_CARD_TITLE = "Write the model card"
WRITER_CAPS = ["docs"]
"""What the model card task needs: only the demo's command worker (`writer-alpha`) has it."""


def demo_recipe(shares: Mapping[str, int], *, iters: int = 30) -> Recipe:
    """The shipped `finetune` recipe with the mix at `shares` (stem -> percent) and the report."""
    base = load_recipe("finetune")
    tasks: list[RecipeTask] = []
    for template in base.tasks:
        if template.key == "mix":
            (step,) = template.steps
            sources = [
                {"name": stem, "path": f"{{run:dedup}}/{stem}.dedup.jsonl", "ratio": float(share)}
                for stem, share in shares.items()
            ]
            ratios = "/".join(str(s) for s in shares.values())
            template = template.model_copy(
                update={
                    "description": f"Mix the deduplicated sources {ratios}.",
                    "steps": [RecipeStep(tool="mix", config={**step.config, "sources": sources})],
                }
            )
        tasks.append(template)
        if template.key == "dedup":
            tasks.append(_near_dup_report())
    tasks.append(_model_card())
    defaults = {**base.recipe.defaults, "iters": iters}
    info = base.recipe.model_copy(update={"name": "finetune-demo", "defaults": defaults})
    return Recipe(recipe=info, tasks=tasks)


def _near_dup_report() -> RecipeTask:
    # Not on the path to the model: nothing waits on it, so a person may block it freely.
    return RecipeTask(
        key="near_dup_report",
        title=NEAR_DUP_TITLE,
        description="List near-duplicate clusters (MinHash) across the audited sources.",
        after=["audit"],
        priority=4,
        estimate=(5, 10),
        complexity="Low",
        steps=[
            RecipeStep(
                tool="dedup",
                config={
                    "inputs": {"each": "audit", "item": "{each_run}/{item_stem}.clean.jsonl"},
                    "names": {"each": "audit", "item": "{item_stem}"},
                    "out_dir": "{run}",
                    "near": True,
                },
            )
        ],
        criteria=[
            RecipeCriterion(
                text="Near-duplicate clusters listed", check="file_exists {run}/near_clusters.jsonl"
            )
        ],
    )


def _model_card() -> RecipeTask:
    # No tool steps: a command worker (an outside program) does it; the Auditor checks
    # the file it left in its own run folder.
    return RecipeTask(
        key="model_card",
        title=MODEL_CARD_TITLE,
        description="Write MODEL_CARD.md from the evaluation's metrics and files.",
        after=["eval"],
        priority=2,
        estimate=(2, 5),
        complexity="Low",
        caps=list(WRITER_CAPS),
        criteria=[
            RecipeCriterion(text="MODEL_CARD.md written", check="file_exists {run}/MODEL_CARD.md")
        ],
    )


def _value(value: Any) -> str:
    """One TOML value; JSON strings are valid TOML basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def recipe_toml(recipe: Recipe) -> str:
    """The recipe as TOML text that `load_recipe` reads back to the same model."""
    info = recipe.recipe
    lines = ["[recipe]"]
    lines += [f"{k} = {_value(v)}" for k, v in info.model_dump(exclude={"defaults"}, exclude_none=True).items()]
    lines += ["", "[recipe.defaults]"]
    lines += [f"{json.dumps(k)} = {_value(v)}" for k, v in info.defaults.items()]
    for task in recipe.tasks:
        lines += ["", "[[tasks]]"]
        for key, value in task.model_dump(exclude_none=True).items():
            lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def write_demo_recipe(path: Path, shares: Mapping[str, int], *, iters: int = 30) -> Path:
    """Write the demo recipe to `path` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(recipe_toml(demo_recipe(shares, iters=iters)), encoding="utf-8")
    return path
