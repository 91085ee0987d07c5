"""The `train` tool: LoRA/QLoRA fine-tuning through mlx-lm's own training loop, resumable.

Flow, one named step each: `_prepare` checks the model and data (refusing clearly) and
estimates memory against the budget; `_build` adds LoRA layers and the optimizer;
`_resume_point` restores the newest checkpoint if there is one; `_loop` runs
`mlx_lm.tuner.trainer.train` with our seeded batch iterator and `TrainCallback`; `_finish`
writes the manifest and the report. mlx-lm draws its console UI on stdout even into a
pipe; that is captured into `train.log` so a `--json` document stays clean.

One process is the default and the reference. A config with `distributed`, `hosts` or
`hostfile` goes to `train_distributed.launch`, which starts the same steps on every rank
through `mlx.launch`; each rank then runs `train_rank` with its `World`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sprintboard.errors import ToolError
from sprintboard.files import FileRef, file_ref
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.memory_estimate import ModelShape, estimate_memory, format_bytes
from sprintboard.tools.model_load import LoadedModel, apply_lora, load_base
from sprintboard.tools.registry import register
from sprintboard.tools.train_config import MemoryEstimate, TrainConfig, TrainReport
from sprintboard.tools.train_resume import (
    CallbackPlan,
    Checkpoint,
    MetricsLog,
    RunTotals,
    TrainCallback,
    latest_checkpoint,
    restore_checkpoint,
    step_seed,
    train_progress,
    truncate_metrics,
)

if TYPE_CHECKING:  # train_data pulls in numpy; the steps import it when they run
    from sprintboard.tools.train_data import Split, TrainBatches

__all__ = ["World", "train", "train_rank"]

_VERSION = "1"
# Fields that change the loss curve; a checkpoint resumes only a run that agrees on all.
_CURVE_FIELDS = (
    "method", "rank", "alpha", "dropout", "layers", "optimizer", "learning_rate",
    "lr_schedule", "warmup_steps", "lr_end", "batch_size", "max_seq_length", "grad_checkpoint",
    "mask_prompt", "seed",
)  # fmt: skip


@dataclass(frozen=True)
class World:
    """Which rank this process is, of how many (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1

    @property
    def writes(self) -> bool:
        """Only rank 0 writes adapters, optimizer state, metrics, checkpoints and manifest."""
        return self.rank == 0


@dataclass
class _Prepared:
    """What `_prepare` checked and computed: everything the later steps need."""

    config: TrainConfig
    world: World
    loaded: LoadedModel
    batches: TrainBatches
    valid: Split
    total: int
    estimate: MemoryEstimate
    fingerprint: str
    inputs: list[FileRef]
    loaded_s: float


def train(config: TrainConfig, *, show_progress: bool = False) -> TrainReport:
    """Fine-tune a model with LoRA/QLoRA via mlx-lm; resumes from the newest checkpoint.

    With `distributed`, `hosts` or `hostfile` the ranks run through `mlx.launch` and
    `batch_size` is the global batch; the command succeeds only when every rank finished.

    Raises:
        ToolError: bad model, data or config; the memory estimate exceeds the budget;
            checkpoints in `output` come from a different run (when `resume` they must
            match, world size included); or a rank of a distributed run failed.
    """
    if not config.launches:
        return train_rank(config, show_progress=show_progress)
    # cycle: train_distributed runs this module's train_rank
    from sprintboard.tools.train_distributed import launch, planned_world_size

    if config.dry_run:  # nothing to launch: check and estimate one rank's share here
        return train_rank(config, World(0, planned_world_size(config)))
    return launch(config, show_progress=show_progress)


def train_rank(
    config: TrainConfig, world: World = World(), *, show_progress: bool = False
) -> TrainReport:
    """Run the training steps as rank `world.rank` of `world.size` (the default: alone)."""
    run = _prepare(config, world)
    if config.dry_run:
        return _finish(run, None, None)
    model, optimizer = _build(run)
    start = _resume_point(run, model, optimizer)
    totals = _loop(run, model, optimizer, start, show_progress=show_progress)
    return _finish(run, start, totals)


# -- the steps -----------------------------------------------------------------------------------


def _prepare(config: TrainConfig, world: World) -> _Prepared:
    # numpy loads only when a split is read (start-up time)
    from sprintboard.tools.train_data import TrainBatches, load_split, padded_length

    started = time.perf_counter()
    loaded = load_base("train", config.model, quantize=config.method == "qlora")
    split_args: dict[str, Any] = {
        "batch_size": config.batch_size,
        "max_seq_length": config.max_seq_length,
        "allow_truncation": config.allow_truncation,
        "mask_prompt": config.mask_prompt,
    }
    train_split = load_split("train", config.data, "train", loaded.tokenizer, **split_args)
    valid_split = load_split("train", config.data, "valid", loaded.tokenizer, **split_args)
    batches = TrainBatches(train_split, config.batch_size, config.seed)
    total = config.iters or math.ceil((config.epochs or 0) * batches.per_epoch)
    seq_len = padded_length(max(train_split.lengths), config.max_seq_length)
    estimate = _estimate(config, loaded.config, seq_len, config.batch_size // world.size)
    _check_budget(config, estimate)
    inputs = [file_ref(train_split.path), file_ref(valid_split.path)]
    model_files = sorted(config.model.glob("*.safetensors"))
    model_sha = hashlib.sha256(
        "".join(file_ref(p).sha256 for p in model_files).encode()
    ).hexdigest()
    fingerprint = _fingerprint(config, total, inputs[0].sha256 + inputs[1].sha256, model_sha)
    return _Prepared(
        config, world, loaded, batches, valid_split, total, estimate, fingerprint, inputs,
        loaded_s=time.perf_counter() - started,
    )  # fmt: skip


def _build(run: _Prepared) -> tuple[Any, Any]:
    """Add LoRA layers (the same initial weights on every rank) and make the optimizer."""
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx
    import mlx.optimizers as optim

    config, model = run.config, run.loaded.model
    mx.random.seed(config.seed)
    apply_lora(
        "train",
        model,
        layers=config.layers,
        rank=config.rank,
        scale=config.scale,
        dropout=config.dropout,
    )
    if run.world.writes:
        config.output.mkdir(parents=True, exist_ok=True)
        _write_adapter_config(config, len(model.layers))
    opt_class = optim.AdamW if config.optimizer == "adamw" else optim.Adam
    return model, opt_class(learning_rate=_schedule(config, run.total))


def _resume_point(run: _Prepared, model: Any, optimizer: Any) -> Checkpoint:
    """Where this run starts: rank 0's newest checkpoint (restored on every rank), or step 0.

    The returned checkpoint's `path` is the output directory when nothing was restored.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx

    config, world = run.config, run.world
    start = Checkpoint(config.output, 0, 0, run.fingerprint, 0, world.size)
    if world.writes:
        checkpoint = latest_checkpoint(config.output)
        if checkpoint is not None:
            _check_resumable(config, checkpoint, run.fingerprint, world.size)
            restore_checkpoint(checkpoint, model, optimizer)
            start = checkpoint
            truncate_metrics(config.output / "metrics.jsonl", checkpoint.step)
        else:
            (config.output / "metrics.jsonl").unlink(missing_ok=True)
    if world.size > 1:
        # cycle: train_distributed runs this module's train_rank
        from sprintboard.tools.train_distributed import share_resume_point

        start = share_resume_point(world, start, model, optimizer)
    run.batches.consumed = start.consumed
    mx.random.seed(step_seed(config.seed, start.step, world.rank))
    return start


def _check_resumable(
    config: TrainConfig, checkpoint: Checkpoint, fingerprint: str, world_size: int
) -> None:
    if not config.resume:
        raise ToolError(
            "train",
            f"{config.output}: holds checkpoints of an earlier run; set resume or pick a new output",
        )
    if checkpoint.world_size != world_size:
        raise ToolError(
            "train",
            f"{checkpoint.path}: was written by a run of {checkpoint.world_size} rank(s) and "
            f"this run has {world_size}; each rank's share of a batch and the sums over the "
            "ranks differ, so it would not continue the same training; resume with "
            f"{checkpoint.world_size} rank(s) or pick a new output directory",
        )
    if checkpoint.fingerprint != fingerprint:
        raise ToolError(
            "train",
            f"{checkpoint.path}: was written by a run with other settings, data or model "
            "(they must match to resume exactly); pick a new output directory",
        )


def _loop(
    run: _Prepared, model: Any, optimizer: Any, start: Checkpoint, *, show_progress: bool
) -> RunTotals:
    """Validate at step 0, then train from `start` to the last step; return the totals."""
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx

    config, world, total = run.config, run.world, run.total
    plan = CallbackPlan(
        output=config.output, total=total, eval_every=config.eval_every,
        save_every=config.save_every, keep=config.keep_checkpoints, seed=config.seed,
        fingerprint=run.fingerprint, rank=world.rank, world_size=world.size,
    )  # fmt: skip
    log, totals = MetricsLog(config.output / "metrics.jsonl", writer=world.writes), RunTotals()
    validate = _validator(run, model)
    try:
        with train_progress(total, start.step, enabled=show_progress and world.writes) as bar:
            callback = TrainCallback(
                plan, log=log, start=start, model=model, optimizer=optimizer,
                consumed=lambda: run.batches.consumed, validate=validate,
                progress=bar, totals=totals,
            )  # fmt: skip
            if start.step == 0:
                callback.write_val(0, validate())
            if total > start.step:
                tic = time.perf_counter()
                _mlx_train(run, model, optimizer, start, callback)
                totals.wall_seconds = time.perf_counter() - tic
            elif world.writes:  # already finished: make sure the final adapters exist
                adapters = str(config.output / "adapters.safetensors")
                mx.save_safetensors(adapters, dict(_flat(model.trainable_parameters())))
    finally:
        log.close()
    return totals


def _mlx_train(
    run: _Prepared, model: Any, optimizer: Any, start: Checkpoint, callback: Any
) -> None:
    """mlx-lm's own loop for the remaining steps, its console UI captured in `train.log`."""
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx_lm.tuner.trainer import TrainingArgs, default_loss
    from mlx_lm.tuner.trainer import train as mlx_train

    config, world = run.config, run.world
    args = TrainingArgs(
        batch_size=config.batch_size,
        iters=run.total - start.step,
        steps_per_report=config.report_every,
        steps_per_eval=run.total + 1,  # validation runs in the callback, at global steps
        steps_per_save=run.total + 1,  # checkpoints too
        max_seq_length=config.max_seq_length,
        adapter_file=str(config.output / "adapters.safetensors"),
        grad_checkpoint=config.grad_checkpoint,
    )
    loss = default_loss if world.size == 1 else _global_token_mean_loss(world.size)
    # mlx-lm's grad_checkpoint patches the block *class* for the whole process;
    # put it back so later runs in this process compute exactly as in a new one.
    block_class = type(model.layers[0])
    block_call = block_class.__call__
    with _ui_log(config.output, world) as ui_log:
        try:
            with contextlib.redirect_stdout(ui_log):
                mlx_train(
                    model=model,
                    optimizer=optimizer,
                    train_dataset=run.batches.split,
                    val_dataset=None,
                    args=args,
                    loss=loss,
                    iterate_batches=run.batches,
                    training_callback=callback,
                )
        finally:
            block_class.__call__ = block_call


def _finish(run: _Prepared, start: Checkpoint | None, totals: RunTotals | None) -> TrainReport:
    """Write the manifest (rank 0) and build the report from the metric rows and totals."""
    config = run.config
    metrics_file = config.output / "metrics.jsonl"
    metrics: dict[str, float] = {}
    if totals is not None:
        # mlx loads only when a model runs: `import sprintboard` works without it
        import mlx.core as mx

        metrics = {
            **_last_metrics(metrics_file if run.world.writes else None),
            "tokens_per_sec": totals.tokens_per_sec,
            "peak_memory_gb": max(totals.peak_memory_gb, mx.get_peak_memory() / 1e9),
            "train_seconds": totals.wall_seconds,
            "world_size": float(run.world.size),
        }
    metrics["estimate_memory_gb"] = run.estimate.total_gb
    adapter = config.output / "adapters.safetensors"
    manifest = config.output / "manifest.json"
    if run.world.writes:
        config.output.mkdir(parents=True, exist_ok=True)
        _write_manifest(run, manifest, metrics, adapter, metrics_file)
    return TrainReport(
        output=config.output,
        adapter_file=adapter if adapter.exists() and not config.dry_run else None,
        metrics_file=metrics_file,
        manifest=manifest,
        steps=int(metrics.get("steps", 0)),
        total_steps=run.total,
        resumed_from=(start.step if start is not None else 0) or None,
        dry_run=config.dry_run,
        estimate=run.estimate,
        metrics=metrics,
        world_size=run.world.size,
    )


# -- pieces of the steps -------------------------------------------------------------------------


def _fingerprint(config: TrainConfig, total: int, data_sha: str, model_sha: str) -> str:
    fields = {name: getattr(config, name) for name in _CURVE_FIELDS}
    blob = json.dumps([fields, total, data_sha, model_sha], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _schedule(config: TrainConfig, total: int) -> Any:
    # mlx loads only when a model runs: `import sprintboard` works without it
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


def _estimate(
    config: TrainConfig, model_config: dict[str, Any], seq_len: int, rank_batch: int
) -> MemoryEstimate:
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
        batch_size=rank_batch,
        seq_len=seq_len,
        grad_checkpoint=config.grad_checkpoint,
    )


def _check_budget(config: TrainConfig, estimate: MemoryEstimate) -> None:
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


def _validator(run: _Prepared, model: Any) -> Any:
    """Validation loss over the fixed validation batches (every rank takes its share)."""
    # mlx and numpy load only when a model runs: `import sprintboard` works without them
    from mlx_lm.tuner.trainer import evaluate

    from sprintboard.tools.train_data import ValBatches

    config = run.config
    val_batches = ValBatches(run.valid, config.batch_size, config.seed)

    def validate() -> float:
        loss = evaluate(
            model=model,
            dataset=run.valid,
            batch_size=config.batch_size,
            num_batches=config.val_batches,
            max_seq_length=config.max_seq_length,
            iterate_batches=val_batches,
        )
        model.train()
        return float(loss)

    return validate


def _global_token_mean_loss(world_size: int) -> Any:
    """mlx-lm's loss, but over the tokens of the *global* batch, so ranks add up exactly.

    mlx-lm averages the ranks' gradients, each of its own shard's token mean; shards with
    different token counts would then weigh tokens unequally. Dividing each shard's summed
    loss by the global token count (times the world size, which the averaging divides out)
    gives the gradient and loss of one process on the whole batch.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx
    import mlx.nn as nn

    def loss(model: Any, batch: Any, lengths: Any) -> tuple[Any, Any]:
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = model(inputs)
        steps = mx.arange(1, targets.shape[1] + 1)
        mask = mx.logical_and(steps >= lengths[:, 0:1], steps <= lengths[:, 1:])
        ntoks = mask.sum()
        global_toks = mx.stop_gradient(mx.distributed.all_sum(ntoks))
        ce = (nn.losses.cross_entropy(logits, targets) * mask).astype(mx.float32).sum()
        return ce * world_size / global_toks, ntoks

    return loss


@contextlib.contextmanager
def _ui_log(output: Path, world: World) -> Any:
    """mlx-lm's console UI goes to `train.log` on rank 0 and nowhere on the others."""
    path = output / "train.log" if world.writes else Path(os.devnull)
    with path.open("a", encoding="utf-8") as fh:
        yield fh


def _flat(tree: Any) -> list[tuple[str, Any]]:
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx.utils import tree_flatten

    return cast("list[tuple[str, Any]]", tree_flatten(tree))


def _last_metrics(metrics_file: Path | None) -> dict[str, float]:
    found: dict[str, float] = {}
    if metrics_file is None or not metrics_file.exists():
        return found
    for line in metrics_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for key in ("train_loss", "val_loss", "trained_tokens"):
            if key in row:
                found[key] = float(row[key])
        found["steps"] = float(row["step"])
    return found


def _write_manifest(
    run: _Prepared,
    path: Path,
    metrics: dict[str, float],
    adapter: Path,
    metrics_file: Path,
) -> None:
    config = run.config
    outputs = [file_ref(p) for p in (adapter, config.output / "adapter_config.json") if p.exists()]
    if metrics_file.exists() and not config.dry_run:
        outputs.append(file_ref(metrics_file))
    write_manifest(
        path,
        Manifest(
            tool="train",
            version=_VERSION,
            inputs=run.inputs,
            outputs=outputs,
            config=config.model_dump(mode="json"),
            counts={"steps": int(metrics.get("steps", 0)), "total_steps": run.total},
            timings={"load": run.loaded_s, "train": metrics.get("train_seconds", 0.0)},
            extra={
                "fingerprint": run.fingerprint,
                "estimate": run.estimate.model_dump(),
                "metrics": metrics,
                "world_size": run.world.size,
            },
        ),
    )


# Registered after the definition so `train` keeps its own signature for type checkers.
register("train", config=TrainConfig, report=TrainReport)(train)
