"""Recipes: a small TOML pipeline (task templates with tool steps and checks) the Planner expands.

A recipe names its parameters (`sources`, `model`, ...) and lists task templates. A template
with `foreach = "sources"` becomes one task per item (the audits run in parallel); `after`
names the templates a task waits on. Strings are templates:

- `{param:NAME}` a parameter (a string that is only this placeholder keeps the value's type),
- `{item}` / `{item_stem}` the foreach item and its file stem,
- `{run}` this task's run folder, `{run:KEY}` another template's run folder,
- `{task:KEY}` another template's task id (for `metric KEY.NAME` checks),
- a value `{each = "KEY", item = TEMPLATE}` becomes a list, one TEMPLATE per task of KEY, with
  `{item}`, `{item_stem}` and `{each_run}` bound to that task.

Run folders are left as `{run:T004}`: the attempt number is known only when the task runs
(`runs/<task>/<attempt>/`, see `sprintboard.agents.rundirs`).

`[recipe.param_help]` gives each parameter a one-line meaning and `[recipe.example]` an
objective and parameter values that plan; `agents recipes` shows both, and a missing or
unknown parameter is refused with the example. A name given to `--recipe` is looked up in
the workspace's `recipes/NAME.toml` first, then among the shipped recipes.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sprintboard.board.criteria import parse_check
from sprintboard.board.models import Criterion, Estimate, Step, Task
from sprintboard.errors import ConfigError, field_name, problem_text

__all__ = [
    "Recipe",
    "RecipeCriterion",
    "RecipeExample",
    "RecipeInfo",
    "RecipeStep",
    "RecipeTask",
    "example_command",
    "expand_recipe",
    "load_recipe",
    "matching_recipe",
    "parse_params",
    "shipped_recipes",
    "workspace_recipes",
]

_PLACEHOLDER = re.compile(r"\{([a-z_]+(?::[A-Za-z0-9_.\-]+)?)\}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecipeStep(_Model):
    """One tool call of a task template; `config` strings are templates."""

    tool: str
    config: dict[str, Any] = Field(default_factory=dict)


class RecipeCriterion(_Model):
    """An acceptance criterion; `check` uses the `check:` grammar (DESIGN.md contract 6)."""

    text: str
    check: str | None = None


class RecipeTask(_Model):
    """A task template."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = ""
    foreach: str | None = None
    """A list parameter: one task per item."""
    after: list[str] = Field(default_factory=list)
    """Template keys this task waits on (every task of a foreach template)."""
    priority: int = 3
    estimate: tuple[int, int] | None = None
    """Minutes, low and high."""
    complexity: str | None = None
    caps: list[str] = Field(default_factory=list)
    steps: list[RecipeStep] = Field(default_factory=list)
    criteria: list[RecipeCriterion] = Field(default_factory=list)


class RecipeExample(_Model):
    """`[recipe.example]`: an objective and `--param` values (as typed) that plan."""

    objective: str
    params: dict[str, str] = Field(default_factory=dict)


class RecipeInfo(_Model):
    """The `[recipe]` table."""

    name: str
    summary: str = ""
    params: list[str] = Field(default_factory=list)
    """Parameters the caller must give."""
    defaults: dict[str, Any] = Field(default_factory=dict)
    """Parameters with a default value."""
    param_help: dict[str, str] = Field(default_factory=dict)
    """Parameter -> what it means, on one line."""
    example: RecipeExample | None = None


class Recipe(_Model):
    """A whole recipe file."""

    recipe: RecipeInfo
    tasks: list[RecipeTask] = Field(min_length=1)


def shipped_recipes() -> list[str]:
    """Names of the recipes that ship with sprintboard."""
    folder = resources.files("sprintboard.agents").joinpath("recipes")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


WORKSPACE_RECIPES = "recipes"
"""The workspace folder whose `NAME.toml` files `--recipe NAME` finds before the shipped ones."""


def workspace_recipes(root: Path | None) -> list[Path]:
    """The workspace's own recipe files (`recipes/*.toml`), by name."""
    if root is None or not (root / WORKSPACE_RECIPES).is_dir():
        return []
    return sorted((root / WORKSPACE_RECIPES).glob("*.toml"))


def example_command(recipe: Recipe, ref: str | None = None) -> str:
    """The `agents plan` command line of the recipe's example (`ref`: how `--recipe` names
    it, default its name); without an example, one with a placeholder per required param."""
    info = recipe.recipe
    example = info.example or RecipeExample(
        objective="...", params={p: p.upper() for p in info.params}
    )
    params = "".join(f" --param {shlex.quote(f'{k}={v}')}" for k, v in example.params.items())
    return (
        f"sprintboard agents plan --recipe {shlex.quote(ref or info.name)} "
        f"--objective {shlex.quote(example.objective)}{params}"
    )


_WORD = re.compile(r"[a-z0-9]+")
_MIN_SHARED = 2
"""Summary words an objective must share with a recipe to be planned by it unasked."""


def _words(text: str) -> set[str]:
    # "fine-tuned" counts as "fine", "tuned" and "finetuned"; short words say too little
    lowered = text.lower()
    joined = {w.replace("-", "") for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", lowered)}
    return {w for w in set(_WORD.findall(lowered)) | joined if len(w) >= 4}


def matching_recipe(objective: str) -> str | None:
    """The shipped recipe an objective asks for without naming it: it says the recipe's
    name (`fine-tune`, `finetune`) or shares at least two words of its summary."""
    said = _words(objective)
    squeezed = re.sub(r"[\s_-]+", "", objective.lower())
    for name in shipped_recipes():
        info = load_recipe(name).recipe
        if name in squeezed or len(said & _words(info.summary)) >= _MIN_SHARED:
            return name
    return None


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """`NAME=VALUE` pairs: JSON values as JSON, `a,b` as a list, anything else as text.

    Raises:
        ConfigError: an item has no `=`.
    """
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError("--param", item, "write NAME=VALUE, e.g. sources=a.jsonl,b.jsonl")
        value: Any
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = [v for v in text.split(",") if v] if "," in text else text
        params[name.strip()] = value
    return params


def load_recipe(name_or_path: str | Path, root: Path | None = None) -> Recipe:
    """Load a recipe by name (the workspace `root`'s `recipes/NAME.toml`, else the shipped
    one) or a recipe file by path.

    Raises:
        ConfigError: no such recipe, not TOML, or a wrong key (file and key named).
    """
    path = Path(name_or_path)
    own = root / WORKSPACE_RECIPES / f"{name_or_path}.toml" if root is not None else None
    if own is not None and path.suffix != ".toml" and own.is_file():
        path = own
    if path.suffix == ".toml" or path.exists():
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(path, None, f"cannot read the recipe ({exc.strerror})") from None
    else:
        where = f"sprintboard.agents/recipes/{name_or_path}.toml"
        ref = resources.files("sprintboard.agents").joinpath("recipes", f"{name_or_path}.toml")
        if not ref.is_file():
            raise ConfigError(
                where,
                None,
                f"no shipped recipe {name_or_path!r}; shipped: {', '.join(shipped_recipes())} "
                "(or give a path to a .toml file; `sprintboard agents recipes` lists them)",
            )
        text = ref.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, None, f"not valid TOML: {exc}") from None
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(where, field_name(err), problem_text(err)) from None
    _check_keys(recipe, where)
    return recipe


def _check_keys(recipe: Recipe, where: str) -> None:
    info = recipe.recipe
    known = [*info.params, *info.defaults]
    for table, names in (
        ("param_help", info.param_help),
        ("example.params", _example_params(info)),
    ):
        for name in names:
            if name not in known:
                raise ConfigError(
                    where,
                    f"recipe.{table}.{name}",
                    f"{name!r} is no parameter of this recipe (it has: {', '.join(known) or 'none'})",
                )
    keys = [t.key for t in recipe.tasks]
    for index, template in enumerate(recipe.tasks):
        if keys.count(template.key) > 1:
            raise ConfigError(where, f"tasks.{index}.key", f"{template.key!r} is used twice")
        for dep in template.after:
            if dep not in keys:
                raise ConfigError(where, f"tasks.{index}.after", f"unknown task key {dep!r}")
        for c_index, crit in enumerate(template.criteria):
            if crit.check and "{" not in crit.check:  # templated ones are checked once expanded
                try:
                    parse_check(crit.check)
                except ValueError as exc:
                    raise ConfigError(
                        where, f"tasks.{index}.criteria.{c_index}.check", str(exc)
                    ) from None


def _example_params(info: RecipeInfo) -> dict[str, str]:
    return info.example.params if info.example is not None else {}


@dataclass(frozen=True, slots=True)
class _Instance:
    """One task a template turns into."""

    key: str
    id: str
    item: str | None


def _stem(item: str) -> str:
    name = Path(item).name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def expand_recipe(
    recipe: Recipe,
    params: Mapping[str, Any],
    *,
    first_number: int = 1,
    prefix: str = "T",
) -> list[Task]:
    """Turn a recipe into tasks with ids `T001`... starting at `first_number`.

    Raises:
        ConfigError: a parameter is missing, a foreach parameter is not a list, or a
            template names an unknown placeholder.
    """
    info = recipe.recipe
    where = f"recipe {info.name}"
    values: dict[str, Any] = {**info.defaults, **params}
    missing = [p for p in info.params if p not in values]
    if missing:
        said = "; ".join(
            f"{p}: {info.param_help[p]}" if p in info.param_help else p for p in missing
        )
        raise ConfigError(
            where,
            None,
            f"missing parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)} ({said}); "
            f"give --param NAME=VALUE, e.g. {example_command(recipe)}",
        )
    known = [*info.params, *info.defaults]
    unknown = [p for p in params if p not in known]
    if unknown and known:  # a drafted plan (no parameters declared) takes whatever it is given
        hints = [m for u in unknown for m in difflib.get_close_matches(u, known, n=1)]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise ConfigError(
            where,
            None,
            f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}{hint}; "
            f"it takes {', '.join(known)}, e.g. {example_command(recipe)}",
        )
    instances = _instances(recipe, values, where, first_number, prefix)
    tasks = []
    for template in recipe.tasks:
        deps = [i.id for key in template.after for i in instances[key]]
        for inst in instances[template.key]:
            bind = _Binder(where, template.key, values, instances, inst)
            tasks.append(
                Task(
                    id=inst.id,
                    title=str(bind.render(template.title)),
                    status="blocked" if deps else "ready",
                    priority=template.priority,
                    description=str(bind.render(template.description)),
                    dependencies=list(deps),
                    estimate=Estimate(*template.estimate) if template.estimate else None,
                    complexity=template.complexity,
                    caps=list(template.caps),
                    steps=[Step(s.tool, dict(bind.render(s.config))) for s in template.steps],
                    criteria=[
                        Criterion(
                            text=str(bind.render(c.text)),
                            check=str(bind.render(c.check)) if c.check else None,
                        )
                        for c in template.criteria
                    ],
                    extra={"recipe": recipe.recipe.name, "recipe_key": template.key},
                )
            )
    return tasks


def _instances(
    recipe: Recipe, values: Mapping[str, Any], where: str, first_number: int, prefix: str
) -> dict[str, list[_Instance]]:
    """Each template's task instances (one per `foreach` item, else one), numbered in
    recipe order from `first_number`."""
    instances: dict[str, list[_Instance]] = {}
    number = first_number
    for template in recipe.tasks:
        items: list[str | None] = [None]
        if template.foreach is not None:
            seq = values.get(template.foreach)
            if isinstance(seq, str):
                seq = [seq]
            if not isinstance(seq, list | tuple) or not seq:
                raise ConfigError(
                    where, template.key, f"foreach parameter {template.foreach!r} must be a list"
                )
            items = [str(i) for i in seq]
        instances[template.key] = []
        for item in items:
            instances[template.key].append(_Instance(template.key, f"{prefix}{number:03d}", item))
            number += 1
    return instances


class _Binder:
    """Renders the templates of one task instance."""

    def __init__(
        self,
        where: str,
        key: str,
        params: Mapping[str, Any],
        instances: Mapping[str, Sequence[_Instance]],
        inst: _Instance,
        each: _Instance | None = None,
    ) -> None:
        self.where, self.key, self.params = where, key, params
        self.instances, self.inst, self.each = instances, inst, each

    def lookup(self, name: str) -> Any:
        kind, _, arg = name.partition(":")
        if kind == "param" and arg in self.params:
            return self.params[arg]
        if kind == "run" and not arg:
            return f"{{run:{self.inst.id}}}"
        if kind in ("run", "task") and arg:
            targets = self.instances.get(arg)
            if targets is None or len(targets) != 1:
                raise ConfigError(
                    self.where,
                    self.key,
                    f"{{{name}}} needs a template with exactly one task; use "
                    "{each = KEY, item = ...} for a foreach template",
                )
            return f"{{run:{targets[0].id}}}" if kind == "run" else targets[0].id
        source = self.each or self.inst
        if kind in ("item", "item_stem") and not arg and source.item is not None:
            return source.item if kind == "item" else _stem(source.item)
        if kind == "each_run" and self.each is not None:
            return f"{{run:{self.each.id}}}"
        if kind == "each_task" and self.each is not None:
            return self.each.id
        raise ConfigError(self.where, self.key, f"unknown placeholder {{{name}}}")

    def render(self, value: Any) -> Any:
        if isinstance(value, str):
            whole = _PLACEHOLDER.fullmatch(value)
            if whole:
                return self.lookup(whole.group(1))
            return _PLACEHOLDER.sub(lambda m: str(self.lookup(m.group(1))), value)
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"each", "item"}:
                targets = self.instances.get(str(value["each"]))
                if targets is None:
                    raise ConfigError(self.where, self.key, f"each: unknown key {value['each']!r}")
                return [
                    _Binder(self.where, self.key, self.params, self.instances, self.inst, t).render(
                        value["item"]
                    )
                    for t in targets
                ]
            return {k: self.render(v) for k, v in value.items()}
        return value
