"""The Planner: objective + recipe (or an LLM draft) -> validated tasks on the board + BACKLOG.md.

The graph is `draft` -> `queue` -> `backlog`. `draft` expands the recipe (with `--llm` it
asks the model first, and falls back to the recipe when the model is unavailable, saying
so in a decision). Nothing is queued before the whole plan validates: unknown or cyclic
dependencies, step configs the tools refuse, checks that do not parse. `queue` writes the
tasks with ids keyed by sprint + task, so a re-run after a kill creates nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from sprintboard.agents.llm import OpenAIBackend
from sprintboard.agents.llm_structured import structured
from sprintboard.agents.recipe import (
    Recipe,
    RecipeInfo,
    RecipeTask,
    expand_recipe,
    load_recipe,
    matching_recipe,
    shipped_recipes,
)
from sprintboard.agents.rundirs import run_refs
from sprintboard.agents.runtime import linear_graph
from sprintboard.board.client import BoardClient, EventDraft
from sprintboard.board.codec import task_from_dict, task_to_dict
from sprintboard.board.criteria import parse_check
from sprintboard.board.models import Task
from sprintboard.board.state import BoardState
from sprintboard.board.values import check_task, clean_line
from sprintboard.config import LLMConfig
from sprintboard.errors import BoardError, ConfigError, InvalidValue, LLMUnavailable, ToolError
from sprintboard.files import atomic_write
from sprintboard.llm import ChatRequest
from sprintboard.sprints.backlog import render_backlog
from sprintboard.sprints.graph import validate_graph
from sprintboard.tools.registry import tool_names, validate_step

__all__ = ["PlanState", "Planner", "llm_backend", "plan_thread_id", "validate_plan"]

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^T(\d+)$")


class PlanState(TypedDict):
    """A planning thread's checkpointed state."""

    objective: str
    recipe: str
    params: dict[str, Any]
    sprint: str
    tasks: list[dict[str, Any]]
    source: str
    """`recipe` or `llm`: where the tasks came from."""
    llm_error: str
    queued: int
    backlog: str


class _LLMPlan(BaseModel):
    """What the model is asked for: recipe task templates (validated like a recipe's)."""

    model_config = ConfigDict(extra="forbid")
    tasks: list[RecipeTask] = Field(min_length=1)


_EXAMPLE = [
    {
        "key": "docs",
        "title": "Write the user guide",
        "description": "Explain setup and usage in docs/GUIDE.md",
        "caps": ["docs"],
        "criteria": [{"text": "The guide exists", "check": "file_exists {run}/GUIDE.md"}],
    },
    {
        "key": "check",
        "title": "Audit the data",
        "after": ["docs"],
        "steps": [{"tool": "audit", "config": {"inputs": ["data/train.jsonl"]}}],
        "criteria": [{"text": "Audit report written"}],
    },
]
"""The plan shape shown to the model when no recipe is at hand."""


def _recipes_line() -> str:
    return "; ".join(f"{n}: {load_recipe(n).recipe.summary}" for n in shipped_recipes())


def _no_recipe(objective: str) -> str:
    return (
        f"plan refused, nothing was queued: the objective {objective!r} matches no recipe "
        f"(recipes: {_recipes_line()}). Name one with --recipe NAME (or a .toml path), or let "
        "the LLM draft the plan with --llm (it uses [llm] base_url, model and api_key_env "
        "of sprintboard.toml)"
    )


def llm_backend(config: LLMConfig) -> Any:
    """The `ChatBackend` for `[llm]` of sprintboard.toml."""

    return OpenAIBackend.from_config(config)


def plan_thread_id(sprint: str, objective: str, recipe: str, params: Mapping[str, Any]) -> str:
    """One planning thread per (sprint, objective, recipe, params)."""
    key = json.dumps([objective, recipe, dict(params)], sort_keys=True, default=str)
    return f"planner:{sprint}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def validate_plan(tasks: Sequence[Task], board: BoardState) -> None:
    """Check a plan before anything is queued.

    Raises:
        BoardError: duplicate ids, unknown dependencies, a cycle, a step config
            a tool refuses, a check that does not parse, or a `{run:ID}` of an unknown task.
    """

    problems: list[str] = []
    known = {t.id for t in tasks} | set(board.tasks)
    for task in tasks:
        try:
            check_task(task_to_dict(task))
        except InvalidValue as exc:
            problems.append(str(exc))
        for n, step in enumerate(task.steps, 1):
            try:
                validate_step(step.tool, step.config)
            except ToolError as exc:
                problems.append(f"{task.id} step {n}: {exc}")
            problems += [
                f"{task.id} step {n}: {{run:{ref}}} names an unknown task"
                for ref in run_refs(json.dumps(step.config))
                if ref not in known
            ]
        for n, crit in enumerate(task.criteria, 1):
            if crit.check:
                try:
                    parse_check(crit.check)
                except ValueError as exc:
                    problems.append(f"{task.id} criterion {n}: {exc}")
    try:
        validate_graph([*board.tasks.values(), *tasks])
    except BoardError as exc:
        problems.append(str(exc))
    if problems:
        raise BoardError("plan refused, nothing was queued: " + "; ".join(problems))


def _next_number(state: BoardState) -> int:
    numbers = [int(m.group(1)) for t in state.tasks if (m := _NUMBER.match(t))]
    return max(numbers, default=0) + 1


class Planner:
    """Builds the `planner` graph on the owner host."""

    def __init__(self, board: BoardClient, root: Path, *, agent: str, backend: Any = None) -> None:
        self.board, self.root, self.agent = board, Path(root), agent
        self.backend = backend

    @property
    def actor(self) -> str:
        return f"{self.agent}@{self.board.host}"

    def graph(self, saver: Any) -> Any:
        """The compiled graph: draft -> queue -> backlog."""
        return linear_graph(
            PlanState,
            [("draft", self._draft), ("queue", self._queue), ("backlog", self._backlog)],
            saver,
        )

    @staticmethod
    def start(objective: str, recipe: str, params: Mapping[str, Any], sprint: str) -> PlanState:
        """The first state of a planning thread."""
        return PlanState(
            objective=objective,
            recipe=recipe,
            params=dict(params),
            sprint=sprint,
            tasks=[],
            source="",
            llm_error="",
            queued=0,
            backlog="",
        )

    # -- nodes ------------------------------------------------------------------------------

    def _draft(self, state: PlanState) -> dict[str, Any]:
        snap = self.board.snapshot()
        name = state["recipe"] or matching_recipe(state["objective"]) or ""
        if not name and self.backend is None:
            raise BoardError(_no_recipe(state["objective"]))
        recipe = load_recipe(name, self.root) if name else None
        number = _next_number(snap)
        tasks: list[Task] | None = None
        llm_error = ""
        if self.backend is not None:
            try:
                tasks = self._llm_tasks(state, recipe, number)
                validate_plan(tasks, snap)
            except LLMUnavailable as exc:
                llm_error = str(exc)
                tasks = None
            except (BoardError, ConfigError) as exc:
                llm_error = f"the model's plan was refused: {exc}"
                tasks = None
        source = "llm" if tasks is not None else "recipe"
        if tasks is None:
            if recipe is None:
                raise BoardError(
                    f"plan refused, nothing was queued: {llm_error}; and no recipe to fall "
                    f"back to ({_recipes_line()}): fix [llm] or name one with --recipe NAME"
                )
            tasks = expand_recipe(recipe, state["params"], first_number=number)
            validate_plan(tasks, snap)
        return {
            "tasks": [task_to_dict(t) for t in tasks],
            "source": source,
            "recipe": name,
            "llm_error": llm_error,
        }

    def _llm_tasks(self, state: PlanState, recipe: Recipe | None, number: int) -> list[Task]:
        shape = recipe.model_dump(mode="json")["tasks"] if recipe is not None else _EXAMPLE
        system = (
            "You plan work for sprintboard agents. A task either has tool steps "
            f"(tools: {', '.join(tool_names())}) that a builder runs, or no steps: then a "
            "worker (a coding agent or an LLM with file tools) does it from its title, "
            "description and criteria; give such a task `caps` naming the skill it needs "
            "(e.g. docs, code). Acceptance criteria may carry checks (`file_exists PATH`, "
            "`audit_clean PATH`, `metric NAME OP NUMBER`); `after` lists the keys a task "
            "waits on. Strings may use {run} (this task's folder), {run:KEY}, "
            "{param:NAME}. This shows the shape:\n" + json.dumps(shape)
        )
        prompt = f"Objective: {state['objective']}\nParameters: {json.dumps(state['params'])}"
        request = ChatRequest.from_prompt(prompt, system=system, max_tokens=4096)
        plan = structured(self.backend, request, _LLMPlan)
        drafted = Recipe(recipe=RecipeInfo(name="llm"), tasks=plan.tasks)
        return expand_recipe(drafted, state["params"], first_number=number)

    def _queue(self, state: PlanState) -> dict[str, Any]:
        host, sprint = self.board.host, state["sprint"]
        snap = self.board.snapshot()
        drafts: list[EventDraft] = []
        if snap.sprint.id != sprint or snap.sprint.status != "in_progress":
            drafts.append(
                EventDraft(
                    "sprint.start",
                    None,
                    {"id": sprint, "goal": state["objective"]},
                    actor=self.actor,
                    id=f"{host}:planner.{sprint}.start",
                )
            )
        if state["llm_error"]:
            drafts.append(
                EventDraft(
                    "decision.add",
                    None,
                    {
                        "text": f"Planner fell back to recipe {state['recipe']}: "
                        f"{clean_line(str(state['llm_error']))}"
                    },
                    actor=self.actor,
                    id=f"{host}:planner.{sprint}.{state['recipe']}.llm-fallback",
                )
            )
        tasks = [task_from_dict(t) for t in state["tasks"]]
        drafts += [
            EventDraft(
                "task.create",
                t.id,
                {"task": task_to_dict(t)},
                actor=self.actor,
                id=f"{host}:planner.{sprint}.{t.id}",
            )
            for t in tasks
        ]
        ids = ", ".join(t.id for t in tasks)
        drafts.append(
            EventDraft(
                "decision.add",
                None,
                {
                    "text": f"Planned {len(tasks)} tasks ({ids}) from "
                    f"{'the LLM' if state['source'] == 'llm' else 'recipe ' + state['recipe']} "
                    f"for: {state['objective']}"
                },
                actor=self.actor,
                id=f"{host}:planner.{sprint}.{tasks[0].id}.planned",
            )
        )
        self.board.apply(drafts)
        return {"queued": len(tasks)}

    def _backlog(self, state: PlanState) -> dict[str, Any]:
        snap = self.board.snapshot()
        planned = {t["id"] for t in state["tasks"]}
        tasks = [t for t in snap.tasks.values() if t.id in planned]
        path = self.root / "sprints" / state["sprint"] / "BACKLOG.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, render_backlog(tasks, snap.sprint).encode("utf-8"))
        return {"backlog": str(path.relative_to(self.root))}
