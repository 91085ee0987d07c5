"""Turn a llama-family GGUF file into an mlx-lm model directory, offline.

`mx.load(path, return_metadata=True)` reads Q4_0/Q4_1/Q8_0 tensors as MLX affine-quantized
weights (``weight``/``scales``/``biases``, group size 32) and other types as floats. This
module renames the tensors to the llama layout mlx-lm expects, builds ``config.json`` from the
metadata and builds the tokenizer from the GGUF vocabulary, merges and chat template with
`tokenizers` (transformers' GGUF reader needs torch, which is not installed).

Two facts make or break the result. llama.cpp's converter permutes the Q and K rows for its
interleaved rope, so the model needs ``rope_traditional: true`` (without it, it answers
nothing). And a GGUF without ``output.weight`` ties the output head to the embeddings.

Usage::

    report = import_gguf(GgufImportConfig(gguf=Path("SmolLM2.Q4_1.gguf"), out_dir=Path("m")))
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, Field

from sprintboard.errors import ToolError
from sprintboard.files import file_ref
from sprintboard.tools.manifest import Manifest, write_manifest

if TYPE_CHECKING:
    import mlx.core as mx
    from tokenizers import Tokenizer

__all__ = [
    "GgufImportConfig",
    "GgufImportReport",
    "GgufMetadata",
    "build_tokenizer",
    "convert_arrays",
    "import_gguf",
    "llama_config",
    "llama_name",
    "tokenizer_config",
    "write_model_dir",
]

_TOOL = "import-gguf"

# GGUF tensor name (after `blk.N.`) -> mlx-lm llama module path (after `model.layers.N.`).
_BLOCK_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
_BLOCK = re.compile(r"^blk\.(\d+)\.([a-z_]+)\.(weight|scales|biases|bias)$")
_TOP = re.compile(r"^([a-z_]+)\.(weight|scales|biases|bias)$")
# Tensors llama.cpp adds that the mlx-lm llama computes itself.
_SKIPPED = frozenset({"rope_freqs.weight"})

# Pre-tokenizers whose split is "each digit alone, then the GPT-2 regex" (llama.cpp's list).
_DIGIT_SPLIT_PRE = frozenset({"smollm", "starcoder", "refact", "codeshell", "command-r"})
_TOKEN_CONTROL, _TOKEN_USER_DEFINED = 3, 4
_GGUF_BLOCK = 32


class GgufImportConfig(BaseModel, frozen=True, extra="forbid"):
    """Which GGUF file to import and where the mlx-lm model directory goes."""

    gguf: Path
    out_dir: Path
    overwrite: bool = False
    """Write into a non-empty `out_dir`, replacing the model files there (nothing is deleted)."""


class GgufImportReport(BaseModel, frozen=True, extra="forbid"):
    """What was imported: the model's shape, its quantization and where it was written."""

    gguf: Path
    out_dir: Path
    architecture: str
    layers: int
    hidden_size: int
    vocab_size: int
    tensors: int
    """Arrays written to model.safetensors (weights, scales and biases count separately)."""
    quantization: dict[str, int] | None
    """``{"bits": b, "group_size": g}`` of the quantized tensors; None when all are floats."""
    tied_embeddings: bool
    seconds: float = Field(ge=0)


class GgufMetadata:
    """Typed reads of the metadata `mx.load` returns (arrays, strings, lists of strings)."""

    def __init__(self, values: dict[str, Any], source: Path | str = "<gguf>") -> None:
        self.values, self.source = values, source

    def _get(self, key: str) -> Any:
        if key not in self.values:
            raise ToolError(_TOOL, f"{self.source}: metadata key {key!r} is missing")
        return self.values[key]

    def text(self, key: str, default: str | None = None) -> str:
        """A string value."""
        if default is not None and key not in self.values:
            return default
        return str(self._get(key))

    def texts(self, key: str) -> list[str]:
        """A list of strings (vocabulary, merges)."""
        return [str(v) for v in self._get(key)]

    def number(self, key: str, default: float | None = None) -> float:
        """A numeric scalar."""
        if default is not None and key not in self.values:
            return default
        return float(self._get(key).item())

    def integer(self, key: str, default: int | None = None) -> int:
        """An integer scalar."""
        if default is not None and key not in self.values:
            return default
        return int(self._get(key).item())

    def flag(self, key: str, default: bool) -> bool:
        """A boolean; some mlx versions return booleans as empty arrays, read as `default`."""
        value = self.values.get(key)
        if value is None or getattr(value, "size", 1) == 0:
            return default
        return bool(value.item())

    def ints(self, key: str) -> list[int]:
        """An integer array as a list."""
        return [int(v) for v in self._get(key).tolist()]


def llama_name(gguf_name: str) -> str | None:
    """The mlx-lm llama name of a GGUF tensor; None for tensors to leave out.

    Raises:
        ToolError: a tensor this importer does not know (another architecture's layout).
    """
    if gguf_name in _SKIPPED:
        return None
    if match := _BLOCK.match(gguf_name):
        layer, part, kind = match.groups()
        if part in _BLOCK_NAMES:
            return f"model.layers.{layer}.{_BLOCK_NAMES[part]}.{kind}"
    elif (match := _TOP.match(gguf_name)) and match.group(1) in _TOP_NAMES:
        return f"{_TOP_NAMES[match.group(1)]}.{match.group(2)}"
    raise ToolError(_TOOL, f"unknown GGUF tensor {gguf_name!r}; only the llama layout is supported")


def _quantization(weights: dict[str, mx.array]) -> dict[str, int] | None:
    """Bits and group size of the quantized tensors (each has a packed uint32 weight)."""
    found: Counter[tuple[int, int]] = Counter()
    for name, scales in weights.items():
        if not name.endswith(".scales"):
            continue
        packed = weights[name[: -len("scales")] + "weight"]
        # GGUF blocks (Q4_0, Q4_1, Q8_0) hold 32 values each: one scale per 32 inputs.
        in_features = scales.shape[-1] * _GGUF_BLOCK
        found[(packed.shape[-1] * 32 // in_features, _GGUF_BLOCK)] += 1
    if not found:
        return None
    # Files mix types (Q4_1 layers, a Q8_0 embedding); mlx-lm infers each tensor's own bits
    # from its shapes, so the most common pair is only the default.
    (bits, group), _ = found.most_common(1)[0]
    return {"bits": bits, "group_size": group}


def llama_config(
    meta: GgufMetadata, tied: bool, quantization: dict[str, int] | None
) -> dict[str, Any]:
    """`config.json` for mlx-lm's llama from the GGUF metadata.

    Raises:
        ToolError: the architecture is not llama, or a required key is missing.
    """
    arch = meta.text("general.architecture")
    if arch != "llama":
        raise ToolError(
            _TOOL, f"{meta.source}: architecture {arch!r} is not supported (llama only)"
        )
    heads = meta.integer("llama.attention.head_count")
    hidden = meta.integer("llama.embedding_length")
    vocab = meta.integer("llama.vocab_size", len(meta.texts("tokenizer.ggml.tokens")))
    config: dict[str, Any] = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "num_hidden_layers": meta.integer("llama.block_count"),
        "intermediate_size": meta.integer("llama.feed_forward_length"),
        "num_attention_heads": heads,
        "num_key_value_heads": meta.integer("llama.attention.head_count_kv", heads),
        "head_dim": meta.integer("llama.rope.dimension_count", hidden // heads),
        "rms_norm_eps": meta.number("llama.attention.layer_norm_rms_epsilon", 1e-5),
        "vocab_size": vocab,
        "max_position_embeddings": meta.integer("llama.context_length", 2048),
        "rope_theta": meta.number("llama.rope.freq_base", 10000.0),
        # llama.cpp permuted the Q/K rows for interleaved rope; mlx calls that "traditional".
        "rope_traditional": True,
        "tie_word_embeddings": tied,
        "bos_token_id": meta.integer("tokenizer.ggml.bos_token_id", 1),
        "eos_token_id": meta.integer("tokenizer.ggml.eos_token_id", 2),
    }
    if quantization is not None:
        config["quantization"] = quantization
    return config


def build_tokenizer(meta: GgufMetadata) -> Tokenizer:
    """A byte-level BPE `tokenizers.Tokenizer` from the GGUF vocabulary and merges.

    Raises:
        ToolError: the GGUF tokenizer is not GPT-2-style BPE.
    """
    # tokenizers loads only when a tokenizer is used (start-up time)
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    kind = meta.text("tokenizer.ggml.model")
    if kind != "gpt2":
        raise ToolError(
            _TOOL, f"{meta.source}: tokenizer {kind!r} is not supported (gpt2 BPE only)"
        )
    tokens = meta.texts("tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in meta.texts("tokenizer.ggml.merges")]
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))  # type: ignore[arg-type]
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if meta.text("tokenizer.ggml.pre", "default") in _DIGIT_SPLIT_PRE:
        digits = pre_tokenizers.Digits(individual_digits=True)
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([digits, byte_level])
    else:
        tokenizer.pre_tokenizer = byte_level
    tokenizer.decoder = decoders.ByteLevel()
    types = (
        meta.ints("tokenizer.ggml.token_type") if "tokenizer.ggml.token_type" in meta.values else []
    )
    added = [
        AddedToken(tokens[i], special=kind_ == _TOKEN_CONTROL, normalized=False)
        for i, kind_ in enumerate(types)
        if kind_ in (_TOKEN_CONTROL, _TOKEN_USER_DEFINED)
    ]
    tokenizer.add_tokens(added)  # control tokens are matched whole, never split into bytes
    return tokenizer


def tokenizer_config(meta: GgufMetadata) -> dict[str, Any]:
    """`tokenizer_config.json`: special tokens, BOS handling and the chat template."""
    tokens = meta.texts("tokenizer.ggml.tokens")

    def token(key: str) -> str | None:
        if key not in meta.values:
            return None
        return tokens[meta.integer(key)]

    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": token("tokenizer.ggml.bos_token_id"),
        "eos_token": token("tokenizer.ggml.eos_token_id"),
        "unk_token": token("tokenizer.ggml.unknown_token_id"),
        "pad_token": token("tokenizer.ggml.padding_token_id"),
        "add_bos_token": meta.flag("tokenizer.ggml.add_bos_token", False),
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": meta.integer("llama.context_length", 2048),
    }
    if "tokenizer.chat_template" in meta.values:
        config["chat_template"] = meta.text("tokenizer.chat_template")
    return config


def convert_arrays(
    arrays: dict[str, mx.array], meta: GgufMetadata
) -> tuple[dict[str, mx.array], dict[str, Any]]:
    """Rename GGUF arrays to the llama layout and build the matching `config.json`.

    Raises:
        ToolError: an unknown tensor, a non-llama architecture or a missing metadata key.
    """
    weights = {
        new: array for name, array in arrays.items() if (new := llama_name(name)) is not None
    }
    tied = "lm_head.weight" not in weights  # no output.weight: the head reuses the embeddings
    return weights, llama_config(meta, tied, _quantization(weights))


def write_model_dir(
    out_dir: Path, weights: dict[str, mx.array], model_config: dict[str, Any], meta: GgufMetadata
) -> list[Path]:
    """Write weights, config and tokenizer files that `mlx_lm.load(out_dir)` reads.

    Raises:
        ToolError: the GGUF tokenizer is not supported.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx

    tokenizer = build_tokenizer(meta)  # before writing anything, so a refusal leaves no debris
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / n for n in ("model.safetensors", "config.json", "tokenizer.json")]
    mx.save_safetensors(str(paths[0]), weights, metadata={"format": "mlx"})
    _write_json(paths[1], model_config)
    tokenizer.save(str(paths[2]))
    paths.append(out_dir / "tokenizer_config.json")
    _write_json(paths[3], tokenizer_config(meta))
    return paths


def import_gguf(config: GgufImportConfig) -> GgufImportReport:
    """Write an mlx-lm model directory (config, weights, tokenizer, manifest) from a GGUF file.

    Raises:
        ToolError: the file is missing or not a llama GGUF, or `out_dir` is in the way.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx

    started = time.perf_counter()
    if not config.gguf.is_file():
        raise ToolError(_TOOL, f"{config.gguf}: no such file")
    out = config.out_dir
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise ToolError(_TOOL, f"{out} is not empty; pass --overwrite or choose another dir")
    try:
        loaded = mx.load(str(config.gguf), return_metadata=True)
    except (RuntimeError, ValueError) as exc:
        raise ToolError(_TOOL, f"{config.gguf}: cannot read as GGUF ({exc})") from exc
    arrays, values = cast(tuple[dict[str, mx.array], dict[str, Any]], loaded)
    meta = GgufMetadata(dict(values), config.gguf)
    weights, model_config = convert_arrays(arrays, meta)
    written = write_model_dir(out, weights, model_config, meta)
    report = GgufImportReport(
        gguf=config.gguf,
        out_dir=out,
        architecture="llama",
        layers=model_config["num_hidden_layers"],
        hidden_size=model_config["hidden_size"],
        vocab_size=model_config["vocab_size"],
        tensors=len(weights),
        quantization=model_config.get("quantization"),
        tied_embeddings=model_config["tie_word_embeddings"],
        seconds=time.perf_counter() - started,
    )
    write_manifest(
        out / "import-gguf.manifest.json",
        Manifest(
            tool=_TOOL,
            version="1",
            inputs=[file_ref(config.gguf)],
            outputs=[file_ref(path) for path in written],
            config=config.model_dump(mode="json"),
            counts={"tensors": len(weights), "vocab": report.vocab_size},
            timings={"total": report.seconds},
        ),
    )
    return report


def _write_json(path: Path, value: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
