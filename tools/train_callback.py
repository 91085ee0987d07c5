"""The training callback handed to mlx-lm: metric rows, validation, checkpoints, progress.

mlx-lm calls `on_train_loss_report` every `report_every` steps, after the step's arrays are
evaluated. Its step numbers restart at 1 on every run, so the callback adds the resumed
step. This module imports mlx_lm, so it is imported only when training runs.
Validation runs here (not in mlx-lm's loop) so that it happens at global steps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mlx_lm.tuner.callbacks import TrainingCallback

from sprintboard.tools.train_resume import save_checkpoint, step_seed

__all__ = ["MetricsLog", "RunTotals", "TrainCallback", "train_progress"]


class MetricsLog:
    """Append-only JSONL of metric rows: `{"kind": "train"|"val", "step": N, ...}`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] = path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        """Append one row and flush it to the OS (a kill loses at most the torn last line)."""
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()

    def sync(self) -> None:
        """Make the rows so far durable (done before each checkpoint)."""
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


@dataclass
class RunTotals:
    """Running totals for the report."""

    train_loss: float | None = None
    val_loss: float | None = None
    tokens: float = 0.0
    seconds: float = 0.0
    """Time inside mlx-lm's steps (its own timer), for tokens/s."""
    peak_memory_gb: float = 0.0
    last_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

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


class TrainCallback(TrainingCallback):
    """What mlx-lm's training loop calls back."""

    def __init__(
        self,
        *,
        output: Path,
        log: MetricsLog,
        offset: int,
        total: int,
        eval_every: int,
        save_every: int,
        keep: int,
        seed: int,
        fingerprint: str,
        model: Any,
        optimizer: Any,
        consumed: Callable[[], int],
        validate: Callable[[], float] | None,
        progress: _Progress,
        totals: RunTotals,
    ) -> None:
        self.output, self.log, self.offset, self.total = output, log, offset, total
        self.eval_every, self.save_every, self.keep = eval_every, save_every, keep
        self.seed, self.fingerprint = seed, fingerprint
        self.model, self.optimizer = model, optimizer
        self.consumed, self.validate = consumed, validate
        self.progress, self.totals = progress, totals

    def on_train_loss_report(self, info: dict[str, Any]) -> None:
        """Write the metric row; validate and checkpoint when this step calls for it."""
        step = self.offset + int(info["iteration"])
        tokens_per_sec = float(info["tokens_per_second"])
        row: dict[str, Any] = {
            "kind": "train",
            "step": step,
            "train_loss": float(info["train_loss"]),
            "learning_rate": float(info["learning_rate"]),
            "tokens_per_sec": tokens_per_sec,
            "peak_memory_gb": float(info["peak_memory"]),
        }
        self.log.write(row)
        totals = self.totals
        new_tokens = float(info["trained_tokens"]) - totals.tokens
        totals.tokens = float(info["trained_tokens"])
        totals.seconds += new_tokens / tokens_per_sec if tokens_per_sec else 0.0
        totals.train_loss, totals.last_step = row["train_loss"], step
        totals.peak_memory_gb = max(totals.peak_memory_gb, row["peak_memory_gb"])
        if self.validate is not None and (step % self.eval_every == 0 or step == self.total):
            self.write_val(step, self.validate())
        if step % self.save_every == 0 or step == self.total:
            self.checkpoint(step)
        self.progress.update(step, totals.train_loss)

    def on_val_loss_report(self, info: dict[str, Any]) -> None:
        """Unused: validation runs in `on_train_loss_report` at global steps."""

    def write_val(self, step: int, loss: float) -> None:
        """Record a validation loss."""
        self.log.write({"kind": "val", "step": step, "val_loss": loss})
        self.totals.val_loss = loss

    def checkpoint(self, step: int) -> None:
        """Save a resumable checkpoint, then reseed mlx's RNG for the steps after it."""
        import mlx.core as mx

        self.log.sync()
        save_checkpoint(
            self.output,
            step=step,
            consumed=self.consumed(),
            fingerprint=self.fingerprint,
            model=self.model,
            optimizer=self.optimizer,
            keep=self.keep,
        )
        mx.random.seed(step_seed(self.seed, step))
