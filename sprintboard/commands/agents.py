"""`sprintboard agents ...`: run a host's agents, or plan a sprint from a recipe."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json

__all__ = ["app", "register"]

app = typer.Typer(
    help="Run the Planner, Negotiator, Builder and Auditor agents.", no_args_is_help=True
)

_RECIPE = typer.Option(
    "",
    "--recipe",
    help="A recipe name (the workspace's recipes/NAME.toml, else a shipped one) or a .toml "
    "path (default: the recipe the objective matches; none matching: refused, unless --llm "
    "drafts the plan). `sprintboard agents recipes NAME` shows its parameters.",
)
_PARAM = typer.Option(
    [],
    "--param",
    "-p",
    help="Recipe parameter NAME=VALUE (repeatable; a,b is a list). `sprintboard agents "
    "recipes NAME` lists what each means.",
)
_SPRINT = typer.Option("S1", "--sprint", help="Sprint id the plan goes into.")
_LLM = typer.Option(
    False,
    "--llm",
    help="Let the Planner draft with the LLM endpoint of sprintboard.toml (tool steps and "
    "step-less tasks for workers; falls back to a named or matching recipe).",
)


def _host(workspace: Path | None, host: str | None) -> tuple[Path, str]:
    from sprintboard.config import current_host, load_config
    from sprintboard.workspace import find_workspace

    root = find_workspace(workspace)
    return root, current_host(load_config(root), host)


@app.command("run")
def run(
    host: str | None = options.HOST,
    roles: str = typer.Option(
        "planner,negotiator,builder,auditor", "--roles", help="Comma-separated roles to run."
    ),
    once: bool = typer.Option(False, "--once", help="Stop when there is nothing left to do here."),
    llm: bool = _LLM,
    objective: str | None = typer.Option(None, "--objective", help="Plan this first (owner)."),
    recipe: str = _RECIPE,
    param: list[str] = _PARAM,
    sprint: str = _SPRINT,
    tick: float = typer.Option(2.0, "--tick", help="Seconds between timer wakes."),
    workspace: Path | None = options.WORKSPACE,
    json: bool = options.JSON,
) -> None:
    """Run this host's agents: wake on board changes and a timer, pick work, act, record."""
    from sprintboard.agents.hosting import run_host
    from sprintboard.agents.recipe import parse_params
    from sprintboard.agents.runner import ROLES, PlanRequest, RunnerOptions

    chosen = tuple(r.strip() for r in roles.split(",") if r.strip())
    unknown = sorted(set(chosen) - set(ROLES))
    if unknown:
        raise typer.BadParameter(f"unknown role(s) {', '.join(unknown)}; one of {', '.join(ROLES)}")
    root, name = _host(workspace, host)
    plan = (
        PlanRequest(objective, recipe, parse_params(param), sprint)
        if objective is not None
        else None
    )
    from sprintboard.config import load_config
    from sprintboard.memory.notify import running

    # on the owner a long run also sends [notify] (unless `a2a serve` does already)
    notify = name == load_config(root).board.owner and not once
    with running(root) if notify else nullcontext():
        summary = run_host(
            root, name, RunnerOptions(roles=chosen, once=once, tick=tick), plan=plan, llm=llm
        )
    doc = {
        "host": name,
        "ticks": summary.ticks,
        "planned": summary.planned,
        "plan_source": summary.plan_source,
        "claimed": summary.claimed,
        "submitted": summary.submitted,
        "audited": summary.audited,
        "errors": summary.errors,
        "waits": [{"task": w.task, "on": w.on, "who": w.who, "run": w.run} for w in summary.waits],
        "paused": summary.paused,
    }
    if json:
        print_json(doc)
        return
    if summary.planned:
        typer.echo(f"planned {summary.planned} tasks from {summary.plan_source}")
    typer.echo(
        f"{name}: {summary.ticks} ticks, claimed {len(summary.claimed)}, "
        f"submitted {len(summary.submitted)}, audited {len(summary.audited)}"
    )
    for verdict in sorted(summary.audited.items()):
        typer.echo(f"  {verdict[0]} -> {verdict[1]}")
    for agent, why in sorted(summary.paused.items()):
        typer.echo(f"  paused {agent}: {why}", err=True)
    for error in summary.errors:
        typer.echo(f"  error: {error}", err=True)
    _say_waits(summary.waits)


def _say_waits(waits: list[Any]) -> None:
    """What the unfinished tasks wait on, most actionable first; dependency chains counted."""
    chained = [w for w in waits if w.on == "tasks"]
    for w in waits:
        if w.on != "tasks":
            typer.echo(f"  {w.line}")
    if chained:
        typer.echo(
            f"  {len(chained)} more wait on other tasks: {', '.join(w.task for w in chained)}"
        )


@app.command("plan")
def plan(
    objective: str = typer.Option(..., "--objective", help="What the sprint should achieve."),
    recipe: str = _RECIPE,
    param: list[str] = _PARAM,
    sprint: str = _SPRINT,
    llm: bool = _LLM,
    host: str | None = options.HOST,
    workspace: Path | None = options.WORKSPACE,
    json: bool = options.JSON,
) -> None:
    """Plan a sprint: tasks with steps, checks and dependencies, validated, then queued."""
    from sprintboard.agents.hosting import run_host
    from sprintboard.agents.recipe import parse_params
    from sprintboard.agents.runner import PlanRequest, RunnerOptions

    root, name = _host(workspace, host)
    request = PlanRequest(objective, recipe, parse_params(param), sprint)
    summary = run_host(
        root, name, RunnerOptions(roles=("planner",), once=True, max_ticks=1), plan=request, llm=llm
    )
    if json:
        print_json({"sprint": sprint, "planned": summary.planned, "source": summary.plan_source})
        return
    typer.echo(f"{sprint}: planned {summary.planned} tasks from {summary.plan_source}")


@app.command("recipes")
def recipes(
    name: str | None = typer.Argument(
        None, metavar="NAME", help="Show this recipe in full (default: list them all)."
    ),
    workspace: Path | None = options.WORKSPACE,
    json: bool = options.JSON,
) -> None:
    """List the recipes `agents plan --recipe` takes (the workspace's recipes/*.toml, then
    the shipped ones): parameters with type, default and meaning, and an example command."""
    from sprintboard.agents.recipe_catalog import find_recipe, list_recipes
    from sprintboard.errors import WorkspaceError
    from sprintboard.workspace import find_workspace

    try:
        root: Path | None = find_workspace(workspace)
    except WorkspaceError:
        if workspace is not None:
            raise
        root = None  # outside a workspace: the shipped recipes still help
    docs = [find_recipe(root, name)] if name else list_recipes(root)
    if json:
        print_json(docs[0] if name else docs)
        return
    for i, doc in enumerate(docs):
        if i:
            typer.echo("")
        _say_recipe(doc, full=name is not None)


def _say_recipe(doc: Any, *, full: bool) -> None:
    """One recipe as text: name, where from, summary, parameters, example (and its tasks)."""
    where = "shipped" if doc.source == "shipped" else doc.path
    typer.echo(f"{doc.ref} ({where}): {doc.summary}".rstrip(": "))
    width = max((len(p.name) for p in doc.params), default=0)
    for p in doc.params:
        need = "required" if p.required else f"default {p.default}"
        typer.echo(f"  {p.name:<{width}}  {p.type}, {need}. {p.description}".rstrip())
    typer.echo(f"  example: {doc.example}")
    if full:
        typer.echo("  tasks:")
        for t in doc.tasks:
            each = f" (one per {t.foreach})" if t.foreach else ""
            after = f", after {', '.join(t.after)}" if t.after else ""
            runs = f": {', '.join(t.tools)}" if t.tools else ""
            needs = f"; needs {', '.join(t.caps)}" if t.caps else ""
            typer.echo(f"    {t.key}{each}{after}{runs}{needs} - {t.title}")


def register(root: typer.Typer) -> None:
    """Add the `agents` group to the root app."""
    root.add_typer(app, name="agents")
