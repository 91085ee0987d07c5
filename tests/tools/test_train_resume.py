"""Exact resume: a run killed with SIGKILL and resumed gives the uninterrupted loss curve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sprintboard.errors import ToolError
from sprintboard.tools.train_config import TrainConfig
from sprintboard.tools.train_resume import latest_checkpoint, truncate_metrics

# Dropout and a warmup + cosine schedule make the curve depend on the RNG stream, the
# optimizer's step counter and the data position: all three must be restored exactly.
_SETTINGS: dict[str, Any] = {
    "iters": 80, "learning_rate": 2e-3, "lr_schedule": "cosine", "warmup_steps": 3,
    "dropout": 0.1, "batch_size": 4, "max_seq_length": 128, "report_every": 1,
    "eval_every": 4, "save_every": 4, "val_batches": 2, "seed": 7,
}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Text rows this time, so resume is not tied to one format."""
    from sprintboard.tools.tiny_model import build_tiny_dataset

    return build_tiny_dataset(tmp_path_factory.mktemp("text-data"), fmt="text", sizes=(20, 8, 8))


def _config(model: Path, data: Path, output: Path, **over: Any) -> TrainConfig:
    return TrainConfig.model_validate(
        {"model": model, "data": data, "output": output, **_SETTINGS, **over}
    )


def _cli_args(model: Path, data: Path, output: Path) -> list[str]:
    args = [
        "tools",
        "train",
        "--model",
        str(model),
        "--data",
        str(data),
        "-o",
        str(output),
        "--json",
    ]
    for key, value in _SETTINGS.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _curve(rows: list[dict[str, Any]]) -> list[tuple[str, int, float]]:
    """Everything that must match: losses and learning rate per step (not timings)."""
    return [
        (r["kind"], r["step"], r.get("train_loss", r.get("val_loss")), r.get("learning_rate", 0.0))
        for r in rows
    ]


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(
    tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    from mlx.utils import tree_flatten  # noqa: F401  (mlx is needed by the tool anyway)

    from sprintboard.tools.train import train

    reference = train(_config(tiny_model, data, tmp_path / "ref"))
    killed = tmp_path / "killed"
    code = "import sys; from sprintboard.cli import main; main(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-P", "-c", code, *_cli_args(tiny_model, data, killed)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Poll (bounded) for the second checkpoint of the other process, then kill it hard.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            ckpt = latest_checkpoint(killed)
            if ckpt is not None and ckpt.step >= 8:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"run ended before it was killed: {proc.stderr.read()!r}"  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()  # type: ignore[union-attr]
    stopped = latest_checkpoint(killed)
    assert stopped is not None and 8 <= stopped.step < 80

    resumed = train(_config(tiny_model, data, killed))
    assert resumed.resumed_from == stopped.step and resumed.steps == 80
    assert _curve(_rows(killed / "metrics.jsonl")) == _curve(_rows(reference.metrics_file))
    assert resumed.metrics["val_loss"] == reference.metrics["val_loss"]

    import mlx.core as mx

    ref_w = mx.load(str(tmp_path / "ref" / "adapters.safetensors"))
    got_w = mx.load(str(killed / "adapters.safetensors"))
    assert ref_w.keys() == got_w.keys()
    assert all(mx.array_equal(ref_w[k], got_w[k]).item() for k in ref_w)


def test_resume_refuses_a_checkpoint_from_other_settings(
    tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    out = tmp_path / "run"
    train(_config(tiny_model, data, out, iters=4, eval_every=4, report_every=4))
    with pytest.raises(ToolError, match="other settings, data or model"):
        train(
            _config(
                tiny_model, data, out, iters=4, eval_every=4, report_every=4, learning_rate=1e-3
            )
        )
    with pytest.raises(ToolError, match="holds checkpoints of an earlier run"):
        train(_config(tiny_model, data, out, iters=4, eval_every=4, report_every=4, resume=False))
    # Resuming a finished run does no steps and keeps its metrics.
    again = train(_config(tiny_model, data, out, iters=4, eval_every=4, report_every=4))
    assert again.resumed_from == 4 and again.steps == 4


def test_incomplete_checkpoints_and_torn_metric_lines_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    (root / ".step-0000009.123.tmp").mkdir(parents=True)  # killed while writing
    (root / "step-0000004").mkdir()
    (root / "step-0000004" / "state.json").write_text(
        '{"step": 4, "consumed": 4, "fingerprint": "f"}', encoding="utf-8"
    )
    (root / "step-0000008").mkdir()  # no state.json: not complete
    found = latest_checkpoint(tmp_path)
    assert found is not None and (found.step, found.consumed) == (4, 4)

    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(
        '{"kind": "train", "step": 4}\n{"kind": "train", "step": 5}\n{"kind": "tr', encoding="utf-8"
    )
    truncate_metrics(metrics, 4)
    assert metrics.read_text(encoding="utf-8") == '{"kind": "train", "step": 4}\n'
