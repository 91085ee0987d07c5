"""GGUF import: a real GGUF written by mlx from the tiny test model, imported and compared.

mlx can write float GGUF files (`mx.save_gguf`) but not quantized ones, so the file-level test
uses float weights; the quantized path (packed weight + scales + biases, group 32) is tested
on arrays from `mx.quantize`, through the same conversion and loader. The GGUF side stores
Q/K rows permuted the way llama.cpp's converter does, so matching logits prove the
`rope_traditional` setting, the name mapping and the tied head together.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import pytest
from mlx.utils import tree_flatten
from mlx_lm.utils import load

from sprintboard.cli import main
from sprintboard.errors import ToolError
from sprintboard.tools.gguf_import import (
    GgufImportConfig,
    GgufMetadata,
    build_tokenizer,
    convert_arrays,
    import_gguf,
    llama_name,
    write_model_dir,
)

_BLOCK_PARTS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
TEXTS = ["The board keeps one journal.", "Leases expire in 2026, café!", "  spaced\nlines  "]


def gguf_name(name: str) -> str:
    """The llama.cpp name of an mlx-lm llama tensor (written out here, not taken from the code)."""
    if name.startswith("model.embed_tokens."):
        return "token_embd." + name.rsplit(".", 1)[1]
    if name == "model.norm.weight":
        return "output_norm.weight"
    _, _, layer, rest = name.split(".", 3)
    module, kind = rest.rsplit(".", 1)
    return f"blk.{layer}.{_BLOCK_PARTS[module]}.{kind}"


def llama_cpp_permute(weight: mx.array, heads: int) -> mx.array:
    """What llama.cpp's convert_hf_to_gguf does to Q/K rows for its interleaved rope."""
    rows = weight.shape[0]
    return (
        weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def gguf_metadata(model_dir: Path, pre: str = "gpt2") -> dict[str, Any]:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda item: item[1])
    special = {added["content"] for added in tok["added_tokens"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]

    def u32(value: int) -> mx.array:
        return mx.array(value, dtype=mx.uint32)

    return {
        "general.architecture": "llama",
        "llama.block_count": u32(config["num_hidden_layers"]),
        "llama.embedding_length": u32(config["hidden_size"]),
        "llama.feed_forward_length": u32(config["intermediate_size"]),
        "llama.attention.head_count": u32(config["num_attention_heads"]),
        "llama.attention.head_count_kv": u32(config["num_key_value_heads"]),
        "llama.attention.layer_norm_rms_epsilon": mx.array(config["rms_norm_eps"]),
        "llama.rope.freq_base": mx.array(config["rope_theta"]),
        "llama.context_length": u32(config["max_position_embeddings"]),
        "llama.vocab_size": u32(config["vocab_size"]),
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": pre,
        "tokenizer.ggml.tokens": [token for token, _ in vocab],
        "tokenizer.ggml.token_type": mx.array(
            [3 if t in special else 1 for t, _ in vocab], dtype=mx.int32
        ),
        "tokenizer.ggml.merges": merges,
        "tokenizer.ggml.bos_token_id": u32(config["bos_token_id"]),
        "tokenizer.ggml.eos_token_id": u32(config["eos_token_id"]),
        "tokenizer.ggml.add_bos_token": mx.array(False),
        "tokenizer.chat_template": tok_config["chat_template"],
    }


def gguf_arrays(model_dir: Path, *, quantize: bool) -> dict[str, mx.array]:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    arrays: dict[str, mx.array] = {}
    for name, weight in mx.load(str(model_dir / "model.safetensors")).items():  # type: ignore[union-attr]
        if ".q_proj." in name:
            weight = llama_cpp_permute(weight, config["num_attention_heads"])
        elif ".k_proj." in name:
            weight = llama_cpp_permute(weight, config["num_key_value_heads"])
        base = gguf_name(name)[: -len(".weight")]
        if quantize and weight.ndim == 2:
            packed, scales, biases = mx.quantize(weight, group_size=32, bits=4)
            arrays |= {f"{base}.weight": packed, f"{base}.scales": scales, f"{base}.biases": biases}
        else:
            arrays[f"{base}.weight"] = weight
    return arrays


def logits(model: nn.Module, ids: list[int]) -> mx.array:
    return model(mx.array([ids]))[0]


IDS = [5, 17, 42, 99, 7, 200, 3, 150]


def test_float_gguf_imports_to_a_model_that_matches_the_original(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gguf = tmp_path / "tiny.gguf"
    mx.save_gguf(str(gguf), gguf_arrays(tiny_model, quantize=False), gguf_metadata(tiny_model))
    main(["models", "import-gguf", str(gguf), str(tmp_path / "out"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (report["layers"], report["vocab_size"], report["tensors"]) == (2, 384, 20)

    config = json.loads((tmp_path / "out" / "config.json").read_text(encoding="utf-8"))
    assert config["rope_traditional"] is True and config["tie_word_embeddings"] is True
    assert "quantization" not in config
    imported, imported_tok = load(str(tmp_path / "out"))
    original, original_tok = load(str(tiny_model))
    assert mx.allclose(logits(imported, IDS), logits(original, IDS), atol=1e-4).item()

    for text in TEXTS:
        assert imported_tok.encode(text) == original_tok.encode(text)
        assert imported_tok.decode(imported_tok.encode(text)) == text
    chat = [{"role": "user", "content": "Next task?"}]
    assert imported_tok.apply_chat_template(chat, add_generation_prompt=True) == (
        original_tok.apply_chat_template(chat, add_generation_prompt=True)
    )
    assert imported_tok.eos_token_id == original_tok.eos_token_id
    assert imported_tok.encode("<|user|>hi</s>")[0] == original_tok.convert_tokens_to_ids(
        "<|user|>"
    )
    assert (tmp_path / "out" / "import-gguf.manifest.json").is_file()


def test_quantized_arrays_import_matches_the_quantized_original(
    tiny_model: Path, tmp_path: Path
) -> None:
    meta = GgufMetadata(gguf_metadata(tiny_model))
    weights, config = convert_arrays(gguf_arrays(tiny_model, quantize=True), meta)
    assert config["quantization"] == {"bits": 4, "group_size": 32}
    assert weights["model.embed_tokens.scales"].shape[-1] == config["hidden_size"] // 32
    write_model_dir(tmp_path / "q", weights, config, meta)

    imported, _ = load(str(tmp_path / "q"))
    reference, _ = load(str(tiny_model))
    nn.quantize(reference, group_size=32, bits=4)
    assert any(".scales" in name for name, _ in tree_flatten(imported.parameters()))
    assert mx.allclose(logits(imported, IDS), logits(reference, IDS), atol=1e-3).item()


def test_names_map_to_the_llama_layout() -> None:
    assert llama_name("token_embd.weight") == "model.embed_tokens.weight"
    assert llama_name("output.weight") == "lm_head.weight"
    assert llama_name("output_norm.weight") == "model.norm.weight"
    assert llama_name("blk.12.attn_output.scales") == "model.layers.12.self_attn.o_proj.scales"
    assert llama_name("blk.0.ffn_down.biases") == "model.layers.0.mlp.down_proj.biases"
    assert llama_name("rope_freqs.weight") is None
    with pytest.raises(ToolError, match="blk.0.ssm_in.weight"):
        llama_name("blk.0.ssm_in.weight")


def test_smollm_pre_tokenizer_splits_digits(tiny_model: Path) -> None:
    plain = build_tokenizer(GgufMetadata(gguf_metadata(tiny_model, pre="gpt2")))
    assert plain.pre_tokenizer is not None
    assert "2026" in "".join(p for p, _ in plain.pre_tokenizer.pre_tokenize_str("in 2026"))
    digits = build_tokenizer(GgufMetadata(gguf_metadata(tiny_model, pre="smollm")))
    assert digits.pre_tokenizer is not None
    pieces = [p for p, _ in digits.pre_tokenizer.pre_tokenize_str("in 2026")]
    assert pieces == ["in", "Ġ", "2", "0", "2", "6"]
    assert digits.decode(digits.encode("in 2026").ids) == "in 2026"


def test_metadata_reads_flags_and_names_missing_keys() -> None:
    meta = GgufMetadata({"a": mx.array([], dtype=mx.bool_), "b": mx.array(True)}, "x.gguf")
    assert meta.flag("a", default=True) is True and meta.flag("b", default=False) is True
    assert meta.flag("missing", default=False) is False
    with pytest.raises(ToolError, match=r"x.gguf: metadata key 'llama.block_count' is missing"):
        meta.integer("llama.block_count")


def test_refusals(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no such file"):
        import_gguf(GgufImportConfig(gguf=tmp_path / "nope.gguf", out_dir=tmp_path / "o"))
    meta = gguf_metadata(tiny_model) | {"general.architecture": "qwen3moe"}
    gguf = tmp_path / "other.gguf"
    mx.save_gguf(str(gguf), {"token_embd.weight": mx.zeros((4, 4))}, meta)
    with pytest.raises(ToolError, match="'qwen3moe' is not supported"):
        import_gguf(GgufImportConfig(gguf=gguf, out_dir=tmp_path / "o"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ToolError, match="not empty"):
        import_gguf(GgufImportConfig(gguf=gguf, out_dir=tmp_path / "busy"))


def test_importing_the_tools_loads_no_mlx_and_no_other_room() -> None:
    code = (
        "import sys, sprintboard.tools.gguf_import, sprintboard.tools.serve; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('mlx', 'sprintboard.')))))"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(out.stdout.split())
    assert not any(m.startswith("mlx") for m in loaded), loaded
    assert all(m.split(".")[1] in {"tools", "errors", "files"} for m in loaded), loaded
