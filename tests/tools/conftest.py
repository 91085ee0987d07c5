"""Dataset fixtures for the dataset-tool tests (audit, dedup, mix, split, leakage).

Names start with `ds_` so they never collide with the training tests' fixtures.
"""

from __future__ import annotations

import json
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


_WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "café", "naïve", "中文", "😀", "x"]


def _text(draw: Callable[..., Any], low: int = 3, high: int = 24) -> str:
    from hypothesis import strategies as st

    return " ".join(draw(st.lists(st.sampled_from(_WORDS), min_size=low, max_size=high)))


def _variant(draw: Callable[..., Any], msgs: list[dict[str, Any]]) -> bytes:
    """The same conversation written another way: escapes, spacing, key order, padding."""
    from hypothesis import strategies as st

    how = draw(st.sampled_from(["ascii", "spaced", "reordered", "padded", "meta"]))
    if how == "ascii":
        return json.dumps({"messages": msgs}, ensure_ascii=True).encode()
    if how == "spaced":
        return json.dumps(
            {"messages": msgs}, separators=(" , ", " : "), ensure_ascii=False
        ).encode()
    if how == "reordered":
        return orjson.dumps(
            {"messages": [{"content": m["content"], "role": m["role"]} for m in msgs]}
        )
    if how == "padded":
        return orjson.dumps({"messages": [{**m, "content": f" {m['content']}\n"} for m in msgs]})
    return orjson.dumps({"id": 7, "messages": msgs})  # extra key: a warning, still a duplicate


_FAULTS = [
    b"",
    b"   ",
    b"{bad",
    b"[1, 2]",
    b'"just a string"',
    b'{"messages": "not a list"}',
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]}',
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]}',
    b'{"messages": [{"role": "user", "content": "hi"}]}',
    b'{"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "a"}]}',
    b'{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}',
    b'{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "a"}]}',
    b'{"prompt": "p", "completion": "c"}',
    b'{"unknown": 1}',
    b"\xff\xfe{}",
    b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": null,'
    b' "tool_calls": [{"id": "1"}]}, {"role": "tool", "content": "r"},'
    b' {"role": "assistant", "content": "done"}]}',
    b'{"messages": [{"role": "user", "content": "q", "name": "n"},'
    b' {"role": "assistant", "content": "a"}]}\r',
]


def draw_corpus(draw: Callable[..., Any]) -> tuple[list[bytes], bool]:
    """Lines of one generated JSONL file (chat rows, exact and near duplicates written other
    ways, faults of every kind) and whether its last line ends in a newline."""
    from hypothesis import strategies as st

    lines: list[bytes] = []
    originals: list[list[dict[str, Any]]] = []
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(["chat", "chat", "chat", "dup", "near", "fault"]))
        if kind == "dup" and originals:
            lines.append(_variant(draw, draw(st.sampled_from(originals))))
        elif kind == "near" and originals:
            msgs = [dict(m) for m in draw(st.sampled_from(originals))]
            words = msgs[-1]["content"].split()
            words[draw(st.integers(0, len(words) - 1))] = "CHANGED"
            msgs[-1]["content"] = " ".join(words)
            lines.append(orjson.dumps({"messages": msgs}))
        elif kind == "fault":
            lines.append(draw(st.sampled_from(_FAULTS)))
        else:
            msgs = []
            if draw(st.booleans()):
                msgs.append({"role": "system", "content": "Be brief."})
            for _ in range(draw(st.integers(1, 3))):
                msgs.append({"role": "user", "content": _text(draw) + "?"})
                msgs.append({"role": "assistant", "content": _text(draw, 6, 40) + "."})
            originals.append(msgs)
            lines.append(orjson.dumps({"messages": msgs}))
    # An empty last line without a newline after it is no line at all: the file ends with
    # the newline of the line before, so such a corpus always ends in a newline.
    return lines, draw(st.booleans()) or lines[-1:] == [b""]


@pytest.fixture
def ds_corpus() -> Callable[[Callable[..., Any]], tuple[list[bytes], bool]]:
    """See `draw_corpus` (pass `data.draw` from hypothesis' `st.data()`)."""
    return draw_corpus


def write_corpus(folder: Path, files: list[tuple[list[bytes], bool]]) -> list[Path]:
    """Write generated files (`draw_corpus`'s lines and newline-at-end flag) as src<i>.jsonl."""
    paths = []
    for i, (lines, newline_at_end) in enumerate(files):
        path = folder / f"src{i}.jsonl"
        path.write_bytes(b"\n".join(lines) + (b"\n" if lines and newline_at_end else b""))
        paths.append(path)
    return paths


def tool_outputs(out: Path) -> dict[str, Any]:
    """Every file under `out` by relative path; manifests without what may differ between
    runs that must give the same bytes (their timestamp, timings and the engine's name)."""
    found: dict[str, Any] = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            name = str(path.relative_to(out))
            if path.name.endswith("manifest.json"):
                manifest = json.loads(path.read_text(encoding="utf-8"))
                for varies in ("created", "timings", "engine"):
                    manifest.pop(varies)
                found[name] = manifest
            else:
                found[name] = path.read_bytes()
    return found


@pytest.fixture
def ds_write_corpus() -> Callable[[Path, list[tuple[list[bytes], bool]]], list[Path]]:
    """See `write_corpus`."""
    return write_corpus


@pytest.fixture
def ds_outputs() -> Callable[[Path], dict[str, Any]]:
    """See `tool_outputs`."""
    return tool_outputs
