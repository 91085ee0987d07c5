"""Resumable training checkpoints: adapters, optimizer state, step and data position.

mlx-lm saves adapter weights only and always starts at step 1. A checkpoint here is a
directory `checkpoints/step-NNNNNNN/` holding `adapters.safetensors`,
`optimizer.safetensors` (the flattened `optimizer.state`, including its step counter, which
drives the learning-rate schedule) and `state.json` (step, batches consumed, config
fingerprint). It is written under a dot-name, fsynced, then renamed into place, so a kill at
any moment leaves either the whole checkpoint or none.

mlx's random state cannot be set to a saved key, only reseeded, so the trainer reseeds it
with `step_seed(seed, step)` at every checkpoint step in every run; a resumed run then sees
the same random numbers (LoRA dropout) as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sprintboard.errors import ToolError
from sprintboard.files import fsync_dir, fsync_path

__all__ = [
    "Checkpoint",
    "latest_checkpoint",
    "restore_checkpoint",
    "save_checkpoint",
    "step_seed",
    "truncate_metrics",
]

CHECKPOINTS = "checkpoints"
_STATE = "state.json"
_ADAPTERS = "adapters.safetensors"
_OPTIMIZER = "optimizer.safetensors"


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk."""

    path: Path
    step: int
    consumed: int
    """Training batches handed out before this step ended."""
    fingerprint: str


def step_seed(seed: int, step: int) -> int:
    """The mlx random seed used from `step` on (fits mlx's 64-bit seed)."""
    digest = hashlib.sha256(f"{seed}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def save_checkpoint(
    output: Path,
    *,
    step: int,
    consumed: int,
    fingerprint: str,
    model: Any,
    optimizer: Any,
    keep: int,
) -> Checkpoint:
    """Write a checkpoint for `step` atomically and drop all but the newest `keep`."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    root = output / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    mx.save_safetensors(str(tmp / _ADAPTERS), dict(tree_flatten(model.trainable_parameters())))
    mx.save_safetensors(str(tmp / _OPTIMIZER), dict(tree_flatten(optimizer.state)))
    state = {"step": step, "consumed": consumed, "fingerprint": fingerprint}
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
    return Checkpoint(final, step, consumed, fingerprint)


def _complete(root: Path) -> list[Checkpoint]:
    found = []
    for path in root.glob("step-*"):
        try:
            state = json.loads((path / _STATE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # not a complete checkpoint: ignore it
        found.append(
            Checkpoint(path, int(state["step"]), int(state["consumed"]), state["fingerprint"])
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
