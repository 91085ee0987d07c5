"""Shared fixtures: a clean environment for every test, and one tiny MLX model per run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CLEARED_PREFIXES = ("SPRINTBOARD_", "OPENAI_", "OPENROUTER_")
CLEARED_NAMES = frozenset({"UPDATE_GOLDEN"})
"""A golden file is rewritten only by `--update-golden`: from the environment, every golden
test would rewrite its file and pass, whatever the code printed."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files from this run's output (each such test is skipped)",
    )


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never see the developer's keys, endpoints, workspace or golden-file switch."""
    for name in list(os.environ):
        if name.startswith(CLEARED_PREFIXES) or name in CLEARED_NAMES:
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture(autouse=True)
def no_model_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real LLM backends refuse to send; tests against a local server turn it back on."""
    from sprintboard import llm

    monkeypatch.setattr(llm, "ALLOW_MODEL_REQUESTS", False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer llama with random weights and a small BPE tokenizer, built once per run."""
    from sprintboard.tools.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
