"""A dry-run memory estimate for LoRA/QLoRA training, from config.json alone (no mlx).

The estimate is the sum of four parts:

- weights: every base parameter at its precision (float32 4 bytes, float16/bfloat16 2;
  4-bit quantized layers 0.5 byte plus a float16 scale and bias per group of 64);
- LoRA: `rank * (in + out)` float32 parameters per adapted linear layer;
- optimizer: a float32 gradient and two Adam moments per LoRA parameter (12 bytes);
- activations: what the backward pass keeps per token and layer (inputs of the norms,
  projections and MLP, plus the attention scores), and the logits with their softmax and
  gradient; with gradient checkpointing only the block inputs plus one block are kept.

It is an estimate: the allocator's cache and mlx's temporaries come on top, which is why
the measured peak is reported after training as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sprintboard.tools.train_config import MemoryEstimate

__all__ = ["ModelShape", "estimate_memory", "format_bytes"]

_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
_QUANT_GROUP = 64


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder-only transformer that memory depends on."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    dtype_bytes: int
    quant_bits: int | None
    """Bits of the already-quantized base, if it is quantized."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """Read the sizes from a Hugging Face style config.json dict.

        Raises:
            KeyError: a size that every supported architecture has is missing.
        """
        text = config.get("text_config", config)
        hidden = int(text["hidden_size"])
        heads = int(text["num_attention_heads"])
        quant = config.get("quantization") or config.get("quantization_config") or {}
        return cls(
            hidden=hidden,
            intermediate=int(text.get("intermediate_size", 4 * hidden)),
            layers=int(text["num_hidden_layers"]),
            heads=heads,
            kv_heads=int(text.get("num_key_value_heads") or heads),
            head_dim=int(text.get("head_dim") or hidden // heads),
            vocab=int(text["vocab_size"]),
            tied_embeddings=bool(text.get("tie_word_embeddings", True)),
            dtype_bytes=_DTYPE_BYTES.get(str(config.get("torch_dtype", "float16")), 2),
            quant_bits=int(quant["bits"]) if "bits" in quant else None,
        )

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of each linear layer in one block: q, k, v, o, gate, up, down."""
        q = self.heads * self.head_dim
        kv = self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]


def _quantized_bytes(params: int, bits: int) -> int:
    # Each group of 64 weights carries a float16 scale and a float16 bias.
    return params * bits // 8 + (params // _QUANT_GROUP) * 4


def estimate_memory(
    shape: ModelShape,
    *,
    quantize_bits: int | None,
    rank: int,
    lora_layers: int,
    batch_size: int,
    seq_len: int,
    grad_checkpoint: bool,
) -> MemoryEstimate:
    """Estimate the bytes a training step needs; `lora_layers` -1 means every block."""
    per_block_linear = sum(a * b for a, b in shape.linear_shapes())
    embed = shape.vocab * shape.hidden * (1 if shape.tied_embeddings else 2)
    linear_params = per_block_linear * shape.layers + embed
    norm_params = shape.hidden * (2 * shape.layers + 1)
    bits = quantize_bits or shape.quant_bits
    if bits is not None:
        weights = _quantized_bytes(linear_params, bits) + norm_params * shape.dtype_bytes
    else:
        weights = (linear_params + norm_params) * shape.dtype_bytes

    adapted = shape.layers if lora_layers < 0 else min(lora_layers, shape.layers)
    lora_params = adapted * sum(rank * (a + b) for a, b in shape.linear_shapes())
    lora = lora_params * 4
    optimizer = lora_params * 12

    tokens = batch_size * seq_len
    act = 2 if bits is not None else shape.dtype_bytes  # quantized layers compute in float16
    h, i = shape.hidden, shape.intermediate
    kv = shape.kv_heads * shape.head_dim
    per_token_block = act * (6 * h + 2 * kv + 4 * i + 2 * shape.heads * seq_len)
    if grad_checkpoint:
        blocks = tokens * (act * h * shape.layers + per_token_block)
    else:
        blocks = tokens * per_token_block * shape.layers
    logits = tokens * shape.vocab * 4 * 3  # float32 logits, log-softmax and their gradient
    activations = blocks + logits

    total = weights + lora + optimizer + activations
    return MemoryEstimate(
        weights=weights,
        lora=lora,
        optimizer=optimizer,
        activations=activations,
        total=total,
        lora_parameters=lora_params,
    )


def format_bytes(n: float) -> str:
    """Bytes as a short human string in decimal units (`1.23 GB`)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"
