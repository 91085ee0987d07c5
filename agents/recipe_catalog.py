"""`sprintboard agents recipes`: the recipes a workspace can plan from, with what each
parameter means and an example command.

Shipped recipes come with sprintboard; a workspace's own are its `recipes/*.toml` files,
which `--recipe NAME` finds first. A parameter's type is what its value will be: the type
of its default, `list` for a parameter a template runs `foreach` over, else `text`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from sprintboard.agents.recipe import (
    Recipe,
    example_command,
    load_recipe,
    shipped_recipes,
    workspace_recipes,
)
from sprintboard.errors import ConfigError

__all__ = ["ParamDoc", "RecipeDoc", "TemplateDoc", "describe_recipe", "find_recipe", "list_recipes"]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParamDoc(_Doc):
    """One parameter of a recipe."""

    name: str
    type: str
    """`text`, `list`, `integer`, `number` or `boolean`."""
    required: bool
    default: Any = None
    description: str
    """One line; empty when the recipe file gives none (`[recipe.param_help]`)."""


class TemplateDoc(_Doc):
    """One task template: the task(s) it becomes and what they run."""

    key: str
    title: str
    foreach: str | None
    after: list[str]
    tools: list[str]
    caps: list[str]


class RecipeDoc(_Doc):
    """A recipe as `agents recipes` shows it."""

    name: str
    ref: str
    """What to give `--recipe` (a workspace recipe's file stem, a shipped recipe's name)."""
    source: Literal["shipped", "workspace"]
    path: str
    summary: str
    params: list[ParamDoc]
    example: str
    """An `agents plan` command line that plans this recipe."""
    tasks: list[TemplateDoc]


def _type_of(recipe: Recipe, name: str) -> str:
    info = recipe.recipe
    if name in info.defaults:
        value = info.defaults[name]
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, float):
            return "number"
        if isinstance(value, list):
            return "list"
        return "text"
    return "list" if any(t.foreach == name for t in recipe.tasks) else "text"


def describe_recipe(
    recipe: Recipe, *, ref: str, source: Literal["shipped", "workspace"], path: str
) -> RecipeDoc:
    """What `agents recipes` shows of one loaded recipe."""
    info = recipe.recipe
    names = [*info.params, *(d for d in info.defaults if d not in info.params)]
    return RecipeDoc(
        name=info.name,
        ref=ref,
        source=source,
        path=path,
        summary=info.summary,
        params=[
            ParamDoc(
                name=n,
                type=_type_of(recipe, n),
                required=n not in info.defaults,
                default=info.defaults.get(n),
                description=info.param_help.get(n, ""),
            )
            for n in names
        ],
        example=example_command(recipe, ref),
        tasks=[
            TemplateDoc(
                key=t.key,
                title=t.title,
                foreach=t.foreach,
                after=list(t.after),
                tools=[s.tool for s in t.steps],
                caps=list(t.caps),
            )
            for t in recipe.tasks
        ],
    )


def list_recipes(root: Path | None) -> list[RecipeDoc]:
    """The workspace's own recipes, then the shipped ones that no workspace file of the same
    name hides (`--recipe NAME` plans the workspace's file).

    Raises:
        ConfigError: a workspace recipe file does not load (file and key named).
    """
    docs: list[RecipeDoc] = []
    own_paths = workspace_recipes(root)
    own = {p.stem for p in own_paths}
    for path in own_paths:
        docs.append(
            describe_recipe(load_recipe(path), ref=path.stem, source="workspace", path=str(path))
        )
    for name in shipped_recipes():
        shipped = f"sprintboard.agents/recipes/{name}.toml"
        if name in own:
            continue
        docs.append(describe_recipe(load_recipe(name), ref=name, source="shipped", path=shipped))
    return docs


def find_recipe(root: Path | None, name: str) -> RecipeDoc:
    """One recipe by the name `--recipe` takes (or a .toml path).

    Raises:
        ConfigError: no such recipe (the known names listed).
    """
    for doc in list_recipes(root):
        if name in (doc.ref, doc.name):
            return doc
    path = Path(name)
    if path.suffix == ".toml":
        return describe_recipe(load_recipe(path), ref=name, source="workspace", path=name)
    known = ", ".join(d.ref for d in list_recipes(root))
    raise ConfigError(
        "agents recipes", None, f"no recipe {name!r}; known: {known} (or give a .toml path)"
    )
