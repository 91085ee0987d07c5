"""Imports point one way (DESIGN.md): tools load no board/agent code; the front door stays light."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_tools_import_no_other_room() -> None:
    mods = _loaded_after(
        "import sprintboard.tools, sprintboard.tools.registry, sprintboard.tools.manifest"
    )
    for room in (
        "sprintboard.board",
        "sprintboard.agents",
        "sprintboard.sprints",
        "sprintboard.a2a",
        "sprintboard.memory",
    ):
        assert not any(m == room or m.startswith(room + ".") for m in mods), room
    assert "langgraph" not in mods and "mlx" not in mods


def test_import_sprintboard_loads_no_heavy_library() -> None:
    mods = _loaded_after("import sprintboard")
    for heavy in ("mlx", "mlx_lm", "langgraph", "openai", "git", "matplotlib", "typer"):
        assert heavy not in mods, heavy


def test_the_cli_loads_no_heavy_library() -> None:
    mods = _loaded_after("import sprintboard.cli")
    for heavy in ("mlx", "mlx_lm", "langgraph", "openai", "matplotlib", "transformers"):
        assert heavy not in mods, heavy
