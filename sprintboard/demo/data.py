"""The demo's dataset: five chat sources with the faults real scraped data has, seeded.

Each source is a JSONL file of `{"messages": [...]}` rows built from the tiny model's
sentences (its tokenizer was trained on them, so a few LoRA iterations move the loss).
Planted faults, so the audit and dedup tasks have something to find:

- empty assistant turns (`assistant` content `""`),
- role alternation errors (two `user` turns in a row),
- exact duplicates (the same row twice, within a source and across two sources),
- near duplicates (one word changed),
- a truncated last line (a JSON object cut in the middle, as a killed writer leaves it).

Same `seed` and `scale`, same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from sprintboard.tools.tiny_model import TINY_SENTENCES

__all__ = ["SOURCES", "DatasetSummary", "Source", "SourceSummary", "write_dataset"]


@dataclass(frozen=True, slots=True)
class Source:
    """One source of the mix: its file stem, its share of the mix, and its size at scale 1."""

    name: str
    share: int
    """Percent of the mixed dataset (the five add up to 100)."""
    rows: int


SOURCES: tuple[Source, ...] = (
    Source("support", 40, 160),
    Source("tutorials", 25, 100),
    Source("forum", 20, 80),
    Source("docs_qa", 10, 48),
    Source("smalltalk", 5, 32),
)
"""The five sources and their 40/25/20/10/5 shares."""

_QUESTIONS = (
    "What does the board do, case {n}?",
    "Explain step {n} of the sprint.",
    "Tell me about item {n}.",
    "Why does rule {n} matter?",
)


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What was planted in one source file."""

    name: str
    path: Path
    rows: int
    """Lines written, faults included."""
    empty_assistant: int
    role_errors: int
    exact_duplicates: int
    near_duplicates: int
    truncated: int


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    """The files written and what each holds."""

    sources: tuple[SourceSummary, ...]

    @property
    def paths(self) -> list[Path]:
        return [s.path for s in self.sources]


def _row(rng: random.Random, source: str, n: int) -> dict[str, list[dict[str, str]]]:
    question = rng.choice(_QUESTIONS).format(n=f"{source}-{n}")
    answer = " ".join(rng.sample(TINY_SENTENCES, 2))
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def _near(row: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    """The same row with one word of the answer changed (a near duplicate)."""
    user, assistant = row["messages"]
    words = assistant["content"].split()
    words[-1] = words[-1].rstrip(".") + "!"
    return {"messages": [dict(user), {"role": "assistant", "content": " ".join(words)}]}


def _dump(row: object) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


def write_dataset(folder: Path, *, scale: float = 1.0, seed: int = 7) -> DatasetSummary:
    """Write the five sources into `folder` (`<name>.jsonl`) and say what was planted.

    `scale` multiplies every source's size (at least 12 rows each, so each fault fits).
    """
    folder.mkdir(parents=True, exist_ok=True)
    summaries = []
    shared: list[str] = []  # a row that also appears in the next source: a cross-source duplicate
    for index, source in enumerate(SOURCES):
        rng = random.Random(f"{seed}:{source.name}")
        count = max(12, round(source.rows * scale))
        lines = [_dump(_row(rng, source.name, n)) for n in range(count)]
        # Faults at seeded positions; each position is used once.
        spots = rng.sample(range(1, count - 1), 6)
        empty = json.loads(lines[spots[0]])
        empty["messages"][1]["content"] = ""
        lines[spots[0]] = _dump(empty)
        twice_user = json.loads(lines[spots[1]])
        twice_user["messages"].insert(1, {"role": "user", "content": "And also this?"})
        lines[spots[1]] = _dump(twice_user)
        lines[spots[2]] = lines[spots[3]]  # an exact duplicate within the source
        lines[spots[4]] = _dump(_near(json.loads(lines[spots[5]])))
        exact = 1
        if shared:
            lines.insert(len(lines) // 2, shared[-1])
            exact += 1
        shared.append(lines[spots[5]])
        truncated = 0
        if index == len(SOURCES) - 1:  # a writer killed mid-line: the last line is cut short
            lines[-1] = lines[-1][: len(lines[-1]) // 2]
            truncated = 1
        path = folder / f"{source.name}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + ("" if truncated else "\n"))
        summaries.append(
            SourceSummary(
                name=source.name,
                path=path,
                rows=len(lines),
                empty_assistant=1,
                role_errors=1,
                exact_duplicates=exact,
                near_duplicates=1,
                truncated=truncated,
            )
        )
    return DatasetSummary(tuple(summaries))
