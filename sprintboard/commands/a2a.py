"""`sprintboard a2a ...` commands: serve, http, send, inbox, quarantine, keygen, pair; and
`sprintboard join`, which makes a folder for a host that is not the owner.

The A2A modules are imported inside each command, so `import sprintboard.cli` stays light.
"""

from __future__ import annotations

import signal
import sys
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json

__all__ = ["app", "register"]

app = typer.Typer(help="Messages between hosts (A2A): daemon, inbox, keys.", no_args_is_help=True)

_WS = typer.Option(Path("."), "--workspace", "-w", help="Workspace directory.")
_HOST = typer.Option(None, "--host", help="This host (default: $SPRINTBOARD_HOST or the owner).")
_KEYS = typer.Option(
    None, "--keys", help="Key directory (default: $SPRINTBOARD_KEYS or .sprintboard/keys)."
)


def _where(workspace: Path, host: str | None, keys: Path | None) -> tuple[Path, str, Path, Path]:
    from sprintboard.a2a.keys import key_dir
    from sprintboard.a2a.node import a2a_dir
    from sprintboard.config import current_host, load_config
    from sprintboard.workspace import find_workspace

    root = find_workspace(workspace)
    config = load_config(root)
    shared = a2a_dir(root, config)
    return root, current_host(config, host), shared, key_dir(root, keys, shared)


def _stop_on_sigterm() -> None:
    """A stop request (SIGTERM) ends the loop like Ctrl-C: the current message and the
    notification being sent finish first."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@app.command()
def serve(
    workspace: Path = _WS,
    host: str | None = _HOST,
    keys: Path | None = _KEYS,
    polling: bool = typer.Option(
        False, "--polling", help="Poll instead of inotify (synced or network folders)."
    ),
    rescan: float = typer.Option(2.0, "--rescan", help="Seconds between full inbox rescans."),
    for_seconds: float | None = typer.Option(
        None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."
    ),
) -> None:
    """Run this host's daemon: watch the inbox, rescan, expire leases (owner), sync (git);
    on the owner, also send the [notify] notifications."""
    from sprintboard.a2a.daemon import serve as run_serve
    from sprintboard.config import load_config
    from sprintboard.memory.notify import running

    root, name, _, key_path = _where(workspace, host, keys)
    typer.echo(f"a2a serve: host {name} in {root} (Ctrl-C stops)", err=True)
    _stop_on_sigterm()
    owner = name == load_config(root).board.owner
    with running(root) if owner else nullcontext():
        stats = run_serve(
            root, name, polling=polling, rescan=rescan, keys=key_path, until=for_seconds
        )
    typer.echo(
        f"a2a serve: handled {stats.handled}, expired {len(stats.expired)}, "
        f"observer restarts {stats.observer_restarts}",
        err=True,
    )


@app.command()
def http(
    workspace: Path = _WS,
    keys: Path | None = _KEYS,
    port: int = typer.Option(8766, "--port", help="TCP port (0: any free one)."),
    bind: str = typer.Option(
        "127.0.0.1", "--bind", help="Address to listen on; anything but loopback is reachable."
    ),
    url: str | None = typer.Option(
        None, "--url", help="URL the agent card advertises (default: the bound address)."
    ),
    host: str | None = _HOST,
) -> None:
    """Serve the owner's A2A endpoint over HTTP (agent card + SendMessage, a2a-sdk)."""
    from sprintboard.a2a.http_server import open_http_endpoint
    from sprintboard.a2a.http_server import serve as run_http

    endpoint = open_http_endpoint(
        workspace, host=host, bind=bind, port=port, public_url=url, keys=keys
    )
    if bind not in ("127.0.0.1", "::1", "localhost"):
        typer.echo(f"a2a http: listening on {bind}: other machines can reach it", err=True)
    typer.echo(
        f"a2a http: host {endpoint.gate.host} on {endpoint.url} "
        f"(card: {endpoint.url}.well-known/agent-card.json; Ctrl-C stops)",
        err=True,
    )
    run_http(endpoint)


@app.command()
def send(
    recipient: str = typer.Argument(..., help="Host to send to."),
    text: str = typer.Argument(..., help="What to say."),
    task: str = typer.Option(..., "--task", help="Task the message is about."),
    kind: str = typer.Option("progress", "--kind", help="progress or cancel."),
    fence: int | None = typer.Option(None, "--fence", help="Fencing token of the lease."),
    workspace: Path = _WS,
    host: str | None = _HOST,
    keys: Path | None = _KEYS,
) -> None:
    """Send a signed progress note or cancel to another host."""
    from sprintboard.a2a import messages
    from sprintboard.a2a.node import open_postbox

    root, name, _, key_path = _where(workspace, host, keys)
    box = open_postbox(root, name, keys=key_path)
    if kind == "progress":
        env = box.send(
            recipient,
            "progress",
            lambda m: messages.progress(m, task, "board", text),
            task=task,
            fence=fence,
        )
    elif kind == "cancel":
        env = box.send(
            recipient, "cancel", lambda m: messages.cancel(m, task, "board", text), task=task
        )
    else:
        raise typer.BadParameter("--kind must be progress or cancel")
    typer.echo(env.id)


@app.command()
def inbox(
    workspace: Path = _WS,
    host: str | None = _HOST,
    as_json: bool = options.JSON,
) -> None:
    """What waits in this host's inbox, and the last lines of its ledger."""
    from sprintboard.a2a.ledger import Ledger
    from sprintboard.a2a.maildir import Maildir

    _, name, shared, _ = _where(workspace, host, Path("/nonexistent-keys"))
    box = Maildir(shared / name)
    new, cur = box.pending(), box.left_over()
    archived = sum(1 for _ in box.archive_dir.iterdir())
    quarantined = len(box.quarantined())
    lines = Ledger(shared, name).lines()[-10:]
    if as_json:
        print_json(
            {
                "host": name,
                "new": new,
                "cur": cur,
                "archived": archived,
                "quarantined": quarantined,
                "ledger": [asdict(line) for line in lines],
            }
        )
        return
    typer.echo(
        f"{name}: {len(new)} new, {len(cur)} being handled, "
        f"{archived} archived, {quarantined} quarantined"
    )
    for line in lines:
        typer.echo(f"  {line.ts} {line.action:<10} {line.target:<8} {line.ref}")


@app.command()
def quarantine(
    workspace: Path = _WS,
    host: str | None = _HOST,
    as_json: bool = options.JSON,
) -> None:
    """Messages this host refused, with the reason for each."""
    from sprintboard.a2a.maildir import Maildir

    _, name, shared, _ = _where(workspace, host, Path("/nonexistent-keys"))
    items = Maildir(shared / name).quarantined()
    if as_json:
        print_json({"host": name, "quarantined": [{"file": f, "reason": r} for f, r in items]})
        return
    if not items:
        typer.echo(f"{name}: quarantine is empty")
    for file, reason in items:
        typer.echo(f"{file}: {reason}")


@app.command()
def keygen(
    peer: str = typer.Argument(..., help="The other host of the pair."),
    workspace: Path = _WS,
    host: str | None = _HOST,
    keys: Path | None = _KEYS,
) -> None:
    """Make the key this host shares with PEER; prints it once, for `a2a pair` on PEER."""
    from sprintboard.a2a.keys import keygen as make_key

    _, name, _, key_path = _where(workspace, host, keys)
    secret = make_key(key_path, name, peer)
    typer.echo(f"key for {name}/{peer} stored in {key_path}", err=True)
    typer.echo(f"on {peer} run:  sprintboard a2a pair {name} -   (and paste this key)", err=True)
    typer.echo(secret)


@app.command()
def pair(
    peer: str = typer.Argument(..., help="The host that ran `a2a keygen`."),
    secret: str = typer.Argument("-", help="The key it printed, or - to read it from stdin."),
    workspace: Path = _WS,
    host: str | None = _HOST,
    keys: Path | None = _KEYS,
) -> None:
    """Store the key PEER made with `a2a keygen` (keys never go into git or the shared tree)."""
    from sprintboard.a2a.keys import pair as store_key

    _, name, _, key_path = _where(workspace, host, keys)
    value = sys.stdin.readline() if secret == "-" else secret
    path = store_key(key_path, name, peer, value)
    typer.echo(f"paired {name} with {peer}: {path}")


def join(
    source: str = typer.Argument(
        ..., help="The owner's workspace folder (as this machine sees it) or its git remote."
    ),
    directory: Path = typer.Argument(..., help="The new folder for this host."),
    host: str = typer.Option(..., "--host", help="This host's name (not the owner's)."),
    url: str | None = typer.Option(
        None,
        "--url",
        help="Reach the owner's A2A endpoint (`sprintboard a2a http`) at this URL instead "
        "of its shared folder or git remote.",
    ),
    as_json: bool = options.JSON,
) -> None:
    """Make DIRECTORY the folder of host HOST for the board owned at SOURCE: a
    sprintboard.toml whose [a2a] reaches the owner, its own .sprintboard/, the shared data
    folders; then say how to pair the keys."""
    from sprintboard.join import join_workspace

    report = join_workspace(source, directory, host, url=url)
    if as_json:
        print_json(report)
        return
    typer.echo(
        f"joined: {report.folder} is host {report.host}; the owner {report.owner} is "
        f"reached by {report.transport}"
        + (f"; linked {', '.join(report.linked)}" if report.linked else "")
    )
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo("next:")
    for n, step in enumerate(report.next_steps, start=1):
        typer.echo(f"  {n}. {step}")


def register(root: typer.Typer) -> None:
    """Add the `a2a` group and `join` to the root app."""
    root.add_typer(app, name="a2a")
    root.command("join")(join)
