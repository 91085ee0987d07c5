"""Tools register by name with a pydantic config model and a pydantic report model.

Besides the built-ins below, a team's own tools register the same way (`@register` in a
module): the modules `[tools] modules` names (`load_tool_modules`) and every installed
`sprintboard.tools` entry point (loaded on the first lookup) are imported, so their tools
are steps, CLI commands (`sprintboard tools run NAME`) and LLM-worker tools like the rest.

A task step (`{tool, config}`) is validated against the tool's config model when the
task is planned (`validate_step`) and run by the Builder (`run_step`). Tool modules are
imported lazily so that validating a `dedup` step never imports mlx.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from sprintboard.errors import ToolError, field_name, problem_text

__all__ = [
    "ENTRY_POINT_GROUP",
    "ToolSpec",
    "get_tool",
    "load_tool_modules",
    "register",
    "run_step",
    "tool_names",
    "validate_step",
]

ENTRY_POINT_GROUP = "sprintboard.tools"
"""Installed packages offer tools under this entry-point group (a module or an object whose
import registers them)."""


@dataclass(frozen=True)
class ToolSpec:
    """A registered tool: its name, config model, report model and entry point."""

    name: str
    config: type[BaseModel]
    report: type[BaseModel]
    run: Callable[[Any], BaseModel]
    summary: str


# Where each known tool lives; imported on first use only.
_MODULES: dict[str, str] = {
    "audit": "sprintboard.tools.audit",
    "dedup": "sprintboard.tools.dedup",
    "mix": "sprintboard.tools.mix",
    "split": "sprintboard.tools.split",
    "leakage": "sprintboard.tools.leakage",
    "train": "sprintboard.tools.train",
    "eval": "sprintboard.tools.evaluate",
    "generate": "sprintboard.tools.generate",
    "fuse": "sprintboard.tools.fuse",
}
_REGISTRY: dict[str, ToolSpec] = {}
_loaded: set[str] = set()
_entry_points_loaded = False


def load_tool_modules(modules: Sequence[str]) -> None:
    """Import the team's tool modules (`[tools] modules`); each registers its tools.

    Raises:
        ToolError: a module cannot be imported (its error is named).
    """
    for module in modules:
        if module in _loaded:
            continue
        try:
            importlib.import_module(module)
        except Exception as exc:  # a user's module may fail in any way: say which and why
            raise ToolError(
                module, f"[tools] modules: cannot import it ({type(exc).__name__}: {exc})"
            ) from None
        _loaded.add(module)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    # scanning installed distributions costs start-up time: only when a lookup needs it
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            point.load()
        except Exception as exc:  # an installed plugin is broken: name it, do not hide it
            raise ToolError(
                point.name,
                f"entry point {point.value} ({ENTRY_POINT_GROUP}) does not load: "
                f"{type(exc).__name__}: {exc}",
            ) from None


def register(
    name: str, *, config: type[BaseModel], report: type[BaseModel]
) -> Callable[[Callable[[Any], BaseModel]], Callable[[Any], BaseModel]]:
    """Register the decorated function as tool `name` (config in, report out)."""

    def decorate(fn: Callable[[Any], BaseModel]) -> Callable[[Any], BaseModel]:
        summary = (fn.__doc__ or name).strip().splitlines()[0]
        _REGISTRY[name] = ToolSpec(name, config, report, fn, summary)
        return fn

    return decorate


def tool_names() -> list[str]:
    """Every tool name a step may use."""
    _load_entry_points()
    return sorted(set(_MODULES) | set(_REGISTRY))


def get_tool(name: str) -> ToolSpec:
    """Look up a tool by name, importing its module on first use.

    Raises:
        ToolError: no tool has that name.
    """
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ToolError(name, f"unknown tool; known tools: {', '.join(tool_names())}") from None


def validate_step(name: str, config: Mapping[str, Any]) -> BaseModel:
    """Validate a step's config against the tool's config model (done at planning time).

    Raises:
        ToolError: unknown tool, or the config does not validate (the message lists each field).
    """
    spec = get_tool(name)
    try:
        return spec.config.model_validate(dict(config))
    except ValidationError as exc:
        problems = "; ".join(
            f"{field_name(err) or '(config)'}: {problem_text(err)}" for err in exc.errors()
        )
        raise ToolError(name, f"invalid step config: {problems}") from None


def run_step(name: str, config: Mapping[str, Any] | BaseModel) -> BaseModel:
    """Run one step and return the tool's report."""
    spec = get_tool(name)
    cfg = config if isinstance(config, BaseModel) else validate_step(name, config)
    return spec.run(cfg)
