"""Dataset fixtures for the dataset-tool tests (audit, dedup, mix, split, leakage).

Names start with `ds_` so they never collide with the training tests' fixtures.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "so", "ta", "vi", "zo", "pe", "qu", "da", "fi", "go"]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(words)
    )


@pytest.fixture
def ds_chat() -> Callable[[int, int], dict[str, Any]]:
    """A distinct, realistic-looking chat row per seed (`words` words in the assistant turn)."""

    def make(seed: int, words: int = 150) -> dict[str, Any]:
        rng = random.Random(seed)
        return {
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": _sentence(rng, 15) + "?"},
                {"role": "assistant", "content": _sentence(rng, words) + "."},
            ]
        }

    return make


@pytest.fixture
def ds_write() -> Callable[[Path, Iterable[dict[str, Any] | bytes]], Path]:
    """Write rows (dicts as JSON, bytes verbatim) one per line."""

    def write(path: Path, rows: Iterable[dict[str, Any] | bytes]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [r if isinstance(r, bytes) else orjson.dumps(r) for r in rows]
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        return path

    return write


def ds_near_copy(row: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same row with one word of the assistant turn changed (Jaccard well above 0.9)."""
    rng = random.Random(seed)
    msgs = [dict(m) for m in row["messages"]]
    words = msgs[-1]["content"].split()
    words[rng.randrange(len(words))] = "CHANGED"
    msgs[-1]["content"] = " ".join(words)
    return {"messages": msgs}


@pytest.fixture
def ds_near() -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """See `ds_near_copy`."""
    return ds_near_copy
