"""The root CLI builds a command only when it runs: `next` loads no other room's module.

The table in `sprintboard.commands` must name every command its rooms register, or that
command would vanish from `sprintboard --help` and stop resolving.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from sprintboard.cli import main
from sprintboard.commands import COMMANDS
from sprintboard.workspace import init_workspace, open_board


def _modules_after(ws: Path, *args: str) -> set[str]:
    code = (
        "import sys; from sprintboard.cli import main; "
        f"main([*{list(args)!r}, '-w', {str(ws)!r}]); "
        "sys.stderr.write('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stderr.split())


def test_next_loads_only_its_own_room(tmp_path: Path) -> None:
    mods = _modules_after(init_workspace(tmp_path / "ws", git=False), "next")
    assert "sprintboard.commands.sprints" in mods
    for room in set(COMMANDS.values()) - {"sprints"}:
        assert f"sprintboard.commands.{room}" not in mods, room
    assert "sprintboard.commands.tools_mlx" not in mods
    # a board opened only to read never renders KANBAN.md, so neither parser nor renderer loads
    for module in ("parse", "render", "merge", "git"):
        assert f"sprintboard.board.kanban.{module}" not in mods, module


@pytest.mark.parametrize("command", [["next"], ["status"], ["show", "T1"]], ids=" ".join)
def test_json_reads_on_the_owner_load_neither_typer_nor_pydantic(
    tmp_path: Path, command: list[str]
) -> None:
    ws = init_workspace(tmp_path / "ws", git=False)
    open_board(ws).create_tasks([{"id": "T1", "title": "one", "status": "ready"}])
    _modules_after(ws, *command, "--json")  # the first call validates sprintboard.toml
    mods = _modules_after(ws, *command, "--json")
    assert "sprintboard.commands.quick" in mods
    for heavy in ("typer", "click", "pydantic", "rich", "sprintboard.config"):
        assert heavy not in mods, heavy
    for room in set(COMMANDS.values()):
        assert f"sprintboard.commands.{room}" not in mods, room
    assert not any(m.startswith("sprintboard.board.kanban") for m in mods)
    # a read opens the board without its write path's rules or the PostgreSQL store
    for write in ("values", "authority", "leases", "moves", "pg.store", "pg.board"):
        assert f"sprintboard.board.{write}" not in mods, write


def test_the_table_names_every_command_of_every_room() -> None:
    registered: dict[str, str] = {}
    for room in set(COMMANDS.values()):
        holder = typer.Typer()
        importlib.import_module(f"sprintboard.commands.{room}").register(holder)
        names = [c.name for c in holder.registered_commands]
        names += [g.name for g in holder.registered_groups]
        registered.update({str(name): room for name in names})
    assert registered == COMMANDS


def test_help_lists_every_command_with_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f" {name} " in out, name
    assert "What to take next: ready tasks by priority" in out
    assert "Deterministic tools: audit, dedup, mix" in out


def test_a_mistyped_command_still_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["nxt"])
    assert exc.value.code == 2
    assert "No such command 'nxt'. Did you mean 'next'?" in capsys.readouterr().err
