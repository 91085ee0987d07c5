"""Agent fixtures: a workspace with three Builders, a small generated dataset, a tiny model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sprintboard.tools.tiny_model import TINY_SENTENCES

CONFIG = """\
[board]
owner = "alpha"
default_ttl = 900

[[hosts]]
name = "alpha"
caps = ["mlx"]

[[agents]]
name = "planner-1"
role = "planner"
host = "alpha"

[[agents]]
name = "negotiator-1"
role = "negotiator"
host = "alpha"

[[agents]]
name = "auditor-1"
role = "auditor"
host = "alpha"

{builders}
[wip]
builder = {role_wip}

[auditor]
allow_commands = {allow}
"""


def write_config(
    root: Path, *, builders: int = 3, role_wip: int = 3, allow: list[str] | None = None
) -> None:
    """Write sprintboard.toml: `builders` Builders on alpha with WIP 1 each."""
    seats = "".join(
        f'[[agents]]\nname = "builder-{n}"\nrole = "builder"\nhost = "alpha"\nwip = 1\n\n'
        for n in range(1, builders + 1)
    )
    text = CONFIG.format(builders=seats, role_wip=role_wip, allow=json.dumps(allow or []))
    (root / "sprintboard.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace folder (no git) with three Builders of WIP 1 and a role WIP of 3."""
    root = tmp_path / "ws"
    root.mkdir()
    write_config(root)
    return root


def write_sources(root: Path, count: int = 4, rows: int = 30) -> list[str]:
    """`count` chat JSONL sources of distinct rows made of the tiny model's sentences."""
    paths = []
    for s in range(count):
        path = root / "data" / f"src{s}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(rows):
            sentence = TINY_SENTENCES[(i + s) % len(TINY_SENTENCES)]
            prompt = f"Repeat line {s * 100 + i}: {' '.join(sentence.split()[:3])}"
            row = {
                "messages": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": sentence},
                ]
            }
            lines.append(json.dumps(row))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path.relative_to(root).as_posix())
    return paths


@pytest.fixture
def configure() -> Callable[..., None]:
    """`write_config` for tests that need other Builders or an allow-list."""
    return write_config


@pytest.fixture
def sources() -> Callable[..., list[str]]:
    return write_sources
