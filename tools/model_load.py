"""Load a base model (optionally quantized for QLoRA) and an adapter, refusing clearly.

Checks that need no mlx (config.json, tokenizer files, architecture name) run first, so a
wrong path fails in milliseconds with what to do, not deep inside mlx-lm. This module and
every module that imports it are imported only when an MLX tool runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sprintboard.errors import ToolError

__all__ = [
    "ADAPTER_CONFIG",
    "LoadedModel",
    "apply_lora",
    "load_base",
    "load_with_adapter",
    "read_model_config",
    "require_mlx",
]

ADAPTER_CONFIG = "adapter_config.json"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer.tiktoken")
QLORA_BITS = 4
QLORA_GROUP = 64


def require_mlx(tool: str) -> None:
    """Fail with an install hint where mlx or mlx-lm cannot be imported.

    Raises:
        ToolError: mlx or mlx_lm is missing or does not load on this machine.
    """
    try:
        import mlx.core  # noqa: F401
        import mlx_lm  # noqa: F401
    except ImportError as exc:
        raise ToolError(
            tool,
            f"mlx is not usable here ({exc}). Install it with `pip install 'mlx[cpu]' mlx-lm` "
            "on Linux or `pip install mlx mlx-lm` on Apple silicon; Intel Macs and Windows "
            "are not supported by mlx.",
        ) from None


def read_model_config(tool: str, model_dir: Path) -> dict[str, Any]:
    """Read and check `model_dir/config.json`: present, a supported architecture, a tokenizer.

    Raises:
        ToolError: the directory, config, tokenizer or architecture is missing or unsupported.
    """
    config_path = model_dir / "config.json"
    if not model_dir.is_dir():
        raise ToolError(tool, f"{model_dir}: model directory not found (nothing is downloaded)")
    if not config_path.is_file():
        raise ToolError(tool, f"{config_path}: missing; a model directory needs config.json")
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ToolError(tool, f"{config_path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not any((model_dir / name).is_file() for name in _TOKENIZER_FILES):
        raise ToolError(
            tool,
            f"{model_dir}: no tokenizer (looked for {', '.join(_TOKENIZER_FILES)}); copy the "
            "tokenizer files of the base model into this directory",
        )
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise ToolError(tool, f"{config_path}: no `model_type`; cannot tell the architecture")
    require_mlx(tool)
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx_lm.utils import MODEL_REMAPPING

    module = MODEL_REMAPPING.get(model_type, model_type)
    if importlib.util.find_spec(f"mlx_lm.models.{module}") is None:
        raise ToolError(
            tool,
            f"{config_path}: architecture {model_type!r} is not supported by the installed "
            "mlx-lm; upgrade mlx-lm or use a supported model (llama, mistral, qwen2, ...)",
        )
    return config


@dataclass
class LoadedModel:
    """A model, its tokenizer wrapper and config, as mlx-lm loaded them."""

    model: Any
    tokenizer: Any
    config: dict[str, Any]
    quantized_here: bool
    """True when the base was quantized to 4 bits on load (QLoRA over a float base)."""


def load_base(tool: str, model_dir: Path, *, quantize: bool = False) -> LoadedModel:
    """Load the base model and tokenizer; quantize it to 4 bits when `quantize` (QLoRA).

    Raises:
        ToolError: see `read_model_config`, or mlx-lm cannot load the weights.
    """
    config = read_model_config(tool, model_dir)
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx_lm.utils import load, quantize_model

    try:
        loaded = cast("tuple[Any, Any, dict[str, Any]]", load(str(model_dir), return_config=True))
    except (FileNotFoundError, ValueError) as exc:
        raise ToolError(tool, f"{model_dir}: mlx-lm cannot load this model: {exc}") from None
    model, tokenizer, loaded_config = loaded
    quantized_here = False
    if quantize and "quantization" not in loaded_config:
        with contextlib.redirect_stdout(sys.stderr):  # mlx-lm prints a note on stdout
            model, loaded_config = quantize_model(
                model, loaded_config, group_size=QLORA_GROUP, bits=QLORA_BITS
            )
        quantized_here = True
    del config
    return LoadedModel(model, tokenizer, loaded_config, quantized_here)


def apply_lora(
    tool: str, model: Any, *, layers: int, rank: int, scale: float, dropout: float
) -> None:
    """Freeze the model and add LoRA layers to the last `layers` blocks (-1: all).

    Raises:
        ToolError: the model has fewer blocks than `layers`.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx_lm.tuner.utils import linear_to_lora_layers

    blocks = len(model.layers)
    if layers > blocks:
        raise ToolError(tool, f"`layers` is {layers} but the model has only {blocks} blocks")
    model.freeze()
    params = {"rank": rank, "scale": scale, "dropout": dropout}
    linear_to_lora_layers(model, blocks if layers < 0 else layers, params)


def load_with_adapter(tool: str, model_dir: Path, adapter_dir: Path | None) -> LoadedModel:
    """Load the base and, when given, the adapter written by `train` (QLoRA re-quantizes).

    Raises:
        ToolError: the adapter directory or its files are missing or do not fit the model.
    """
    if adapter_dir is None:
        loaded = load_base(tool, model_dir)
        loaded.model.eval()
        return loaded
    config_path = adapter_dir / ADAPTER_CONFIG
    weights = adapter_dir / "adapters.safetensors"
    for path in (config_path, weights):
        if not path.is_file():
            raise ToolError(tool, f"{path}: missing; run `sprintboard tools train` first")
    adapter = json.loads(config_path.read_text(encoding="utf-8"))
    loaded = load_base(tool, model_dir, quantize=adapter.get("method") == "qlora")
    lora = adapter["lora_parameters"]
    apply_lora(
        tool,
        loaded.model,
        layers=int(adapter["num_layers"]),
        rank=int(lora["rank"]),
        scale=float(lora["scale"]),
        dropout=0.0,
    )
    try:
        loaded.model.load_weights(str(weights), strict=False)
    except ValueError as exc:
        raise ToolError(tool, f"{weights}: does not fit {model_dir}: {exc}") from None
    loaded.model.eval()
    return loaded
