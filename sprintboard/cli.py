"""The `sprintboard` command line: a thin layer that parses, calls one API function, prints.

Exit codes (README "Exit codes"): 0 ok, 1 refused or findings (one line on stderr naming
what and where), 2 usage, 130 interrupted. `--debug` shows the traceback too. With `--json`
an error is one JSON object on stderr instead: {"error": {"message", "kind", "exit_code"}}.

`next --json` and `status --json` on the owner are answered first by
`sprintboard.commands.quick`, without importing typer or pydantic (most of their time
was start-up); everything else, and anything it declines, goes to the typer app.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from sprintboard.errors import SprintboardError

if TYPE_CHECKING:
    import typer

__all__ = ["main"]


@cache
def _app() -> typer.Typer:
    # typer is imported here, not at the top: it costs ~40 ms that `quick` saves
    import typer

    from sprintboard.commands import help_style
    from sprintboard.commands.lazy_group import LazyGroup

    help_style.install()

    # The commands come from the table in sprintboard/commands/__init__.py, built on first use.
    app = typer.Typer(
        cls=LazyGroup,
        name="sprintboard",
        help="One task board for AI agents and people.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=True,  # --install-completion / --show-completion
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False,
            "--version",
            "-V",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
        quiet: bool = typer.Option(
            False, "--quiet", "-q", help="Say only errors: no progress bars, no warnings."
        ),
        verbose: int = typer.Option(
            0,
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Say more (-v info, -vv debug), on stderr.",
        ),
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    ) -> None:
        """One task board for AI agents and people."""
        from sprintboard.commands.verbosity import set_verbosity  # start-up: typer path only

        _State.debug = debug
        set_verbosity(quiet, verbose)

    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app, built on first use
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _State:
    debug = False


def _print_version(value: bool) -> None:
    if value:
        import typer  # start-up: see the module docstring

        from sprintboard import __version__  # start-up: typer path only

        typer.echo(f"sprintboard {__version__}")
        raise typer.Exit()


def _error(args: list[str], exc: BaseException, code: int) -> None:
    """Report `exc` on stderr: one line, or one JSON object when `--json` was given."""
    if "--json" in args:
        import json  # start-up: only errors pay for it

        doc = {"error": {"message": str(exc), "kind": type(exc).__name__, "exit_code": code}}
        sys.stderr.write(json.dumps(doc) + "\n")
    else:
        sys.stderr.write(f"error: {exc}\n")
    sys.exit(code)


def _set_help_width() -> None:
    """Lay help screens out at the terminal's width, or `NOT_A_TTY_WIDTH` in a pipe (typer
    reads `TERMINAL_WIDTH` when it first builds a help screen)."""
    from sprintboard.commands.width import text_width  # start-up: only the typer path lays out help

    width = text_width()
    if width is not None and "TERMINAL_WIDTH" not in os.environ:
        os.environ["TERMINAL_WIDTH"] = str(width)
        rich_utils = sys.modules.get("typer.rich_utils")
        if rich_utils is not None:  # already imported (tests run many commands in one process)
            vars(rich_utils)["MAX_WIDTH"] = width


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map errors to exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        from sprintboard.commands.quick import answer  # start-up: see the module docstring

        if answer(args):
            return
    except SprintboardError as exc:
        _error(args, exc, 1)
    _typer_main(args)


def _typer_main(args: list[str]) -> None:
    import typer  # start-up: the quick path never gets here

    _set_help_width()
    try:
        # Without standalone mode click returns an Exit's code instead of exiting with it.
        code = _app()(args=args, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: exit 2, with click's message
        code = int(getattr(exc, "exit_code", 2))
        show = getattr(exc, "show", None)
        if "--json" in args:
            _error(args, exc, code)
        elif callable(show):
            show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        sys.exit(code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except SprintboardError as exc:
        if _State.debug:
            raise
        _error(args, exc, 1)
