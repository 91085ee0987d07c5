"""The `train` tool: LoRA/QLoRA fine-tuning through mlx-lm's own training loop, resumable.

Flow: check the model and data (refusing clearly), estimate memory against the budget, add
LoRA layers, restore the newest checkpoint if there is one, then run
`mlx_lm.tuner.trainer.train` with our seeded batch iterator and `TrainCallback`. mlx-lm
draws its console UI on stdout even into a pipe; that is captured into `train.log` so a
`--json` document stays clean.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, cast

from sprintboard.errors import ToolError
from sprintboard.tools.manifest import Manifest, file_ref, write_manifest
from sprintboard.tools.registry import register
from sprintboard.tools.train_config import MemoryEstimate, TrainConfig, TrainReport

__all__ = ["train"]

_VERSION = "1"
# Fields that change the loss curve; a checkpoint resumes only a run that agrees on all.
_CURVE_FIELDS = (
    "method", "rank", "alpha", "dropout", "layers", "optimizer", "learning_rate",
    "lr_schedule", "warmup_steps", "lr_end", "batch_size", "max_seq_length", "grad_checkpoint",
    "mask_prompt", "seed",
)  # fmt: skip


def _fingerprint(config: TrainConfig, total: int, data_sha: str, model_sha: str) -> str:
    fields = {name: getattr(config, name) for name in _CURVE_FIELDS}
    blob = json.dumps([fields, total, data_sha, model_sha], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _schedule(config: TrainConfig, total: int) -> Any:
    import mlx.optimizers as optim

    lr, decay_steps = config.learning_rate, max(total - config.warmup_steps, 1)
    if config.lr_schedule == "cosine":
        main: Any = optim.cosine_decay(lr, decay_steps, config.lr_end)
    elif config.lr_schedule == "linear":
        main = optim.linear_schedule(lr, config.lr_end, decay_steps)
    else:
        main = lr
    if not config.warmup_steps:
        return main
    if not callable(main):
        main = optim.linear_schedule(lr, lr, 1)
    warmup = optim.linear_schedule(0.0, lr, config.warmup_steps)
    return optim.join_schedules([warmup, main], [config.warmup_steps])


def _estimate(config: TrainConfig, model_config: dict[str, Any], seq_len: int) -> MemoryEstimate:
    from sprintboard.tools.memory_estimate import ModelShape, estimate_memory

    try:
        shape = ModelShape.from_config(model_config)
    except KeyError as exc:
        raise ToolError(
            "train", f"{config.model}/config.json: missing {exc} for the estimate"
        ) from None
    return estimate_memory(
        shape,
        quantize_bits=4 if config.method == "qlora" else None,
        rank=config.rank,
        lora_layers=config.layers,
        batch_size=config.batch_size,
        seq_len=seq_len,
        grad_checkpoint=config.grad_checkpoint,
    )


def _check_budget(config: TrainConfig, estimate: MemoryEstimate) -> None:
    from sprintboard.tools.memory_estimate import format_bytes

    budget = config.memory_budget
    if budget is not None and estimate.total > int(budget):
        parts = ", ".join(
            f"{name} {format_bytes(getattr(estimate, name))}"
            for name in ("weights", "lora", "optimizer", "activations")
        )
        raise ToolError(
            "train",
            f"estimated memory {format_bytes(estimate.total)} exceeds the budget "
            f"{format_bytes(int(budget))} ({parts}); lower batch_size or max_seq_length, "
            "use method=qlora or grad_checkpoint, or raise memory_budget",
        )


def _write_adapter_config(config: TrainConfig, blocks: int) -> None:
    # mlx-lm's `load_adapters` reads num_layers, lora_parameters and fine_tune_type.
    adapter = {
        "fine_tune_type": "lora",
        "method": config.method,
        "num_layers": blocks if config.layers < 0 else config.layers,
        "lora_parameters": {"rank": config.rank, "scale": config.scale, "dropout": config.dropout},
        "alpha": config.alpha,
        "model": str(config.model),
    }
    path = config.output / "adapter_config.json"
    path.write_text(json.dumps(adapter, indent=2), encoding="utf-8")


def train(config: TrainConfig, *, show_progress: bool = False) -> TrainReport:
    """Fine-tune a model with LoRA/QLoRA via mlx-lm; resumes from the newest checkpoint.

    Raises:
        ToolError: bad model, data or config; the memory estimate exceeds the budget; or
            checkpoints in `output` come from a different run (when `resume` they must match).
    """
    from sprintboard.tools.model_load import load_base
    from sprintboard.tools.train_data import TrainBatches, load_split, padded_length

    started = time.perf_counter()
    loaded = load_base("train", config.model, quantize=config.method == "qlora")
    tokenizer = loaded.tokenizer
    split_args = {
        "batch_size": config.batch_size,
        "max_seq_length": config.max_seq_length,
        "allow_truncation": config.allow_truncation,
        "mask_prompt": config.mask_prompt,
    }
    train_split = load_split("train", config.data, "train", tokenizer, **split_args)  # type: ignore[arg-type]
    valid_split = load_split("train", config.data, "valid", tokenizer, **split_args)  # type: ignore[arg-type]
    batches = TrainBatches(train_split, config.batch_size, config.seed)
    total = config.iters or math.ceil((config.epochs or 0) * batches.per_epoch)
    seq_len = padded_length(max(train_split.lengths), config.max_seq_length)
    estimate = _estimate(config, loaded.config, seq_len)
    _check_budget(config, estimate)
    loaded_s = time.perf_counter() - started

    config.output.mkdir(parents=True, exist_ok=True)
    inputs = [file_ref(train_split.path), file_ref(valid_split.path)]
    model_files = sorted(config.model.glob("*.safetensors"))
    model_sha = hashlib.sha256(
        "".join(file_ref(p).sha256 for p in model_files).encode()
    ).hexdigest()
    fingerprint = _fingerprint(config, total, inputs[0].sha256 + inputs[1].sha256, model_sha)
    if config.dry_run:
        return _finish(config, estimate, fingerprint, inputs, total, None, None, {}, loaded_s)
    return _run(
        config,
        loaded,
        batches,
        valid_split,
        total,
        estimate,
        fingerprint,
        inputs,
        loaded_s,
        show_progress,
    )


def _run(
    config: TrainConfig,
    loaded: Any,
    batches: Any,
    valid_split: Any,
    total: int,
    estimate: MemoryEstimate,
    fingerprint: str,
    inputs: list[Any],
    loaded_s: float,
    show_progress: bool,
) -> TrainReport:
    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx_lm.tuner.trainer import TrainingArgs, evaluate
    from mlx_lm.tuner.trainer import train as mlx_train

    from sprintboard.tools.model_load import apply_lora
    from sprintboard.tools.train_callback import (
        MetricsLog,
        RunTotals,
        TrainCallback,
        train_progress,
    )
    from sprintboard.tools.train_data import ValBatches
    from sprintboard.tools.train_resume import (
        latest_checkpoint,
        restore_checkpoint,
        step_seed,
        truncate_metrics,
    )

    model = loaded.model
    mx.random.seed(config.seed)
    apply_lora(
        "train",
        model,
        layers=config.layers,
        rank=config.rank,
        scale=config.scale,
        dropout=config.dropout,
    )
    _write_adapter_config(config, len(model.layers))
    opt_class = optim.AdamW if config.optimizer == "adamw" else optim.Adam
    optimizer = opt_class(learning_rate=_schedule(config, total))

    metrics_file = config.output / "metrics.jsonl"
    checkpoint = latest_checkpoint(config.output)
    if checkpoint is not None and not config.resume:
        raise ToolError(
            "train",
            f"{config.output}: holds checkpoints of an earlier run; set resume or pick a new output",
        )
    if checkpoint is not None and checkpoint.fingerprint != fingerprint:
        raise ToolError(
            "train",
            f"{checkpoint.path}: was written by a run with other settings, data or model "
            "(they must match to resume exactly); pick a new output directory",
        )
    start = 0
    if checkpoint is not None:
        restore_checkpoint(checkpoint, model, optimizer)
        start = checkpoint.step
        batches.consumed = checkpoint.consumed
        truncate_metrics(metrics_file, start)
    else:
        metrics_file.unlink(missing_ok=True)
    mx.random.seed(step_seed(config.seed, start))

    val_batches = ValBatches(valid_split, config.batch_size, config.seed)

    def validate() -> float:
        loss = evaluate(
            model=model,
            dataset=valid_split,
            batch_size=config.batch_size,
            num_batches=config.val_batches,
            max_seq_length=config.max_seq_length,
            iterate_batches=val_batches,
        )
        model.train()
        return float(loss)

    log, totals = MetricsLog(metrics_file), RunTotals()
    train_s = 0.0
    try:
        with train_progress(total, start, enabled=show_progress) as progress:
            callback = TrainCallback(
                output=config.output, log=log, offset=start, total=total,
                eval_every=config.eval_every, save_every=config.save_every,
                keep=config.keep_checkpoints, seed=config.seed, fingerprint=fingerprint,
                model=model, optimizer=optimizer, consumed=lambda: batches.consumed,
                validate=validate, progress=progress, totals=totals,
            )  # fmt: skip
            if start == 0:
                callback.write_val(0, validate())
            args = TrainingArgs(
                batch_size=config.batch_size,
                iters=total - start,
                steps_per_report=config.report_every,
                steps_per_eval=total + 1,  # validation runs in the callback, at global steps
                steps_per_save=total + 1,  # checkpoints too
                max_seq_length=config.max_seq_length,
                adapter_file=str(config.output / "adapters.safetensors"),
                grad_checkpoint=config.grad_checkpoint,
            )
            tic = time.perf_counter()
            if total > start:
                # mlx-lm's grad_checkpoint patches the block *class* for the whole process;
                # put it back so later runs in this process compute exactly as in a new one.
                block_class = type(model.layers[0])
                block_call = block_class.__call__
                with (config.output / "train.log").open("a", encoding="utf-8") as ui_log:
                    try:
                        with contextlib.redirect_stdout(ui_log):
                            mlx_train(
                                model=model,
                                optimizer=optimizer,
                                train_dataset=batches.split,
                                val_dataset=None,
                                args=args,
                                iterate_batches=batches,
                                training_callback=callback,
                            )
                    finally:
                        block_class.__call__ = block_call
            else:  # already finished: make sure the final adapters exist
                mx.save_safetensors(args.adapter_file, dict(_flat(model.trainable_parameters())))
            train_s = time.perf_counter() - tic
    finally:
        log.close()
    metrics = {
        "tokens_per_sec": totals.tokens_per_sec,
        "peak_memory_gb": max(totals.peak_memory_gb, mx.get_peak_memory() / 1e9),
        "train_seconds": train_s,
    }
    return _finish(
        config, estimate, fingerprint, inputs, total, start, metrics_file, metrics, loaded_s
    )


def _flat(tree: Any) -> list[tuple[str, Any]]:
    from mlx.utils import tree_flatten

    return cast("list[tuple[str, Any]]", tree_flatten(tree))


def _last_losses(metrics_file: Path | None) -> dict[str, float]:
    found: dict[str, float] = {}
    if metrics_file is None or not metrics_file.exists():
        return found
    for line in metrics_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for key in ("train_loss", "val_loss"):
            if key in row:
                found[key] = float(row[key])
        found["steps"] = float(row["step"])
    return found


def _finish(
    config: TrainConfig,
    estimate: MemoryEstimate,
    fingerprint: str,
    inputs: list[Any],
    total: int,
    resumed_from: int | None,
    metrics_file: Path | None,
    run_metrics: dict[str, float],
    loaded_s: float,
) -> TrainReport:
    config.output.mkdir(parents=True, exist_ok=True)
    metrics = {**_last_losses(metrics_file), **run_metrics, "estimate_memory_gb": estimate.total_gb}
    adapter = config.output / "adapters.safetensors"
    outputs = [file_ref(p) for p in (adapter, config.output / "adapter_config.json") if p.exists()]
    if metrics_file is not None and metrics_file.exists():
        outputs.append(file_ref(metrics_file))
    manifest = write_manifest(
        config.output / "manifest.json",
        Manifest(
            tool="train",
            version=_VERSION,
            inputs=inputs,
            outputs=outputs,
            config=config.model_dump(mode="json"),
            counts={"steps": int(metrics.get("steps", 0)), "total_steps": total},
            timings={"load": loaded_s, "train": metrics.get("train_seconds", 0.0)},
            extra={
                "fingerprint": fingerprint,
                "estimate": estimate.model_dump(),
                "metrics": metrics,
            },
        ),
    )
    return TrainReport(
        output=config.output,
        adapter_file=adapter if adapter.exists() and not config.dry_run else None,
        metrics_file=config.output / "metrics.jsonl",
        manifest=manifest,
        steps=int(metrics.get("steps", 0)),
        total_steps=total,
        resumed_from=resumed_from or None,
        dry_run=config.dry_run,
        estimate=estimate,
        metrics=metrics,
    )


# Registered after the definition so `train` keeps its own signature for type checkers.
register("train", config=TrainConfig, report=TrainReport)(train)
