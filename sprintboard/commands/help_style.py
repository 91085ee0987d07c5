"""Help screens that read like a CLI's, not like Python's.

typer labels every option with its Python annotation (`<bool>` after a flag, `<list[Path]>`),
writes a required argument as `{task_id}` in the usage line, and reads help text as rich
markup, so `[board] open_claims` loses its `[board]`. `install` swaps those three
renderings for the usual ones: no label on flags, `TEXT`/`INTEGER`/`PATH` (the element type
for a repeatable option), `TASK_ID` and `[TASK_ID]` for arguments, and help text verbatim.
tests/test_cli_help.py walks every command's `--help` and checks the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typer import _click as click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = ["install", "type_label"]

_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}


def type_label(param: TyperOption | TyperArgument) -> str | None:
    """The metavar a CLI shows for `param`: None for a flag or a counter."""
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return None
    if param.metavar is not None:
        return param.metavar
    desc = param.type_descriptor
    if desc.is_choice and desc.choices is not None:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    if desc.is_path:
        return "PATH"
    annotation: Any = desc.annotation
    args = getattr(annotation, "__args__", None)
    if desc.is_list and args:
        annotation = args[0]
    name = getattr(annotation, "__name__", str(annotation))
    if name == "Path":
        return "PATH"
    return _LABELS.get(name, name.upper())


def _option_type(self: TyperOption | TyperArgument, ctx: click.Context) -> str | None:
    if isinstance(self, TyperArgument):
        return None  # the name column already says what to write
    return type_label(self)


def _argument_name(self: TyperArgument) -> str:
    return (self.metavar or str(self.name)).upper()


def _rich_name(self: TyperArgument) -> str:
    return _argument_name(self) + ("..." if self.metavar is None and self.nargs != 1 else "")


def _usage_name(self: TyperArgument) -> str:
    name = _argument_name(self)
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


def _plain_text(*, text: str, style: str = "", markup_mode: Any) -> Any:
    import inspect

    from rich.text import Text
    from typer import rich_utils

    return rich_utils.highlighter(Text(inspect.cleandoc(text), style=style))


_FormatHelp = Callable[[Any, click.Context, click.HelpFormatter], None]


def _with_plain_text(format_help: _FormatHelp) -> _FormatHelp:
    """`format_help` that first gives typer's rich renderer our help text. Done here, not
    in `install`: importing `typer.rich_utils` (and rich) costs ~70 ms, and a command that
    shows no help screen (an import, a claim) should not pay for it."""

    def plain_format_help(self: Any, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from typer import rich_utils  # start-up: only a help screen needs it

        rich_utils._make_rich_text = _plain_text
        format_help(self, ctx, formatter)

    plain_format_help.plain_text = True  # type: ignore[attr-defined]
    return plain_format_help


def install() -> None:
    """Use these renderings for every help screen of this process (idempotent)."""
    TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = _option_type  # type: ignore[method-assign,assignment]
    TyperArgument._rich_display_name = _rich_name  # type: ignore[method-assign]
    TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
    TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[method-assign,assignment]
    for cls in (TyperCommand, TyperGroup):
        if not getattr(cls.format_help, "plain_text", False):
            cls.format_help = _with_plain_text(cls.format_help)  # type: ignore[method-assign,assignment]
