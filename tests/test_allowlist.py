"""Command allow-lists match whole argv as written: `*` and a last `...` stand for data only."""

from __future__ import annotations

from pathlib import Path

import pytest

from sprintboard.allowlist import AllowList
from sprintboard.config import load_config
from sprintboard.errors import ConfigError

ALLOW = AllowList.parse(["make check", "python -c *", "pytest -q ...", "eval.py {run:T4}/m.json"])


@pytest.mark.parametrize(
    "argv",
    [
        ["make", "check"],
        ["python", "-c", "print(1)"],
        ["pytest", "-q"],
        ["pytest", "-q", "tests/unit", "tests/board"],
        ["eval.py", "{run:T4}/m.json"],
    ],
)
def test_allowed(argv: list[str]) -> None:
    assert ALLOW.permits(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["make", "check", "--eval=$(shell id > /tmp/PWNED)"],  # a prefix is not enough
        ["make", "check", "CC=$(shell id)"],  # settings are not data
        ["make"],
        ["python", "-c", "x", "-m", "y"],
        ["python", "-c", "--help"],
        ["pytest", "-q", "-p", "evil"],
        ["eval.py", "runs/T4/1/m.json"],  # matched as written, before `{run:T4}` is filled in
        ["sh", "-c", "make check"],
    ],
)
def test_refused(argv: list[str]) -> None:
    assert not ALLOW.permits(argv)


@pytest.mark.parametrize("entry", ["", "* check", "make ... check", "make 'check"])
def test_bad_entries_are_config_errors(entry: str) -> None:
    with pytest.raises(ValueError):
        AllowList.parse([entry])


def test_a_bad_entry_in_the_config_names_the_key(tmp_path: Path) -> None:
    root = tmp_path
    (root / "sprintboard.toml").write_text(
        '[board]\nowner = "alpha"\n[auditor]\nallow_commands = ["* x"]\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="allow_commands"):
        load_config(root)
