"""Training data for the MLX tools: checked splits, tokenized rows, and seeded batch order.

mlx-lm's own batch iterator reseeds numpy's global RNG and always starts an epoch at its
first batch, so a resumed run would see different batches. `TrainBatches` instead derives
each epoch's order from (seed, epoch) and can start at any position, and validation uses
its own fixed order, so validation never moves the training order.

Distributed runs: `batch_size` is the global batch (mlx-lm's convention). mlx-lm hands the
iterators its `comm_group`; rank r of W takes rows r, r+W, ... of every global batch (rows
sorted by length, so the shards stay alike), in the same seeded order on every rank. The
ranks together see exactly the rows one process would, and `consumed` counts global
batches, so a checkpoint means the same position whatever the rank.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np

from sprintboard.errors import ToolError

__all__ = ["Split", "TrainBatches", "ValBatches", "load_split", "padded_length"]

RowFormat = Literal["text", "chat", "completions"]
_PAD_TO = 32  # mlx-lm pads each batch to one plus a multiple of 32 tokens
_VAL_STREAM = 0x7A1  # second seed word of validation's RNG, apart from training's epochs


def _row_format(row: Any) -> RowFormat | None:
    if not isinstance(row, dict):
        return None
    if "messages" in row:
        return "chat"
    if "prompt" in row and "completion" in row:
        return "completions"
    if "text" in row:
        return "text"
    return None


@dataclass
class Split:
    """One tokenized split: `items[i]` is (token ids, prompt offset) as mlx-lm makes them."""

    name: str
    path: Path
    format: RowFormat
    items: list[tuple[list[int], int]]
    lengths: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = [len(tokens) for tokens, _ in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, idx: int) -> tuple[list[int], int]:
        return self.items[idx]

    @property
    def tokens(self) -> int:
        """Total tokens in the split."""
        return sum(self.lengths)


def _read_rows(tool: str, path: Path) -> tuple[list[dict[str, Any]], RowFormat]:
    rows: list[dict[str, Any]] = []
    first: tuple[RowFormat, int] | None = None
    fix = f"normalise it with `sprintboard tools audit {path}`"
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ToolError(tool, f"{path}:{lineno}: not JSON ({exc.msg}); {fix}") from None
            fmt = _row_format(row)
            if fmt is None:
                keys = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise ToolError(
                    tool,
                    f"{path}:{lineno}: unknown row format (keys {keys}); expected `messages`, "
                    f"`prompt`+`completion` or `text`; {fix}",
                )
            if first is None:
                first = (fmt, lineno)
            elif fmt != first[0]:
                raise ToolError(
                    tool,
                    f"{path}:{lineno}: mixed data formats ({first[0]} at line {first[1]}, "
                    f"{fmt} here); {fix}",
                )
            rows.append(row)
    if first is None:
        raise ToolError(tool, f"{path}: the split is empty")
    return rows, first[0]


def load_split(
    tool: str,
    data_dir: Path,
    name: str,
    tokenizer: Any,
    *,
    batch_size: int,
    max_seq_length: int,
    allow_truncation: bool = False,
    mask_prompt: bool = False,
) -> Split:
    """Read, check and tokenize `data_dir/<name>.jsonl` with mlx-lm's dataset classes.

    Raises:
        ToolError: the file is missing, malformed or of mixed formats, has fewer rows than
            `batch_size`, needs a chat template the tokenizer lacks, or has rows longer than
            `max_seq_length` (unless `allow_truncation`).
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    from mlx_lm.tuner.datasets import create_dataset

    path = data_dir / f"{name}.jsonl"
    if not path.is_file():
        raise ToolError(
            tool,
            f"{path}: missing; the data directory needs train/valid/test.jsonl "
            "(`sprintboard tools split` writes them)",
        )
    rows, fmt = _read_rows(tool, path)
    if len(rows) < batch_size:
        raise ToolError(
            tool,
            f"{path}: {len(rows)} rows is fewer than the batch size {batch_size}; add rows "
            "or lower `batch_size`",
        )
    if fmt != "text" and not getattr(tokenizer, "chat_template", None):
        raise ToolError(
            tool,
            f"{path}: {fmt} rows need a chat template, and the tokenizer has none; add "
            "`chat_template` to tokenizer_config.json or use `text` rows",
        )
    if mask_prompt and fmt == "text":
        raise ToolError(tool, f"{path}: `mask_prompt` needs chat or completions rows, not text")
    dataset = create_dataset(rows, tokenizer, SimpleNamespace(mask_prompt=mask_prompt))
    items = [dataset.process(row) for row in rows]
    split = Split(name, path, fmt, [(list(tokens), int(offset)) for tokens, offset in items])
    too_long = sum(1 for n in split.lengths if n > max_seq_length)
    if too_long and not allow_truncation:
        raise ToolError(
            tool,
            f"{path}: {too_long} of {len(split)} rows are longer than max_seq_length "
            f"{max_seq_length} tokens (longest {max(split.lengths)}) and would be truncated; "
            "raise `max_seq_length`, split the rows, or set `allow_truncation`",
        )
    return split


def padded_length(longest: int, max_seq_length: int) -> int:
    """Width of a batch whose longest row is `longest` tokens, as mlx-lm pads it."""
    return min(1 + _PAD_TO * ((longest + _PAD_TO - 1) // _PAD_TO), max_seq_length)


def _collate(split: Split, indices: list[int], max_seq_length: int) -> tuple[Any, Any]:
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx

    lengths = [min(split.lengths[i], max_seq_length) for i in indices]
    width = padded_length(max(split.lengths[i] for i in indices), max_seq_length)
    batch = np.zeros((len(indices), width), np.int32)
    for row, (i, n) in enumerate(zip(indices, lengths, strict=True)):
        batch[row, :n] = split.items[i][0][:n]
    offsets = [split.items[i][1] for i in indices]
    return mx.array(batch), mx.array(list(zip(offsets, lengths, strict=True)))


def _shard(indices: list[int], comm_group: Any) -> list[int]:
    """This rank's rows of a global batch (all of them outside a distributed run)."""
    if comm_group is None or comm_group.size() == 1:
        return indices
    return indices[comm_group.rank() :: comm_group.size()]


def _length_batches(split: Split, batch_size: int) -> list[list[int]]:
    # Like mlx-lm: rows of similar length share a batch, so little is padding.
    order = sorted(range(len(split)), key=split.lengths.__getitem__)
    return [order[i : i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]


class TrainBatches:
    """Training batches in a seeded order that can restart at any position.

    Epoch `e` visits the length-grouped batches in `default_rng([seed, e])` order, so the
    batch at position `p` depends only on (seed, p). `consumed` counts global batches
    handed out. Call it like mlx-lm's `iterate_batches` (it is passed to `trainer.train`).
    """

    def __init__(self, split: Split, batch_size: int, seed: int, start: int = 0) -> None:
        self.split, self.seed, self.consumed = split, seed, start
        self.batches = _length_batches(split, batch_size)

    @property
    def per_epoch(self) -> int:
        """Batches in one pass over the split."""
        return len(self.batches)

    def __call__(
        self,
        dataset: Any,
        batch_size: int,
        max_seq_length: int,
        comm_group: Any = None,
        **_: Any,
    ) -> Iterator[tuple[Any, Any]]:
        """Yield this rank's shard of each batch from position `consumed` on, forever."""
        while True:
            epoch, index = divmod(self.consumed, self.per_epoch)
            order = np.random.default_rng([self.seed, epoch]).permutation(self.per_epoch)
            rows = _shard(self.batches[int(order[index])], comm_group)
            batch = _collate(self.split, rows, max_seq_length)
            self.consumed += 1
            yield batch


class ValBatches:
    """Validation or test batches in one fixed seeded order, the same at every evaluation."""

    def __init__(self, split: Split, batch_size: int, seed: int) -> None:
        self.split = split
        batches = _length_batches(split, batch_size)
        order = np.random.default_rng([seed, _VAL_STREAM]).permutation(len(batches))
        self.batches = [batches[int(i)] for i in order]

    def __call__(
        self,
        dataset: Any,
        batch_size: int,
        max_seq_length: int,
        comm_group: Any = None,
        **_: Any,
    ) -> Iterator[tuple[Any, Any]]:
        """Yield this rank's shard of each batch once (mlx-lm sums the ranks' losses)."""
        for indices in self.batches:
            yield _collate(self.split, _shard(indices, comm_group), max_seq_length)
