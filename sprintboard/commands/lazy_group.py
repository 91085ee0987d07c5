"""The root command group, which imports a room's commands only when one of them is used.

Importing every room and letting typer read the signatures of all ~90 command functions
cost about 30 ms of every call, `sprintboard next` included; `--help` still loads them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer import _click as click  # typer's own copy of click: its groups hold these commands
from typer.core import TyperGroup

from sprintboard.commands import COMMANDS

__all__ = ["LazyGroup"]


class LazyGroup(TyperGroup):
    """A typer group whose commands are `COMMANDS`, each built on first lookup.

    Use as `typer.Typer(cls=LazyGroup)`; commands registered on that app directly are kept.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _RoomCommands(self.commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names in table order, without importing a room (typer's version builds them all)."""
        return list(self.commands)


class _RoomCommands(MutableMapping[str, click.Command]):
    """Command name -> click command, built from its room module on first access.

    A mapping rather than `get_command` alone, because typer also reads the group's
    `commands` directly: its "Did you mean ...?" hint takes the names from it.
    """

    def __init__(self, built: MutableMapping[str, click.Command]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name, COMMANDS[name])
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._built  # without building it

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS.keys() | self._built.keys())


def _build(name: str, room: str) -> click.Command:
    """The click command `name` from `sprintboard.commands.<room>`."""
    holder = typer.Typer()
    importlib.import_module(f"sprintboard.commands.{room}").register(holder)
    # typer reads the signature of every function it converts: convert only the one asked for.
    holder.registered_commands = [c for c in holder.registered_commands if c.name == name]
    holder.registered_groups = [g for g in holder.registered_groups if g.name == name]
    return typer.main.get_group(holder).commands[name]
