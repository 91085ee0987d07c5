"""Shared fixtures: a clean environment for every test, and one tiny MLX model per run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
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


CliRun = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRun:
    """Run the CLI in-process: `cli("status", "-w", ws)` -> (exit code, stdout, stderr)."""
    from sprintboard.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()  # only this command's output
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer llama with random weights and a small BPE tokenizer, built once per run."""
    from sprintboard.tools.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """One private PostgreSQL server for the whole run (board/pg/cluster.py), or a skip
    that says why none can start here."""
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from sprintboard.board.pg.cluster import PrivateCluster
    from sprintboard.errors import StoreUnavailable

    cluster = PrivateCluster(durable=False)
    try:
        cluster.start()
    except StoreUnavailable as exc:
        pytest.skip(f"no PostgreSQL server can start here: {exc}")
    yield cluster
    cluster.stop()


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def pg_url(pg_cluster: object) -> str:
    """A fresh, empty database in the run's private server."""
    from sprintboard.board.pg.cluster import PrivateCluster

    assert isinstance(pg_cluster, PrivateCluster)
    return pg_cluster.create_database(f"board_{os.getpid()}_{next(_databases)}")
