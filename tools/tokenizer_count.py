"""Count tokens with a Hugging Face `tokenizer.json`, for the audit's token-length checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sprintboard.errors import ToolError

__all__ = ["load_token_counter"]


def load_token_counter(path: Path) -> Callable[[str], int]:
    """A function giving the number of tokens in a text (no special tokens added).

    `path` is a tokenizer.json or a model directory that holds one.

    Raises:
        ToolError: no tokenizer.json there, or it does not load.
    """
    # tokenizers loads only when a tokenizer is used (start-up time)
    from tokenizers import Tokenizer

    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise ToolError("audit", f"{file}: no tokenizer.json; pass a tokenizer file or model dir")
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as exc:  # tokenizers raises its own untyped errors
        raise ToolError("audit", f"{file}: tokenizer does not load ({exc})") from exc

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count
