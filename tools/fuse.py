"""The `fuse` tool: merge a LoRA adapter into its base and save a standalone model.

A QLoRA adapter was trained over a 4-bit copy of a float base; fusing it dequantizes, so
the result has the base's format again. GGUF export goes through mlx-lm, which supports
only llama, mistral and mixtral and only unquantized weights.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from sprintboard.errors import ToolError
from sprintboard.files import file_ref
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.model_load import LoadedModel, load_with_adapter, read_model_config
from sprintboard.tools.registry import register
from sprintboard.tools.train_config import FuseConfig, FuseReport

__all__ = ["GGUF_ARCHITECTURES", "fuse"]

GGUF_ARCHITECTURES = ("llama", "mistral", "mixtral")
"""Architectures whose GGUF export mlx-lm implements."""


def fuse(config: FuseConfig) -> FuseReport:
    """Fuse the adapter into the base model and save it (and optionally GGUF) to `output`.

    Raises:
        ToolError: bad model or adapter, or GGUF requested for an architecture mlx-lm
            cannot export.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx_lm.utils import save

    tic = time.perf_counter()
    model_type = read_model_config("fuse", config.model).get("model_type")
    if config.gguf and model_type not in GGUF_ARCHITECTURES:
        raise ToolError(
            "fuse",
            f"{config.model}: GGUF export of {model_type!r} is not supported by mlx-lm (only "
            f"{', '.join(GGUF_ARCHITECTURES)}); fuse without gguf and convert with llama.cpp's "
            "convert_hf_to_gguf.py",
        )
    loaded = load_with_adapter("fuse", config.model, config.adapter)
    # A QLoRA base was quantized only for training; GGUF needs float weights as well.
    dequantize = config.dequantize or config.gguf or loaded.quantized_here
    model, model_config, fused = _fused(loaded, dequantize)
    save(
        config.output, str(config.model), model, loaded.tokenizer, model_config, donate_model=False
    )
    gguf_path = _write_gguf(config.output, model, model_config) if config.gguf else None
    outputs = [file_ref(p) for p in sorted(config.output.glob("*.safetensors"))]
    if gguf_path is not None:
        outputs.append(file_ref(gguf_path))
    seconds = time.perf_counter() - tic
    manifest = write_manifest(
        config.output / "manifest.json",
        Manifest(
            tool="fuse",
            version="1",
            inputs=[file_ref(config.adapter / "adapters.safetensors")],
            outputs=outputs,
            config=config.model_dump(mode="json"),
            counts={"fused_layers": fused},
            timings={"fuse": seconds},
        ),
    )
    return FuseReport(
        output=config.output,
        gguf=gguf_path,
        dequantized=dequantize,
        manifest=manifest,
        metrics={"fused_layers": float(fused), "seconds": seconds},
    )


def _fused(loaded: LoadedModel, dequantize: bool) -> tuple[Any, dict[str, Any], int]:
    """The model with every LoRA layer fused in (and dequantized on ask), its config, and
    how many layers were fused."""
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx.utils import tree_unflatten
    from mlx_lm.utils import dequantize_model

    model, model_config = loaded.model, dict(loaded.config)
    fused = [
        (n, m.fuse(dequantize=dequantize)) for n, m in model.named_modules() if hasattr(m, "fuse")
    ]
    if fused:
        model.update_modules(tree_unflatten(fused))
    if dequantize:
        model = dequantize_model(model)
        model_config.pop("quantization", None)
        model_config.pop("quantization_config", None)
    return model, model_config, len(fused)


def _write_gguf(output: Path, model: Any, model_config: dict[str, Any]) -> Path:
    """The fused weights as one f16 GGUF file beside the safetensors."""
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx.utils import tree_flatten
    from mlx_lm.gguf import convert_to_gguf

    gguf_path = output / "ggml-model-f16.gguf"
    weights = dict(tree_flatten(model.parameters()))
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the --json document
        convert_to_gguf(output, weights, model_config, str(gguf_path))
    return gguf_path


# Registered after the definition so `fuse` keeps its own signature for type checkers.
register("fuse", config=FuseConfig, report=FuseReport)(fuse)
