"""The `fuse` tool: merge a LoRA adapter into its base and save a standalone model.

A QLoRA adapter was trained over a 4-bit copy of a float base; fusing it dequantizes, so
the result has the base's format again. GGUF export goes through mlx-lm, which supports
only llama, mistral and mixtral and only unquantized weights.
"""

from __future__ import annotations

import contextlib
import sys
import time

from sprintboard.errors import ToolError
from sprintboard.files import file_ref
from sprintboard.tools.manifest import Manifest, write_manifest
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
    from mlx.utils import tree_flatten, tree_unflatten
    from mlx_lm.gguf import convert_to_gguf
    from mlx_lm.utils import dequantize_model, save

    from sprintboard.tools.model_load import load_with_adapter, read_model_config

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
    model, model_config = loaded.model, dict(loaded.config)
    # A QLoRA base was quantized only for training; GGUF needs float weights as well.
    dequantize = config.dequantize or config.gguf or loaded.quantized_here
    fused = [
        (n, m.fuse(dequantize=dequantize)) for n, m in model.named_modules() if hasattr(m, "fuse")
    ]
    if fused:
        model.update_modules(tree_unflatten(fused))
    if dequantize:
        model = dequantize_model(model)
        model_config.pop("quantization", None)
        model_config.pop("quantization_config", None)
    save(
        config.output, str(config.model), model, loaded.tokenizer, model_config, donate_model=False
    )
    gguf_path = None
    if config.gguf:
        gguf_path = config.output / "ggml-model-f16.gguf"
        weights = dict(tree_flatten(model.parameters()))
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the --json document
            convert_to_gguf(config.output, weights, model_config, str(gguf_path))
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
            counts={"fused_layers": len(fused)},
            timings={"fuse": seconds},
        ),
    )
    return FuseReport(
        output=config.output,
        gguf=gguf_path,
        dequantized=dequantize,
        manifest=manifest,
        metrics={"fused_layers": float(len(fused)), "seconds": seconds},
    )


# Registered after the definition so `fuse` keeps its own signature for type checkers.
register("fuse", config=FuseConfig, report=FuseReport)(fuse)
