"""The autouse clean-up: a developer's environment never reaches a test (keys, workspace, the
golden-file switch), so no test can pass or fail because of the shell it was started from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LEAKY = {"UPDATE_GOLDEN": "1", "SPRINTBOARD_WORKSPACE": "/nowhere", "OPENAI_API_KEY": "sk-x"}


def test_nothing_of_the_developers_environment_is_left() -> None:
    assert [name for name in LEAKY if name in os.environ] == []
    assert [n for n in os.environ if n.startswith(("SPRINTBOARD_", "OPENAI_", "OPENROUTER_"))] == []


def test_a_shell_with_keys_and_update_golden_set_does_not_leak_in() -> None:
    env = {**os.environ, **LEAKY}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{Path(__file__).name}::test_nothing_of_the_developers_environment_is_left",
        ],
        cwd=Path(__file__).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 passed" in run.stdout
