"""Every command's `--help` reads like a CLI's: no Python types or reprs, no unfilled
template slots, no internal references, and every option says what it does."""

from __future__ import annotations

import re

import pytest
import typer
from typer import _click as click
from typer.core import TyperGroup, TyperOption

from sprintboard.cli import main
from sprintboard.commands import COMMANDS


def _paths() -> list[list[str]]:
    """The argv of every command and sub-command, built from the root app."""
    from sprintboard.cli import _app

    root = typer.main.get_command(_app())
    assert isinstance(root, TyperGroup)
    found: list[list[str]] = []

    def walk(group: TyperGroup, prefix: list[str]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None, name
            found.append([*prefix, name])
            if isinstance(cmd, TyperGroup):
                walk(cmd, [*prefix, name])

    walk(root, [])
    return found


PATHS = _paths()

_BAD = {
    "python type": re.compile(r"<(bool|int|str|float|path|list\[[^\]]*\])>", re.I),
    "braced placeholder": re.compile(r"\{[a-z_]+\}"),
    "unfilled slot": re.compile(r"\(default: {2,}|\bthe {2,}[a-z]|\[default: \]"),
    "internal reference": re.compile(r"DESIGN\.md|contract \d"),
    "pydantic prefix": re.compile(r"Value error,"),
    "python repr": re.compile(r"\['[^']*'\]|\{'[a-z_]+': "),
}


def test_the_walk_covers_every_top_level_command() -> None:
    assert {p[0] for p in PATHS} == set(COMMANDS)


@pytest.mark.parametrize("argv", PATHS, ids=[" ".join(p) for p in PATHS])
def test_help_reads_like_a_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    main([*argv, "--help"])  # help returns: exit 0
    out = capsys.readouterr().out
    assert "Usage:" in out
    for what, pattern in _BAD.items():
        hit = pattern.search(out)
        assert hit is None, f"{what}: {hit.group(0)!r} in `{' '.join(argv)} --help`"


@pytest.mark.parametrize("argv", PATHS, ids=[" ".join(p) for p in PATHS])
def test_every_option_has_help(argv: list[str]) -> None:
    from sprintboard.cli import _app

    cmd: click.Command = typer.main.get_command(_app())
    for name in argv:
        assert isinstance(cmd, TyperGroup)
        sub = cmd.get_command(click.Context(cmd), name)
        assert sub is not None
        cmd = sub
    missing = [
        p.opts[0] for p in cmd.params if isinstance(p, TyperOption) and not (p.help or "").strip()
    ]
    assert not missing, f"`{' '.join(argv)}`: options without help: {missing}"
