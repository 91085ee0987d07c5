"""`sprintboard migrate`: move a board between the file journal and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json

__all__ = ["migrate", "register"]


def migrate(
    to: str = typer.Option(
        ..., "--to", help="postgresql://USER@HOST:PORT/DB (an empty database), or `file`."
    ),
    workspace: Path | None = options.WORKSPACE,
    json: bool = options.JSON,
) -> None:
    """Copy this workspace's board into an empty PostgreSQL database, or out of its
    database into an empty file journal; every seq, id and hash is kept. The source is
    verified first; a target that holds events is refused. Then point [board] store at
    the new place (or remove it) in sprintboard.toml."""
    from sprintboard.board.local import board_paths
    from sprintboard.board.pg.migrate import journal_to_store, store_to_journal
    from sprintboard.board.pg.store import PgStore, redact
    from sprintboard.config import load_config
    from sprintboard.errors import WorkspaceError
    from sprintboard.workspace import find_workspace, open_board

    root = find_workspace(workspace)
    config = load_config(root)
    dsn = config.board.store_dsn()
    paths = board_paths(root)
    if to == "file":
        if dsn is None:
            raise WorkspaceError(root, "this board is in the file journal already")
        store = PgStore(dsn)
        try:
            count = store_to_journal(store, paths["journal"])
        finally:
            store.close()
        paths["head"].unlink(missing_ok=True)  # a new journal: nothing recorded of it yet
        where, step = str(paths["journal"]), "remove `store` and `dsn_env` from [board]"
    else:
        if dsn is not None:
            raise WorkspaceError(
                root, f"this board is in {redact(dsn)} already; `migrate --to file` first"
            )
        board = open_board(root)
        board.validate()  # the whole journal verifies before a line is copied
        store = PgStore(to)
        try:
            count = journal_to_store(paths["journal"], store)
        finally:
            store.close()
        where, step = redact(to), f'set store = "{redact(to)}" under [board]'
    if json:
        print_json({"events": count, "to": where})
        return
    typer.echo(f"copied {count} events to {where}; now {step} in sprintboard.toml")


def register(root: typer.Typer) -> None:
    root.command("migrate")(migrate)
