"""`sprintboard tools train|eval|generate|fuse`: the MLX commands, added to the `tools` group.

Thin: each command builds the tool's config, calls the tool, prints. mlx is imported only
inside the tools, so `sprintboard --help` stays fast and works without mlx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json
from sprintboard.commands.tools import app
from sprintboard.commands.verbosity import show_progress

__all__ = ["app", "eval_cmd", "fuse_cmd", "generate_cmd", "train_cmd"]


def _echo_metrics(metrics: dict[str, float]) -> None:
    for name, value in metrics.items():
        typer.echo(f"  {name:<20} {value:.6g}")


@app.command("train")
def train_cmd(
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML/YAML/JSON config file."),
    model: Path | None = typer.Option(None, help="Model directory."),
    data: Path | None = typer.Option(None, help="Directory with train/valid/test.jsonl."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Adapter directory."),
    method: str | None = typer.Option(None, help="lora or qlora (4-bit base)."),
    rank: int | None = typer.Option(None, help="LoRA rank [16]."),
    alpha: float | None = typer.Option(None, help="LoRA alpha [32]; mlx-lm scale = alpha/rank."),
    dropout: float | None = typer.Option(None, help="LoRA dropout [0]."),
    layers: int | None = typer.Option(
        None, help="Blocks that get adapters, from the last [-1: all]."
    ),
    optimizer: str | None = typer.Option(None, help="adam or adamw."),
    learning_rate: float | None = typer.Option(None, "--learning-rate", "--lr", help="[1e-4]"),
    lr_schedule: str | None = typer.Option(None, help="constant, cosine or linear."),
    warmup_steps: int | None = typer.Option(None, help="Linear warmup steps [0]."),
    batch_size: int | None = typer.Option(None, help="Rows per step [4]."),
    max_seq_length: int | None = typer.Option(None, help="Tokens per row [2048]."),
    iters: int | None = typer.Option(None, help="Total optimizer steps."),
    epochs: float | None = typer.Option(None, help="Passes over train (instead of --iters)."),
    grad_checkpoint: bool | None = typer.Option(
        None,
        "--grad-checkpoint/--no-grad-checkpoint",
        help="Recompute activations to save memory [off].",
    ),
    seed: int | None = typer.Option(None, help="Seed for adapters, batch order, dropout [0]."),
    report_every: int | None = typer.Option(None, help="Steps between metric rows [10]."),
    eval_every: int | None = typer.Option(None, help="Steps between validations [100]."),
    save_every: int | None = typer.Option(None, help="Steps between checkpoints [100]."),
    val_batches: int | None = typer.Option(None, help="Batches per validation [25; -1: all]."),
    lr_end: float | None = typer.Option(None, help="Learning rate at the end of decay [0]."),
    memory_budget: str | None = typer.Option(
        None, help="Refuse if the estimate exceeds, e.g. 16GB."
    ),
    allow_truncation: bool | None = typer.Option(
        None, "--allow-truncation", help="Truncate long rows."
    ),
    mask_prompt: bool | None = typer.Option(
        None, "--mask-prompt", help="Train on completions only."
    ),
    resume: bool | None = typer.Option(
        None, "--resume/--no-resume", help="Continue from a checkpoint [yes]."
    ),
    dry_run: bool | None = typer.Option(
        None, "--dry-run", help="Check and estimate; do not train."
    ),
    distributed: int | None = typer.Option(
        None, help="Ranks on this machine via mlx.launch [1: this process]."
    ),
    hosts: str | None = typer.Option(
        None, help="One rank per host, comma-separated IPs or names (mlx.launch over ssh)."
    ),
    hostfile: Path | None = typer.Option(None, help="An mlx.launch host file (JSON)."),
    json_out: bool = options.JSON,
) -> None:
    """Fine-tune a model with LoRA/QLoRA (mlx-lm), resumably; flags override --config.

    With --distributed N, --hosts or --hostfile the ranks train data-parallel through
    mlx.launch; --batch-size stays the global batch.
    """
    from sprintboard.tools.train import train
    from sprintboard.tools.train_config import load_train_config

    flags: dict[str, Any] = {
        "model": model, "data": data, "output": output, "method": method, "rank": rank,
        "alpha": alpha, "dropout": dropout, "layers": layers, "optimizer": optimizer,
        "learning_rate": learning_rate, "lr_schedule": lr_schedule,
        "warmup_steps": warmup_steps, "batch_size": batch_size,
        "max_seq_length": max_seq_length, "iters": iters, "epochs": epochs,
        "grad_checkpoint": grad_checkpoint, "seed": seed, "report_every": report_every,
        "eval_every": eval_every, "save_every": save_every, "val_batches": val_batches,
        "lr_end": lr_end, "memory_budget": memory_budget,
        "allow_truncation": allow_truncation, "mask_prompt": mask_prompt, "resume": resume,
        "dry_run": dry_run, "distributed": distributed, "hostfile": hostfile,
        "hosts": [h.strip() for h in hosts.split(",") if h.strip()] if hosts else None,
    }  # fmt: skip
    cfg = load_train_config(config, **flags)
    report = train(cfg, show_progress=show_progress(json_out))
    if json_out:
        print_json(report)
        return
    what = "dry run" if report.dry_run else f"{report.steps}/{report.total_steps} steps"
    resumed = f" (resumed from {report.resumed_from})" if report.resumed_from else ""
    ranks = f" on {report.world_size} ranks" if report.world_size > 1 else ""
    typer.echo(f"train: {what}{ranks}{resumed} -> {report.output}")
    _echo_metrics(report.metrics)


@app.command("eval")
def eval_cmd(
    model: Path = typer.Option(..., help="Base model directory."),
    data: Path = typer.Option(..., help="Directory with the split's JSONL."),
    adapter: Path | None = typer.Option(None, help="Adapter directory from `train`."),
    split: str = typer.Option("test", help="test, valid or train."),
    batch_size: int = typer.Option(4, help="Rows per forward pass."),
    max_seq_length: int = typer.Option(2048, help="Tokens per row; longer rows are cut."),
    batches: int = typer.Option(-1, help="Batches to evaluate; -1: all."),
    output: Path | None = typer.Option(None, help="Manifest directory [adapter dir]."),
    json_out: bool = options.JSON,
) -> None:
    """Loss and perplexity on a split, with the adapter."""
    from sprintboard.tools.evaluate import evaluate
    from sprintboard.tools.train_config import EvalConfig

    report = evaluate(
        EvalConfig.model_validate(
            {
                "model": model,
                "data": data,
                "adapter": adapter,
                "split": split,
                "batch_size": batch_size,
                "max_seq_length": max_seq_length,
                "batches": batches,
                "output": output,
            }  # fmt: skip
        )
    )
    if json_out:
        print_json(report)
        return
    typer.echo(f"eval: {report.split} ({report.rows} rows, {report.tokens} tokens)")
    _echo_metrics(report.metrics)


@app.command("generate")
def generate_cmd(
    model: Path = typer.Option(..., help="Base model directory."),
    prompt: str = typer.Option(..., "--prompt", "-p", help="The prompt."),
    adapter: Path | None = typer.Option(None, help="Adapter directory from `train`."),
    raw: bool = typer.Option(False, "--raw", help="Do not wrap the prompt in the chat template."),
    max_tokens: int = typer.Option(64, help="Tokens to generate at most."),
    temperature: float = typer.Option(0.0, help="0: greedy."),
    seed: int = typer.Option(0, help="Sampling seed."),
    json_out: bool = options.JSON,
) -> None:
    """Generate text from --prompt, with the adapter if one is given."""
    from sprintboard.tools.generate import generate
    from sprintboard.tools.train_config import GenerateConfig

    report = generate(
        GenerateConfig(
            model=model,
            adapter=adapter,
            prompt=prompt,
            chat=not raw,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
        )  # fmt: skip
    )
    if json_out:
        print_json(report)
        return
    typer.echo(report.text)


@app.command("fuse")
def fuse_cmd(
    model: Path = typer.Option(..., help="Base model directory."),
    adapter: Path = typer.Option(..., help="Adapter directory from `train`."),
    output: Path = typer.Option(..., "--output", "-o", help="Where the fused model goes."),
    dequantize: bool = typer.Option(False, "--dequantize", help="Save float weights."),
    gguf: bool = typer.Option(False, "--gguf", help="Also export GGUF (llama/mistral/mixtral)."),
    json_out: bool = options.JSON,
) -> None:
    """Merge the adapter into the base model and save it."""
    from sprintboard.tools.fuse import fuse
    from sprintboard.tools.train_config import FuseConfig

    report = fuse(
        FuseConfig(model=model, adapter=adapter, output=output, dequantize=dequantize, gguf=gguf)
    )
    if json_out:
        print_json(report)
        return
    typer.echo(f"fuse: {report.output}" + (f" (+ {report.gguf})" if report.gguf else ""))
