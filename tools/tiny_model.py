"""A tiny llama with random weights and a small BPE tokenizer, for tests and the demo.

Nothing can be downloaded from a model hub in tests or in the offline demo, so this builds a
complete model directory (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json with a chat template) that `mlx_lm.load` accepts, in about a second.
`build_tiny_dataset` writes matching train/valid/test JSONL splits.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Literal

__all__ = ["CHAT_TEMPLATE", "TINY_SENTENCES", "build_tiny_dataset", "build_tiny_model"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}</s>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
"""Jinja chat template of the tiny tokenizer: one role token per turn, `</s>` after each."""

_SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]

TINY_SENTENCES: tuple[str, ...] = (
    "The board keeps one journal and every change is an event.",
    "A builder claims a task, runs its steps and submits the result.",
    "The auditor checks each acceptance criterion before a task is done.",
    "Leases expire when an agent stops sending heartbeats.",
    "People edit the kanban file and the owner merges their change.",
    "The planner writes a backlog with estimates and dependencies.",
    "A message is signed, delivered at least once and handled once.",
    "Training loss goes down when the learning rate is right.",
    "Validation loss tells whether the adapter generalises.",
    "The fused model is the base model with the adapter merged in.",
    "Standups are built from the journal, the same input gives the same text.",
    "Quantized weights take four bits and a scale per group.",
)
"""Built-in sentences the tokenizer is trained on and the tiny datasets are made of."""


def _train_tokenizer(vocab_size: int) -> object:
    # tokenizers loads only when a tokenizer is used (start-up time)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Repeat the corpus so merges are learnt from more than one count per pair.
    tokenizer.train_from_iterator(list(TINY_SENTENCES) * 4, trainer=trainer)
    return tokenizer


def build_tiny_model(
    out_dir: Path, *, hidden_size: int = 64, num_layers: int = 2, seed: int = 0
) -> Path:
    """Write a random-weight llama and its tokenizer to `out_dir` and return the directory.

    The model loads with `mlx_lm.load(out_dir)`; weights depend only on `seed`.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(vocab_size=384)
    tokenizer.save(str(out_dir / "tokenizer.json"))  # type: ignore[attr-defined]
    vocab_size = int(tokenizer.get_vocab_size())  # type: ignore[attr-defined]
    ids = {tok: int(tokenizer.token_to_id(tok)) for tok in _SPECIAL_TOKENS}  # type: ignore[attr-defined]

    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "intermediate_size": hidden_size * 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab_size,
        "max_position_embeddings": 1024,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "bos_token_id": ids["<s>"],
        "eos_token_id": ids["</s>"],
        "pad_token_id": ids["<pad>"],
        "torch_dtype": "float32",
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "model_max_length": 1024,
        "add_bos_token": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config, indent=2), encoding="utf-8"
    )
    special_map = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special_map), encoding="utf-8")

    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))  # type: ignore[no-untyped-call]
    weights = dict(tree_flatten(model.parameters()))
    mx.save_safetensors(str(out_dir / "model.safetensors"), weights, metadata={"format": "mlx"})
    return out_dir


Format = Literal["text", "chat", "completions"]


def build_tiny_dataset(
    out_dir: Path,
    *,
    fmt: Format = "chat",
    sizes: tuple[int, int, int] = (48, 12, 12),
    seed: int = 0,
) -> Path:
    """Write train/valid/test JSONL splits of `sizes` rows made of `TINY_SENTENCES`.

    Each row pairs a question about a sentence with the sentence, so a model can learn it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for name, count in zip(("train", "valid", "test"), sizes, strict=True):
        lines = []
        for _ in range(count):
            sentence = rng.choice(TINY_SENTENCES)
            prompt = f"Repeat: {' '.join(sentence.split()[:3])}"
            if fmt == "text":
                row: dict[str, object] = {"text": f"{prompt} {sentence}"}
            elif fmt == "completions":
                row = {"prompt": prompt, "completion": sentence}
            else:
                row = {
                    "messages": [
                        {"role": "user", "content": prompt},
                        {"role": "assistant", "content": sentence},
                    ]
                }
            lines.append(json.dumps(row))
        (out_dir / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out_dir
