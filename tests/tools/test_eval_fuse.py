"""`eval`, `generate` and `fuse` over an adapter trained on the tiny model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from sprintboard.errors import ToolError
from sprintboard.tools import run_step


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Completions-format splits."""
    from sprintboard.tools.tiny_model import build_tiny_dataset

    return build_tiny_dataset(tmp_path_factory.mktemp("comp-data"), fmt="completions")


@pytest.fixture(scope="module")
def adapter(tiny_model: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter trained for 30 steps."""
    out = tmp_path_factory.mktemp("adapter")
    run_step(
        "train",
        {
            "model": str(tiny_model),
            "data": str(data),
            "output": str(out),
            "iters": 30,
            "learning_rate": 2e-3,
            "max_seq_length": 128,
            "report_every": 10,
            "eval_every": 30,
            "save_every": 30,
        },  # fmt: skip
    )
    return out


def test_eval_reports_loss_and_perplexity(tiny_model: Path, data: Path, adapter: Path) -> None:
    tuned = run_step("eval", {"model": str(tiny_model), "data": str(data), "adapter": str(adapter)})
    base = run_step(
        "eval", {"model": str(tiny_model), "data": str(data), "output": str(adapter / "base")}
    )
    loss = tuned.metrics["test_loss"]  # type: ignore[attr-defined]
    assert loss < base.metrics["test_loss"] - 1.0  # type: ignore[attr-defined]
    assert tuned.metrics["test_ppl"] == pytest.approx(math.exp(loss))  # type: ignore[attr-defined]
    manifest = json.loads((adapter / "manifest.eval-test.json").read_text(encoding="utf-8"))
    assert manifest["extra"]["metrics"]["test_loss"] == loss
    assert manifest["counts"]["rows"] == 12


def test_eval_without_adapter_files_is_refused(
    tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        ToolError, match="adapter_config.json: missing; run `sprintboard tools train`"
    ):
        run_step("eval", {"model": str(tiny_model), "data": str(data), "adapter": str(tmp_path)})


def test_generate_is_deterministic_and_bounded(tiny_model: Path, adapter: Path) -> None:
    step = {
        "model": str(tiny_model),
        "adapter": str(adapter),
        "prompt": "Repeat: The board",
        "max_tokens": 8,
    }
    first, second = run_step("generate", step), run_step("generate", step)
    assert first.text == second.text  # type: ignore[attr-defined]
    assert 0 < first.generated_tokens <= 8  # type: ignore[attr-defined]
    raw = run_step("generate", {**step, "chat": False})
    assert raw.prompt_tokens < first.prompt_tokens  # type: ignore[attr-defined]


def test_fused_model_scores_like_base_plus_adapter(
    tiny_model: Path, data: Path, adapter: Path, tmp_path: Path
) -> None:
    report = run_step(
        "fuse",
        {
            "model": str(tiny_model),
            "adapter": str(adapter),
            "output": str(tmp_path / "f"),
            "gguf": True,
        },
    )
    assert report.gguf is not None and report.gguf.stat().st_size > 0  # type: ignore[attr-defined]
    assert not any(n.endswith("lora_a") for n in _weight_names(tmp_path / "f"))
    fused = run_step(
        "eval", {"model": str(tmp_path / "f"), "data": str(data), "output": str(tmp_path)}
    )
    tuned = run_step("eval", {"model": str(tiny_model), "data": str(data), "adapter": str(adapter)})
    assert fused.metrics["test_loss"] == pytest.approx(tuned.metrics["test_loss"], abs=1e-4)  # type: ignore[attr-defined]


def _weight_names(model_dir: Path) -> list[str]:
    import mlx.core as mx

    return list(mx.load(str(model_dir / "model.safetensors")))


def test_gguf_for_an_unsupported_architecture_is_refused(
    tiny_model: Path, adapter: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "qwen2"
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ToolError, match="GGUF export of 'qwen2' is not supported"):
        run_step(
            "fuse",
            {
                "model": str(model),
                "adapter": str(adapter),
                "output": str(tmp_path / "f"),
                "gguf": True,
            },
        )
