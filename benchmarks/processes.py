"""Whole processes timed as users run them: wall and CPU of the child, interleaved rounds.

Benchmarks import this file as a sibling module (`import processes`), like `result_line`.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ENV", "interleaved", "run_cmd"]

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The children may write .pyc files, as an installed program does; without them every run
would compile its sources again."""


def run_cmd(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + sys of the child) milliseconds of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=ENV)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def interleaved(
    commands: Mapping[str, list[str]], cwd: Path, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each command once per round, in turn (so a busy spell of the machine hits them all),
    after one warm-up run each; the wall and CPU milliseconds of every run."""
    for argv in commands.values():  # warm the page cache, .pyc files and the board's caches
        run_cmd(argv, cwd)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            wall, cpu = run_cmd(argv, cwd)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return walls, cpus
