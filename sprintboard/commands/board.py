"""`sprintboard board ...` (KANBAN.md render/sync/check) and `sprintboard watch`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json
from sprintboard.errors import KanbanParseError

__all__ = ["app", "register"]

app = typer.Typer(help="KANBAN.md: render, sync, check.", no_args_is_help=True)

_AS = typer.Option(None, "--as", help="Who edited KANBAN.md: `human:NAME` (default: your login).")


def _open(workspace: Path | None, *, views: bool = False) -> tuple[Any, Any]:
    """The board and its KanbanSync; `views`: this process is to write KANBAN.md, which on
    a PostgreSQL board means taking the render lease (refused while another holds it)."""
    from sprintboard.workspace import kanban_sync, open_board

    board = open_board(workspace)
    if views:
        _take_views(board)
    return board, kanban_sync(board)


def _take_views(board: Any) -> None:
    from sprintboard.board.pg.board import PgBoard
    from sprintboard.errors import BoardError

    if isinstance(board, PgBoard) and not board.take_render_lease():
        holder = board.render_holder() or "another process"
        board.close()
        raise BoardError(
            f"{holder} renders this board's KANBAN.md and merges its edits now (one host "
            "at a time, DESIGN.md contract 13); run this there, or stop its `watch` first"
        )


@app.command()
def render(
    file: Path | None = typer.Argument(None, help="Write here instead (`-` for stdout)."),
    workspace: Path | None = options.WORKSPACE,
) -> None:
    """Render KANBAN.md from the board (refused while it holds an unmerged edit)."""
    from sprintboard.board.kanban.render import render_kanban

    board, kanban = _open(workspace, views=file is None)
    state = board.snapshot()
    if file is not None:
        text = render_kanban(state, None, kanban.headings, kanban.title)
        if str(file) == "-":
            sys.stdout.write(text)
        else:
            file.write_text(text, encoding="utf-8")
            typer.echo(f"rendered {file}")
        return
    kanban.render(state)
    if kanban.pending:
        typer.echo(
            f"{kanban.path} holds an edit that is not merged yet; left as it is. "
            "Run `sprintboard board sync` first.",
            err=True,
        )
        raise SystemExit(1)  # typer.Exit is swallowed by the root's standalone_mode=False
    typer.echo(f"rendered {kanban.path}")


@app.command()
def sync(
    workspace: Path | None = options.WORKSPACE,
    actor: str | None = _AS,
    push: bool = typer.Option(False, "--push", help="Commit and push (pull and retry, no force)."),
    json: bool = options.JSON,
) -> None:
    """Merge a person's KANBAN.md edit into the board as events, then re-render it."""
    board, kanban = _open(workspace, views=True)
    report = kanban.sync(board, actor)
    pushed = None
    if push and report.error is None:
        from sprintboard.board.kanban.git import commit_board, push_with_retry
        from sprintboard.config import load_config

        commit_board(board.root, f"board: KANBAN.md edit by {actor or kanban.actor}", kanban)
        pushed = push_with_retry(board.root, load_config(board.root).kanban.remote)
    if json:
        print_json(
            {
                "merged": report.merged,
                "events": [{"seq": e.seq, "op": e.op, "task": e.task} for e in report.events],
                "new_ids": report.new_ids,
                "warnings": report.warnings,
                "error": str(report.error) if report.error else None,
                "pushed": None if pushed is None else pushed.pushed,
            }
        )
    else:
        for warning in report.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if report.merged:
            typer.echo(f"merged: {len(report.events)} event(s); new ids: {report.new_ids or '-'}")
        elif report.error is None:
            typer.echo("KANBAN.md holds no unmerged edit")
        if pushed is not None:
            typer.echo(f"push: {'done' if pushed.pushed else 'not done'} ({pushed.attempts} try)")
    if report.error is not None:
        raise report.error


@app.command()
def check(
    file: Path | None = typer.Argument(None, help="File to check (default: the KANBAN.md)."),
    repair: bool = typer.Option(
        False, "--repair", help="Show the proposed mojibake repair as a diff (writes nothing)."
    ),
    write: bool = typer.Option(
        False,
        "--write",
        help="With --repair: write the repair to FILE, keeping the original as FILE.orig.",
    ),
    workspace: Path | None = options.WORKSPACE,
    json: bool = options.JSON,
) -> None:
    """Parse KANBAN.md (or FILE) without changing it. A file broken by mojibake gets a
    repair proposal: `--repair` shows it as a diff, `--repair --write` writes it."""
    from sprintboard.board.kanban.parse import parse_kanban

    if write and not repair:
        raise typer.BadParameter("--write writes the repair: give --repair too")
    kanban: Any = None
    board: Any = None
    if file is None:
        board, kanban = _open(workspace)
        path = kanban.path
    else:
        path = file
    data = path.read_bytes()
    try:
        # The workspace's own file is read as `sync` would: its ids taken, its last copy known.
        doc = kanban.check(data, board.snapshot()) if kanban else parse_kanban(data, path)
    except KanbanParseError as exc:
        _offer_repair(exc, data, path, show=repair, write=write, json=json)
        return
    if json:
        print_json(
            {
                "ok": True,
                "cards": len(doc.cards),
                "decisions": len(doc.decisions),
                "notes": len(doc.notes),
                "new_ids": doc.new_ids,
                "warnings": doc.warnings,
            }
        )
        return
    for warning in doc.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(
        f"{path}: ok, {len(doc.cards)} card(s), {len(doc.decisions)} decision(s), "
        f"{len(doc.notes)} note(s); cards without an id would get {doc.new_ids or 'none'}"
    )


def _offer_repair(
    exc: KanbanParseError, data: bytes, path: Path, *, show: bool, write: bool, json: bool
) -> None:
    """A file that does not parse because of mojibake: say so and what the repair would
    change; `show` prints its diff, `write` writes it beside a copy of the original. Exit 1
    unless it was written. Any other parse error is raised."""
    # start-up: each command loads only the code it runs (tests/test_cli_lazy.py)
    from sprintboard.board.kanban.mojibake import find_mojibake, propose_repair
    from sprintboard.board.kanban.parse import parse_kanban

    text = data.decode("utf-8", "replace")
    if not find_mojibake(text):
        raise
    proposal = propose_repair(text)
    diff = proposal.diff(str(path)) if show else ""
    original: Path | None = None
    if write:
        from sprintboard.files import atomic_write

        parse_kanban(proposal.text, path)  # the repair must itself be a board
        original = _free_name(path.with_name(path.name + ".orig"))
        original.write_bytes(data)
        atomic_write(path, proposal.text.encode("utf-8"))
    if json:
        print_json(
            {
                "ok": False,
                "error": str(exc),
                "repair": {
                    "changed_lines": proposal.changed_lines,
                    "steps": proposal.steps,
                    "lossy": proposal.lossy,
                    "diff": diff or None,
                    "written": write,
                    "original": None if original is None else str(original),
                },
            }
        )
    else:
        typer.echo(
            f"{'fixed' if write else 'error'}: {exc.path}:{exc.line}: {exc.reason}", err=True
        )
        typer.echo(proposal.summary(), err=True)
        if diff:
            typer.echo(diff, nl=False)
        if write:
            typer.echo(f"repair written to {path}; the original is {original}", err=True)
        elif show:
            typer.echo(f"{path} was not changed; `--repair --write` writes this diff", err=True)
        else:
            typer.echo(f"{path} was not changed; `--repair` shows the proposed diff", err=True)
    if not write:
        raise SystemExit(1) from None


def _free_name(path: Path) -> Path:
    """`path`, or `path.1`, `path.2`, ... : the first that does not exist (never overwrite)."""
    n, candidate = 0, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


@app.command("merge-driver", hidden=True)
def merge_driver(
    ancestor: Path, ours: Path, theirs: Path, name: str = typer.Argument("KANBAN.md")
) -> None:
    """git merge driver for KANBAN.md (installed by `install_merge_driver`)."""
    from sprintboard.board.kanban.git import merge_kanban_files

    board, kanban = _open(None)
    for warning in merge_kanban_files(board, kanban, ancestor, ours, theirs, "human:git-merge"):
        typer.echo(f"warning: {name}: {warning}", err=True)


def watch(
    workspace: Path | None = options.WORKSPACE,
    polling: bool | None = typer.Option(
        None, "--polling/--inotify", help="Poll the folder (network or synced folders)."
    ),
    for_seconds: float | None = typer.Option(
        None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."
    ),
) -> None:
    """Watch KANBAN.md and merge each saved edit into the board."""
    import time

    from sprintboard.board.kanban.sync import SyncReport
    from sprintboard.board.kanban.watcher import KanbanWatcher
    from sprintboard.config import load_config

    board, kanban = _open(workspace, views=True)
    cfg = load_config(board.root).kanban

    def on_sync(report: SyncReport) -> None:
        if report.error is not None:
            typer.echo(f"error: {report.error}", err=True)
            return
        typer.echo(f"merged {len(report.events)} event(s)", err=True)
        if cfg.push and report.events:  # outside the board lock: the pull may run our driver
            from sprintboard.board.kanban.git import push_with_retry

            pushed = push_with_retry(board.root, cfg.remote)
            typer.echo(f"push: {'done' if pushed.pushed else 'not done'}", err=True)

    watcher = KanbanWatcher(
        board,
        kanban,
        polling=cfg.polling if polling is None else polling,
        debounce=cfg.debounce,
        rescan=cfg.rescan,
        on_sync=on_sync,
    )
    typer.echo(f"watching {kanban.path} (Ctrl-C stops)", err=True)
    with _following(board):
        if for_seconds is None:
            watcher.run_forever()
            return
        with watcher:
            time.sleep(for_seconds)  # a bounded run for scripts; Ctrl-C also stops it


@contextlib.contextmanager
def _following(board: Any) -> Iterator[None]:
    """On a PostgreSQL board, keep the views current as other hosts commit (and keep the
    render lease) while watching; the file store renders on each commit already."""
    from sprintboard.board.pg.board import PgBoard

    if not isinstance(board, PgBoard):
        yield
        return
    try:
        with board.following():
            yield
    finally:
        board.close()


def register(root: typer.Typer) -> None:
    """Add the `board` group and this room's top-level `watch` command to the root app."""
    root.add_typer(app, name="board")
    root.command("watch")(watch)
