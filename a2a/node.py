"""Wiring: a workspace's `[a2a]` config -> transport, keys, postbox, owner handler, RemoteBoard.

The one place that reads `sprintboard.toml` for A2A, so the daemon, the CLI, the agents'
`board_for_host` and the tests build the same objects. `open_client` is the board every
agent-facing door opens: the `LocalBoard` on the owner host, a `RemoteBoard` elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.keys import KeyRing, key_dir
from sprintboard.a2a.ledger import Ledger
from sprintboard.a2a.owner import OwnerHandler
from sprintboard.a2a.postbox import Postbox
from sprintboard.a2a.remote import RemoteBoard
from sprintboard.a2a.seen import SeenIds
from sprintboard.a2a.transport import Transport
from sprintboard.a2a.transport_dir import DirTransport
from sprintboard.board.client import BoardClient
from sprintboard.board.clock import Clock, IdSource, SystemClock
from sprintboard.config import WorkspaceConfig, current_host, load_config
from sprintboard.errors import ConfigError
from sprintboard.workspace import find_workspace, open_board

__all__ = [
    "a2a_dir",
    "open_client",
    "open_owner",
    "open_postbox",
    "open_remote_board",
    "open_transport",
    "transport_name",
]


def a2a_dir(root: Path, config: WorkspaceConfig) -> Path:
    """The A2A directory: `[a2a] dir`, relative to the workspace unless absolute."""
    return (Path(root) / config.a2a.dir).resolve()


def transport_name(root: Path, config: WorkspaceConfig) -> str:
    """How this folder reaches the owner, in words for messages: `dir /x/.a2a`, ..."""
    kind = config.a2a.transport
    if kind == "http":
        return f"http {config.a2a.url}"
    if kind == "git":
        return f"git {config.a2a.remote}"
    return f"dir {a2a_dir(root, config)}"


def open_transport(
    root: Path, config: WorkspaceConfig, host: str, *, timeout: float = 30.0
) -> Transport:
    """`DirTransport`, `GitTransport` or `HttpTransport`, as `[a2a] transport` says
    (`timeout`: seconds an HTTP exchange may take).

    Raises:
        ConfigError: `transport = "git"` without `remote`; `http` on the owner itself.
    """
    shared = a2a_dir(root, config)
    if config.a2a.transport == "dir":
        return DirTransport(shared)
    if config.a2a.transport == "http":
        if host == config.board.owner or config.a2a.url is None:
            raise ConfigError(
                Path(root) / "sprintboard.toml",
                "a2a.transport",
                "http is how other hosts reach the owner; the owner serves it with "
                "`sprintboard a2a http` and keeps its own transport (dir or git)",
            )
        from sprintboard.a2a.transport_http import HttpTransport  # the SDK client: only here

        return HttpTransport(shared, host, config.board.owner, config.a2a.url, timeout=timeout)
    if not config.a2a.remote:
        raise ConfigError(Path(root) / "sprintboard.toml", "a2a.remote", "git transport needs it")
    from sprintboard.a2a.transport_git import GitTransport  # gitpython: only for git

    return GitTransport(
        shared, host, config.a2a.remote, clone=Path(root) / ".sprintboard" / "a2a-git" / host
    )


def open_postbox(
    workspace: Path | None,
    host: str | None = None,
    *,
    keys: Path | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    transport: Transport | None = None,
    timeout: float = 30.0,
) -> Postbox:
    """The postbox of `host` (default: this machine's host) in a workspace."""
    root = find_workspace(workspace)
    config = load_config(root)
    name = current_host(config, host)
    shared = a2a_dir(root, config)
    return Postbox(
        host=name,
        transport=transport or open_transport(root, config, name, timeout=timeout),
        keys=KeyRing(key_dir(root, keys, shared)),
        seen=SeenIds(root / ".sprintboard" / "a2a" / f"seen-{name}.log"),
        ledger=Ledger(shared, name),
        clock=clock or SystemClock(),
        ids=ids,
        ttl=config.a2a.ttl,
        max_skew=config.a2a.max_skew,
    )


def open_owner(
    workspace: Path | None,
    *,
    postbox: Postbox | None = None,
    clock: Clock | None = None,
    **kw: object,
) -> OwnerHandler:
    """The owner's handler over its `LocalBoard`."""
    root = find_workspace(workspace)
    config = load_config(root)
    box = postbox or open_postbox(root, config.board.owner, clock=clock, **kw)  # type: ignore[arg-type]
    board = open_board(root, host=config.board.owner, clock=clock)
    return OwnerHandler(
        board,
        box,
        BlobStore(a2a_dir(root, config) / "blobs"),
        workspace=root,
        agent_hosts={a.name: a.host for a in config.agents},
        default_ttl=config.board.default_ttl,
    )


def open_remote_board(
    workspace: Path | None,
    host: str | None = None,
    *,
    timeout: float = 30.0,
    postbox: Postbox | None = None,
    reader: bool = True,
    **kw: object,
) -> RemoteBoard:
    """The `BoardClient` of a non-owner host; `reader=False` for a process that only
    waits for the answers to its own calls (a one-shot command, `sprintboard mcp`)."""
    root = find_workspace(workspace)
    config = load_config(root)
    box = postbox or open_postbox(root, host, timeout=timeout, **kw)  # type: ignore[arg-type]
    return RemoteBoard(
        box,
        config.board.owner,
        BlobStore(a2a_dir(root, config) / "blobs"),
        workspace=root,
        timeout=timeout,
        reader=reader,
        transport_name=transport_name(root, config),
    )


def open_client(
    workspace: Path | None,
    host: str | None = None,
    *,
    timeout: float = 30.0,
    reader: bool = False,
    clock: Clock | None = None,
    ids: IdSource | None = None,
) -> BoardClient:
    """The board as `host` (default: this folder's host) sees it: the `LocalBoard` on the
    owner; elsewhere a `RemoteBoard` whose calls are signed messages to the owner, each
    answered within `timeout` seconds or refused with `OwnerUnreachable`.

    Raises:
        WorkspaceError, ConfigError: no workspace or a bad `sprintboard.toml`.
    """
    root = find_workspace(workspace)
    config = load_config(root)
    name = current_host(config, host)
    if name == config.board.owner:
        return open_board(root, host=name, clock=clock, ids=ids)
    # other hosts never read the board files: every call is a signed message to the owner
    return open_remote_board(root, name, timeout=timeout, reader=reader, clock=clock, ids=ids)
