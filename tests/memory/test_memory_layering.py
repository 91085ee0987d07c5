"""memory/ uses board/ only: agents/ (the LLM seam) and matplotlib load only when used."""

from __future__ import annotations

import subprocess
import sys


def test_memory_modules_load_no_agents_no_matplotlib() -> None:
    code = (
        "import sys; import sprintboard.memory.standup, sprintboard.memory.sprint_log, "
        "sprintboard.memory.report, sprintboard.memory.burndown; "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    mods = set(out.stdout.split())
    assert "sprintboard.memory.standup" in mods
    for room in (
        "sprintboard.agents",
        "sprintboard.sprints",
        "sprintboard.a2a",
        "matplotlib",
        "openai",
    ):
        assert not any(m == room or m.startswith(room + ".") for m in mods), room
