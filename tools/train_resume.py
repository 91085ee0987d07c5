"""What a training run leaves in its output as it goes, and how a later run continues from it.

mlx-lm calls `TrainCallback` every `report_every` steps, after the step's arrays are
evaluated: it writes a metric row, validates at global steps and saves a checkpoint.
mlx-lm's step numbers restart at 1 on every run, so the callback adds the resumed step.

mlx-lm saves adapter weights only and always starts at step 1. A checkpoint here is a
directory `checkpoints/step-NNNNNNN/` holding `adapters.safetensors`,
`optimizer.safetensors` (the flattened `optimizer.state`, including its step counter, which
drives the learning-rate schedule) and `state.json` (step, global batches consumed, tokens
trained, world size, config fingerprint). It is written under a dot-name, fsynced, then
renamed into place, so a kill at any moment leaves either the whole checkpoint or none.

mlx's random state cannot be set to a saved key, only reseeded, so every rank reseeds it
with `step_seed(seed, step, rank)` at every checkpoint step in every run; a resumed run then
sees the same random numbers (LoRA dropout) as an uninterrupted one.

In a distributed run only rank 0 writes (the callback's `writer`); every rank validates
(mlx-lm sums the ranks' losses) and reseeds. mlx is imported inside the functions, so the
checkpoint readers load without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from sprintboard.errors import ToolError
from sprintboard.files import fsync_dir, fsync_path

__all__ = [
    "Checkpoint",
    "MetricsLog",
    "RunTotals",
    "TrainCallback",
    "latest_checkpoint",
    "restore_checkpoint",
    "save_checkpoint",
    "step_seed",
    "train_progress",
    "truncate_metrics",
]

CHECKPOINTS = "checkpoints"
_STATE = "state.json"
_ADAPTERS = "adapters.safetensors"
_OPTIMIZER = "optimizer.safetensors"


# -- checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk."""

    path: Path
    step: int
    consumed: int
    """Global training batches handed out before this step ended."""
    fingerprint: str
    trained_tokens: int = 0
    """Tokens trained up to this step, all ranks together."""
    world_size: int = 1
    """Ranks of the run that wrote it (checkpoints from before distributed runs say 1)."""


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """The mlx random seed rank `rank` uses from `step` on (fits mlx's 64-bit seed).

    Rank 0 gets the seed a single process gets, so one rank is the single-process run.
    """
    key = f"{seed}:{step}" if rank == 0 else f"{seed}:{step}:{rank}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


def save_checkpoint(
    output: Path, checkpoint: Checkpoint, *, model: Any, optimizer: Any, keep: int
) -> Checkpoint:
    """Write `checkpoint` (its `path` is ignored) atomically; drop all but the newest `keep`."""
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx
    from mlx.utils import tree_flatten

    root = output / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    step = checkpoint.step
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    mx.save_safetensors(str(tmp / _ADAPTERS), dict(tree_flatten(model.trainable_parameters())))
    mx.save_safetensors(str(tmp / _OPTIMIZER), dict(tree_flatten(optimizer.state)))
    state = {
        "step": step,
        "consumed": checkpoint.consumed,
        "fingerprint": checkpoint.fingerprint,
        "trained_tokens": checkpoint.trained_tokens,
        "world_size": checkpoint.world_size,
    }
    (tmp / _STATE).write_text(json.dumps(state), encoding="utf-8")
    for name in (_ADAPTERS, _OPTIMIZER, _STATE):
        fsync_path(tmp / name)
    fsync_dir(tmp)
    if final.exists():  # a run killed after this rename re-reaches the same step
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(root)  # the rename is durable only once the directory entry is on disk
    for old in _complete(root)[:-keep]:
        shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(
        final, step, checkpoint.consumed, checkpoint.fingerprint,
        checkpoint.trained_tokens, checkpoint.world_size,
    )  # fmt: skip


def _complete(root: Path) -> list[Checkpoint]:
    found = []
    for path in root.glob("step-*"):
        try:
            state = json.loads((path / _STATE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # not a complete checkpoint: ignore it
        found.append(
            Checkpoint(
                path,
                int(state["step"]),
                int(state["consumed"]),
                state["fingerprint"],
                int(state.get("trained_tokens", 0)),
                int(state.get("world_size", 1)),
            )
        )
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(output: Path) -> Checkpoint | None:
    """The newest complete checkpoint under `output`, if any."""
    found = _complete(output / CHECKPOINTS)
    return found[-1] if found else None


def restore_checkpoint(checkpoint: Checkpoint, model: Any, optimizer: Any) -> None:
    """Load adapters into `model` and the saved state into `optimizer`.

    Raises:
        ToolError: the checkpoint does not match the model's adapters.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx
    from mlx.utils import tree_map_with_path

    model.load_weights(str(checkpoint.path / _ADAPTERS), strict=False)
    saved = cast("dict[str, Any]", mx.load(str(checkpoint.path / _OPTIMIZER)))
    optimizer.init(model.trainable_parameters())

    def pick(path: str, current: Any) -> Any:
        if path not in saved:
            raise ToolError("train", f"{checkpoint.path}: optimizer state lacks {path}")
        return saved[path]

    optimizer.state = tree_map_with_path(pick, optimizer.state)
    mx.eval(model.parameters(), optimizer.state)


def truncate_metrics(metrics: Path, step: int) -> None:
    """Drop metric rows after `step` (written by a run that died before its next checkpoint)."""
    if not metrics.exists():
        return
    kept = []
    for line in metrics.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line a kill tore in half
        if row["step"] <= step:
            kept.append(line)
    tmp = metrics.with_name(f".{metrics.name}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    os.replace(tmp, metrics)


# -- metric rows and the callback ----------------------------------------------------------------


class MetricsLog:
    """Append-only JSONL of metric rows: `{"kind": "train"|"val", "step": N, ...}`.

    A log that is not the `writer` (ranks other than 0) writes nothing.
    """

    def __init__(self, path: Path, *, writer: bool = True) -> None:
        self.path = path
        self._fh: IO[str] | None = path.open("a", encoding="utf-8") if writer else None

    def write(self, row: dict[str, Any]) -> None:
        """Append one row and flush it to the OS (a kill loses at most the torn last line)."""
        if self._fh is not None:
            self._fh.write(json.dumps(row) + "\n")
            self._fh.flush()

    def sync(self) -> None:
        """Make the rows so far durable (done before each checkpoint)."""
        if self._fh is not None:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()


@dataclass
class RunTotals:
    """Running totals for the report."""

    train_loss: float | None = None
    val_loss: float | None = None
    tokens: float = 0.0
    """Tokens trained by this run (all ranks), as mlx-lm counts them."""
    seconds: float = 0.0
    """Time inside mlx-lm's steps (its own timer), for tokens/s."""
    wall_seconds: float = 0.0
    """Time of the whole loop, validation and checkpoints included."""
    peak_memory_gb: float = 0.0
    last_step: int = 0

    @property
    def tokens_per_sec(self) -> float:
        """Trained tokens per second over this run."""
        return self.tokens / self.seconds if self.seconds else 0.0


class _Progress:
    def update(self, step: int, loss: float | None) -> None:
        pass


class _RichProgress(_Progress):
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def update(self, step: int, loss: float | None) -> None:
        text = "" if loss is None else f"loss {loss:.3f}"
        self._bar.update(self._task, completed=step, loss=text)


@contextmanager
def train_progress(total: int, start: int, *, enabled: bool) -> Iterator[_Progress]:
    """A rich bar on stderr with steps, ETA and the latest loss, when `enabled`."""
    if not enabled:
        yield _Progress()
        return
    # rich loads only when a bar is shown (start-up time)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("train"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[loss]}"),
        console=Console(stderr=True),
        redirect_stdout=False,  # mlx-lm's stdout is captured to a log; leave it alone
        redirect_stderr=False,
        transient=True,
    )
    with bar:
        yield _RichProgress(bar, bar.add_task("train", total=total, completed=start, loss=""))


@dataclass
class CallbackPlan:
    """When the callback validates and checkpoints, and what a checkpoint records."""

    output: Path
    total: int
    eval_every: int
    save_every: int
    keep: int
    seed: int
    fingerprint: str
    rank: int = 0
    world_size: int = 1


class TrainCallback:
    """What mlx-lm's training loop calls back.

    It has the two methods of mlx-lm's `TrainingCallback` without subclassing it, so this
    module loads without mlx_lm.
    """

    def __init__(
        self,
        plan: CallbackPlan,
        *,
        log: MetricsLog,
        start: Checkpoint,
        model: Any,
        optimizer: Any,
        consumed: Callable[[], int],
        validate: Callable[[], float] | None,
        progress: _Progress,
        totals: RunTotals,
    ) -> None:
        self.plan, self.log, self.start = plan, log, start
        self.model, self.optimizer = model, optimizer
        self.consumed, self.validate = consumed, validate
        self.progress, self.totals = progress, totals

    @property
    def trained_tokens(self) -> int:
        """Tokens trained so far, earlier runs of this output included."""
        return self.start.trained_tokens + int(self.totals.tokens)

    def on_train_loss_report(self, info: dict[str, Any]) -> None:
        """Write the metric row; validate and checkpoint when this step calls for it."""
        plan, totals = self.plan, self.totals
        step = self.start.step + int(info["iteration"])
        tokens_per_sec = float(info["tokens_per_second"])
        new_tokens = float(info["trained_tokens"]) - totals.tokens
        totals.tokens = float(info["trained_tokens"])
        totals.seconds += new_tokens / tokens_per_sec if tokens_per_sec else 0.0
        row: dict[str, Any] = {
            "kind": "train",
            "step": step,
            "train_loss": float(info["train_loss"]),
            "learning_rate": float(info["learning_rate"]),
            "tokens_per_sec": tokens_per_sec,
            "trained_tokens": self.trained_tokens,
            "world_size": plan.world_size,
            "peak_memory_gb": float(info["peak_memory"]),
        }
        self.log.write(row)
        totals.train_loss, totals.last_step = row["train_loss"], step
        totals.peak_memory_gb = max(totals.peak_memory_gb, row["peak_memory_gb"])
        if self.validate is not None and (step % plan.eval_every == 0 or step == plan.total):
            self.write_val(step, self.validate())
        if step % plan.save_every == 0 or step == plan.total:
            self.checkpoint(step)
        self.progress.update(step, totals.train_loss)

    def on_val_loss_report(self, info: dict[str, Any]) -> None:
        """Unused: validation runs in `on_train_loss_report` at global steps."""

    def write_val(self, step: int, loss: float) -> None:
        """Record a validation loss."""
        row = {
            "kind": "val",
            "step": step,
            "val_loss": loss,
            "trained_tokens": self.trained_tokens,
            "world_size": self.plan.world_size,
        }
        self.log.write(row)
        self.totals.val_loss = loss

    def checkpoint(self, step: int) -> None:
        """Save a resumable checkpoint (rank 0), then reseed mlx's RNG for the steps after it."""
        # mlx loads only when a model runs: `import sprintboard` works without it
        import mlx.core as mx

        plan = self.plan
        if plan.rank == 0:
            self.log.sync()
            state = Checkpoint(
                plan.output, step, self.consumed(), plan.fingerprint,
                self.trained_tokens, plan.world_size,
            )  # fmt: skip
            save_checkpoint(
                plan.output, state, model=self.model, optimizer=self.optimizer, keep=plan.keep
            )
        mx.random.seed(step_seed(plan.seed, step, plan.rank))
