"""`sprintboard tools audit|dedup|mix|split|leakage`: the dataset tools on the command line.

Each command builds the tool's config (validated like a task step), runs it with a progress
bar on stderr (off with `--json`) and prints the report.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from sprintboard.commands import options
from sprintboard.commands.output import print_json
from sprintboard.commands.verbosity import show_progress

__all__ = ["app", "register"]

app = typer.Typer(
    help="Deterministic tools: audit, dedup, mix, split, leakage; MLX train, eval, generate, fuse.",
    no_args_is_help=True,
)

FormatOpt = typer.Option(
    None, "--format", help="Force: messages, prompt_completion, text, instruction."
)
WorkersOpt = typer.Option(
    None,
    "--workers",
    min=1,
    help="Worker processes (default: every core; 1 for local inputs under 8 MB).",
)
EngineOpt = typer.Option(
    "local", "--engine", help="local (this machine) or dask (needs sprintboard[dask])."
)
SchedulerOpt = typer.Option(
    None, "--scheduler", help="With --engine dask: an existing cluster's scheduler address."
)


@contextmanager
def _engine(name: str, workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """The engine a command runs on; None lets the tool choose (every core, 1 when small)."""
    if name == "local" and workers is None and scheduler is None:
        yield None
        return
    from sprintboard.tools.engine import open_engine

    if name not in ("local", "dask"):
        raise typer.BadParameter(f"{name!r}: use local or dask", param_hint="--engine")
    engine = open_engine(name, workers, scheduler)  # type: ignore[arg-type]
    try:
        yield engine
    finally:
        engine.close()


def _config(name: str, fields: dict[str, Any]) -> Any:
    """Validate `fields` as the tool's config, like a task step (a bad field is a ToolError)."""
    from sprintboard.tools.registry import validate_step

    return validate_step(name, {k: v for k, v in fields.items() if v is not None})


def _emit(report: BaseModel, as_json: bool, lines: list[str]) -> None:
    if as_json:
        print_json(report)
    else:
        for line in lines:
            typer.echo(line)


def _csv_floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: write numbers separated by commas, e.g. 80,10,10"
        ) from None


@app.command()
def audit(
    inputs: list[Path] = typer.Argument(..., help="JSONL or .jsonl.gz files."),
    fmt: str | None = FormatOpt,
    max_chars: int | None = typer.Option(
        None, help="Rows longer than this (characters) are too_long."
    ),
    tokenizer: Path | None = typer.Option(
        None, help="tokenizer.json or model dir, to count tokens."
    ),
    max_tokens: int | None = typer.Option(None, help="Rows with more tokens are too_many_tokens."),
    fix: bool = typer.Option(
        False, "--fix", help="Write <stem>.clean.jsonl and <stem>.rejects.jsonl."
    ),
    to_messages: bool = typer.Option(
        False, "--to-messages", help="With --fix: rewrite clean rows as chat messages."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Report folder (default: audit/ beside the first input)."
    ),
    workers: int | None = WorkersOpt,
    engine_name: str = EngineOpt,
    scheduler: str | None = SchedulerOpt,
    as_json: bool = options.JSON,
) -> None:
    """Audit fine-tuning JSONL: every bad row by file:line and reason, counts, length histograms."""
    from sprintboard.tools.audit import audit as run

    with _engine(engine_name, workers, scheduler) as engine:
        report = run(
            _config(
                "audit",
                {
                    "inputs": inputs,
                    "format": fmt,
                    "max_chars": max_chars,
                    "tokenizer": tokenizer,
                    "max_tokens": max_tokens,
                    "fix": fix,
                    "fix_format": "messages" if to_messages else "keep",
                    "out_dir": out_dir,
                },
            ),
            engine=engine,
            show_progress=show_progress(as_json),
        )
    lines = [
        f"{f.path}: {f.format or '?'}, {f.rows} rows, {f.rejected} rejected, {f.warned} warned"
        + (
            ""
            if f.mlx_ready or f.format is None
            else " (mlx-lm cannot train on it: --fix --to-messages)"
        )
        for f in report.files
    ]
    lines += [f"  {reason}: {n}" for reason, n in report.counts.items()]
    for reason, found in report.examples.items():
        lines += [f"  {e.file}:{e.line}: {reason}: {e.detail}" for e in found[:3]]
    lines.append(
        ("clean" if report.ok else f"{report.rejected} rows rejected")
        + f"; manifest {report.manifest}"
    )
    _emit(report, as_json, lines)
    if not report.ok and not fix:
        raise typer.Exit(1)


@app.command()
def dedup(
    inputs: list[Path] = typer.Argument(..., help="One file per source, in priority order."),
    out_dir: Path = typer.Option(
        ..., "--out", help="Folder for <source>.dedup.jsonl, dropped.jsonl, rejects.jsonl."
    ),
    names: str | None = typer.Option(
        None, help="Source names, comma separated (default: file stems)."
    ),
    keys: str | None = typer.Option(
        None, help="Top-level keys to compare, comma separated (default: the conversation)."
    ),
    normalize_whitespace: bool = typer.Option(
        False, "--normalize-whitespace", help="Fold all whitespace runs."
    ),
    cross: str = typer.Option(
        "all", help="Sources deduplicated against each other: all, none, or names."
    ),
    no_within: bool = typer.Option(False, "--no-within", help="Keep duplicates inside one source."),
    near: bool = typer.Option(False, "--near", help="Also drop near-duplicates (MinHash + LSH)."),
    threshold: float = typer.Option(0.8, help="Jaccard threshold for near-duplicates."),
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Trust LSH candidates without exact Jaccard."
    ),
    fmt: str | None = FormatOpt,
    workers: int | None = WorkersOpt,
    engine_name: str = EngineOpt,
    scheduler: str | None = SchedulerOpt,
    as_json: bool = options.JSON,
) -> None:
    """Drop exact (and with --near, near) duplicates; every dropped row is listed with its keeper."""
    from sprintboard.tools.dedup import dedup as run

    with _engine(engine_name, workers, scheduler) as engine:
        report = run(
            _config(
                "dedup",
                {
                    "inputs": inputs,
                    "out_dir": out_dir,
                    "names": names.split(",") if names else None,
                    "keys": keys.split(",") if keys else None,
                    "normalize_whitespace": normalize_whitespace,
                    "cross_source": cross if cross in ("all", "none") else cross.split(","),
                    "within_source": not no_within,
                    "near": near,
                    "near_threshold": threshold,
                    "verify": not no_verify,
                    "format": fmt,
                },
            ),
            engine=engine,
            show_progress=show_progress(as_json),
        )
    lines = [
        f"{s.name}: {s.rows} rows, {s.rejected} rejected, {s.exact_dropped} exact + {s.near_dropped} near dropped, "
        f"{s.kept} kept -> {s.output}"
        for s in report.sources
    ]
    lines.append(f"{report.kept} of {report.rows} rows kept; manifest {report.manifest}")
    _emit(report, as_json, lines)


@app.command()
def mix(
    output: Path = typer.Argument(..., help="The mixed JSONL to write."),
    source: list[str] = typer.Option(
        ..., "--source", "-s", help="NAME=PATH:RATIO (repeatable), e.g. web=web.jsonl:40."
    ),
    size: int | None = typer.Option(
        None, help="Rows wanted (default: the largest mix possible without replacement)."
    ),
    seed: int = typer.Option(0, help="Random seed."),
    upsample: bool = typer.Option(
        False, "--upsample", help="Fill short sources by sampling with replacement."
    ),
    fmt: str | None = FormatOpt,
    workers: int | None = WorkersOpt,
    engine_name: str = EngineOpt,
    scheduler: str | None = SchedulerOpt,
    as_json: bool = options.JSON,
) -> None:
    """Mix named sources at target ratios, seeded; shortfalls are reported, never filled silently."""
    sources = []
    for spec in source:
        name, _, rest = spec.partition("=")
        path, _, ratio = rest.rpartition(":")
        if not name or not path:
            raise typer.BadParameter(f"{spec!r}: write NAME=PATH:RATIO, e.g. web=data/web.jsonl:40")
        sources.append({"name": name, "path": path, "ratio": ratio})
    from sprintboard.tools.mix import mix as run

    with _engine(engine_name, workers, scheduler) as engine:
        report = run(
            _config(
                "mix",
                {
                    "sources": sources,
                    "output": output,
                    "size": size,
                    "seed": seed,
                    "upsample": upsample,
                    "format": fmt,
                },
            ),
            engine=engine,
            show_progress=show_progress(as_json),
        )
    lines = [
        f"{s.name}: {s.taken}/{s.target} rows (available {s.available})"
        + (f", upsampled {s.upsampled}" if s.upsampled else "")
        + (f", SHORT by {s.shortfall}" if s.shortfall else "")
        for s in report.sources
    ]
    lines.append(f"{report.size} rows -> {report.output}; manifest {report.manifest}")
    _emit(report, as_json, lines)


@app.command()
def split(
    inputs: list[Path] = typer.Argument(..., help="JSONL files to split."),
    out_dir: Path = typer.Option(
        ..., "--out", help="Folder for train.jsonl, valid.jsonl, test.jsonl."
    ),
    ratios: str = typer.Option("80,10,10", help="train,valid,test weights; 0 leaves a file out."),
    seed: int = typer.Option(0, help="Random seed."),
    batch_size: int = typer.Option(4, help="Each split must hold at least this many rows."),
    no_near: bool = typer.Option(False, "--no-near", help="Group exact duplicates only."),
    threshold: float = typer.Option(0.8, help="Jaccard threshold for near-duplicate groups."),
    fmt: str | None = FormatOpt,
    workers: int | None = WorkersOpt,
    engine_name: str = EngineOpt,
    scheduler: str | None = SchedulerOpt,
    as_json: bool = options.JSON,
) -> None:
    """Seeded train/valid/test split; duplicate and near-duplicate groups never straddle splits."""
    weights = _csv_floats(ratios)
    if len(weights) != 3:
        raise typer.BadParameter(f"{ratios!r}: give three weights: train,valid,test")
    from sprintboard.tools.split import split as run

    with _engine(engine_name, workers, scheduler) as engine:
        report = run(
            _config(
                "split",
                {
                    "inputs": inputs,
                    "out_dir": out_dir,
                    "ratios": weights,
                    "seed": seed,
                    "batch_size": batch_size,
                    "near": not no_near,
                    "near_threshold": threshold,
                    "format": fmt,
                },
            ),
            engine=engine,
            show_progress=show_progress(as_json),
        )
    lines = [f"{name}: {n} rows" for name, n in report.splits.items()]
    lines.append(
        f"{report.duplicate_groups} duplicate groups kept whole; {report.rejected} rows rejected"
    )
    _emit(report, as_json, lines)


@app.command()
def leakage(
    a: Path = typer.Argument(..., help="Reference file, e.g. train.jsonl."),
    b: Path = typer.Argument(..., help="File checked against it, e.g. test.jsonl."),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Report folder (default: leakage/ beside B)."
    ),
    no_near: bool = typer.Option(False, "--no-near", help="Exact overlap only."),
    threshold: float = typer.Option(0.8, help="Jaccard threshold for near overlap."),
    fmt: str | None = FormatOpt,
    workers: int | None = WorkersOpt,
    engine_name: str = EngineOpt,
    scheduler: str | None = SchedulerOpt,
    as_json: bool = options.JSON,
) -> None:
    """Report exact and near-duplicate overlap of B with A; exits 1 when any row leaked."""
    from sprintboard.tools.leakage import leakage as run

    with _engine(engine_name, workers, scheduler) as engine:
        report = run(
            _config(
                "leakage",
                {
                    "a": a,
                    "b": b,
                    "out_dir": out_dir,
                    "near": not no_near,
                    "near_threshold": threshold,
                    "format": fmt,
                },
            ),
            engine=engine,
            show_progress=show_progress(as_json),
        )
    lines = [
        f"{b}: {report.exact} exact and {report.near} near of {report.b_rows} rows also in {a}"
    ]
    lines += [
        f"  {p.kind}: {a}:{p.a_line} ~ {b}:{p.b_line} ({p.similarity:.2f})"
        for p in report.examples[:10]
    ]
    _emit(report, as_json, lines)
    if not report.ok:
        raise typer.Exit(1)


def _team_tools(workspace: Path | None) -> None:
    """Register `[tools] modules` of the workspace, when the command runs inside one."""
    from sprintboard.config import load_config
    from sprintboard.errors import WorkspaceError
    from sprintboard.tools.registry import load_tool_modules
    from sprintboard.workspace import find_workspace

    try:
        root = find_workspace(workspace)
    except WorkspaceError:
        if workspace is not None:
            raise
        return  # outside a workspace: the built-ins and installed entry points only
    load_tool_modules(load_config(root).tools.modules)


def _read_config(path: Path) -> dict[str, Any]:
    import json
    import tomllib

    from sprintboard.errors import ConfigError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read it ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            path, None, f"not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(path, None, "must hold one object (the tool's config)")
    return raw


@app.command("run")
def run_tool(
    name: str = typer.Argument(..., help="A registered tool (see `sprintboard tools list`)."),
    config: Path = typer.Option(..., "--config", help="The tool's config: a .json or .toml file."),
    workspace: Path | None = options.WORKSPACE,
    as_json: bool = options.JSON,
) -> None:
    """Run any registered tool (built-in, `[tools] modules`, entry point) on a config file."""
    from sprintboard.tools.registry import get_tool

    _team_tools(workspace)
    report = get_tool(name).run(_config(name, _read_config(config)))
    _emit(report, as_json, [report.model_dump_json(indent=2)])


@app.command("list")
def list_tools(workspace: Path | None = options.WORKSPACE, as_json: bool = options.JSON) -> None:
    """Every registered tool with its one-line summary."""
    from sprintboard.tools.registry import get_tool, tool_names

    _team_tools(workspace)
    rows = []
    for name in tool_names():
        try:
            summary = get_tool(name).summary
        except Exception as exc:  # an optional extra missing (mlx): say so, list the rest
            summary = f"(unavailable here: {type(exc).__name__})"
        rows.append({"name": name, "summary": summary})
    if as_json:
        print_json({"tools": rows})
        return
    for row in rows:
        typer.echo(f"{row['name']}: {row['summary']}")


def register(root: typer.Typer) -> None:
    """Add the `tools` group, the MLX commands included, to the root app."""
    # Importing tools_mlx adds train/eval/generate/fuse to `app`.
    importlib.import_module("sprintboard.commands.tools_mlx")
    root.add_typer(app, name="tools")
