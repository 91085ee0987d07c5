"""Workspaces: `init` makes one, `find_workspace` locates one, `open_board` opens its board.

A workspace is always its own directory (DESIGN.md contract 1), never the repo root.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from sprintboard.board.client import BoardObserver
from sprintboard.board.clock import Clock, IdSource, SystemClock, format_ts
from sprintboard.board.local import LocalBoard, board_paths
from sprintboard.board.lock import BoardLock
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.errors import ConfigError, WorkspaceError
from sprintboard.files import CONFIG_FILE

if TYPE_CHECKING:
    from sprintboard.board.kanban.sync import KanbanSync
    from sprintboard.board.repair import RepairReport
    from sprintboard.config import WorkspaceConfig

__all__ = [
    "adopt_journal",
    "find_workspace",
    "init_workspace",
    "kanban_sync",
    "open_board",
    "policy_from_config",
    "repair_workspace_journal",
]

log = logging.getLogger(__name__)

# sprintboard.config is imported inside the functions that load it: it builds pydantic
# models (~80 ms), and `find_workspace` on the read-only fast path (`next`) needs none.

_GITIGNORE = """\
# local to this machine, never synced: base copies, checkpoints, keys, locks
.sprintboard/
# task outputs are promoted as content-addressed artifacts
runs/
"""


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def _toml_str(text: str) -> str:
    return orjson.dumps(text).decode()  # a TOML basic string is a JSON string here


def _config_text(
    name: str,
    owner: str,
    hosts: Sequence[tuple[str, Sequence[str]]],
    shared: Sequence[str] = (),
    store: str | None = None,
) -> str:
    lines = [
        "# sprintboard workspace configuration: the file that makes this directory a workspace",
        "[board]",
        f'name = "{name}"',
        f'owner = "{owner}"',
        "default_ttl = 900",
        "# agents not listed under [[agents]] may claim builder work (never finish it)",
        "open_claims = false",
    ]
    if store is not None:
        lines += [
            "# the board lives in PostgreSQL: every host writes it directly (no owner process);",
            '# the password comes from PGPASSWORD or ~/.pgpass, or set dsn_env = "VAR"',
            f"store = {_toml_str(store)}",
        ]
    lines.append("")
    for host, caps in hosts:
        lines += ["[[hosts]]", f'name = "{host}"', f"caps = {_toml_list(caps)}", ""]
    for role in ("planner", "negotiator", "auditor"):
        lines += ["[[agents]]", f'name = "{role}-1"', f'role = "{role}"', f'host = "{owner}"', ""]
    for host, caps in hosts:
        lines += [
            "[[agents]]",
            f'name = "builder-{host}"',
            'role = "builder"',
            f'host = "{host}"',
            f"caps = {_toml_list(caps)}",
            "wip = 2",
            "",
        ]
    lines += [
        "# A builder that hands tasks without tool steps to a coding agent's CLI (see the",
        '# README, "Command workers"; trusted code with your rights, only `env` reaches it):',
        "# [[agents]]",
        '# name = "coder-1"',
        '# role = "builder"',
        f'# host = "{owner}"',
        '# caps = ["code"]',
        "# wip = 1",
        '# worker = "command"',
        '# command = ["my-agent", "--prompt-file", "{prompt_file}"]',
        "# timeout = 1800",
        "# max_attempts = 3",
        '# env = ["ANTHROPIC_API_KEY"]',
        "",
        "[wip]",
        "builder = 3",
        "auditor = 2",
        "",
        "[llm]",
        '# base_url = "http://127.0.0.1:8080/v1"   # any OpenAI-compatible endpoint; off by default',
        'api_key_env = "OPENAI_API_KEY"',
        "",
        "[a2a]",
        'dir = ".a2a"',
        'transport = "dir"',
        "ttl = 3600",
        "max_skew = 600",
        f"shared = {_toml_list(shared)}"
        if shared
        else '# shared = ["data", "models"]   # folders every host sees; `join` links them',
        "",
        "[auditor]",
        "allow_commands = []",
        "",
    ]
    return "\n".join(lines)


def _is_sprintboard_repo(path: Path) -> bool:
    pyproject = path / "pyproject.toml"
    return pyproject.is_file() and 'name = "sprintboard"' in pyproject.read_text(encoding="utf-8")


def init_workspace(
    directory: Path,
    *,
    owner: str = "alpha",
    hosts: Sequence[tuple[str, Sequence[str]]] | None = None,
    git: bool = True,
    name: str | None = None,
    shared: Sequence[str] = (),
    store: str | None = None,
) -> Path:
    """Create a workspace in `directory`: config, KANBAN.md, sprints/, memory/, .a2a/, git.
    `store`: a `postgresql://USER@HOST:PORT/DB` URL to keep the board in (no password).

    `shared` names folders every host sees at the same place (`[a2a] shared`: data,
    models, runs on a mount); they are made here, and `sprintboard join` links them.

    Raises:
        WorkspaceError: the directory is already a workspace or is the sprintboard repo.
        ConfigError: `store` is not such a URL.
        StoreUnavailable: the store cannot be reached (nothing is left behind).
    """
    root = Path(directory).resolve()
    if _is_sprintboard_repo(root):
        raise WorkspaceError(
            root,
            "this is the sprintboard repo itself; make a workspace elsewhere "
            "(e.g. `sprintboard init ~/boards/myproject`)",
        )
    if (root / CONFIG_FILE).exists():
        raise WorkspaceError(root, f"already a workspace ({CONFIG_FILE} exists)")
    host_list = list(hosts) if hosts else [(owner, [])]
    if owner not in [h for h, _ in host_list]:
        host_list.insert(0, (owner, []))
    if store is not None:
        # start-up: see the note at the top (pydantic models)
        from pydantic import ValidationError

        from sprintboard.config import BoardConfig

        try:
            BoardConfig(owner=owner, store=store)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise ConfigError(CONFIG_FILE, "board.store", reason) from None
    root.mkdir(parents=True, exist_ok=True)
    title = name or root.name
    text = _config_text(title, owner, host_list, shared, store)
    (root / CONFIG_FILE).write_text(text, encoding="utf-8")
    for sub in ("sprints", "memory"):
        (root / sub).mkdir(exist_ok=True)
        (root / sub / ".gitkeep").touch()
    a2a = root / ".a2a"
    for host, _ in host_list:
        for sub in ("inbox/tmp", "inbox/new", "inbox/cur", "archive", "quarantine"):
            (a2a / host / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("ledger", "blobs"):
        (a2a / sub).mkdir(parents=True, exist_ok=True)
        (a2a / sub / ".gitkeep").touch()
    (root / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    try:
        board = open_board(root, host=owner)  # reads the config back: `shared` names are checked
    except BaseException:
        (root / CONFIG_FILE).unlink()  # a store that cannot be reached makes no workspace
        raise
    try:
        for folder in shared:
            (root / folder).mkdir(parents=True, exist_ok=True)
        if not (root / "KANBAN.md").exists():  # one brought along is merged at the first sync
            kanban_sync(board).render(board.snapshot())
    finally:
        board.close()
    if git:
        _git_init(root)
    return root


def _git_init(root: Path) -> None:
    import git  # gitpython costs ~100 ms to import; only init needs it here

    repo = git.Repo.init(root)
    with repo.config_writer() as cfg:
        if not cfg.has_option("user", "name"):
            cfg.set_value("user", "name", "sprintboard")
            cfg.set_value("user", "email", "sprintboard@localhost")
    repo.git.add(A=True)
    repo.index.commit("sprintboard: init workspace")


def find_workspace(start: Path | None = None) -> Path:
    """The workspace containing `start` (default: `$SPRINTBOARD_WORKSPACE` or the cwd).

    Raises:
        WorkspaceError: no `sprintboard.toml` in `start` or any parent.
    """
    env = os.environ.get("SPRINTBOARD_WORKSPACE")
    origin = Path(start or env or Path.cwd()).resolve()
    for candidate in (origin, *origin.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise WorkspaceError(
        origin, f"not inside a workspace (no {CONFIG_FILE}); run `sprintboard init DIR`"
    )


def policy_from_config(config: WorkspaceConfig) -> BoardPolicy:
    """Who may take and finish what, as the owner enforces it, from `sprintboard.toml`."""
    return BoardPolicy(
        owner=config.board.owner,
        open_claims=config.board.open_claims,
        wip_per_role=dict(config.wip),
        wip_per_agent={a.name: a.wip for a in config.agents if a.wip is not None},
        agent_roles={a.name: a.role for a in config.agents},
        agent_hosts={a.name: a.host for a in config.agents},
        agent_caps={a.name: frozenset(a.caps) for a in config.agents},
        agent_workers={a.name: a.worker for a in config.agents if a.role == "builder"},
        host_caps={h.name: frozenset(h.caps) for h in config.hosts},
    )


def open_board(
    workspace: Path | None = None,
    *,
    host: str | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
) -> LocalBoard:
    """Open the board of a workspace on its owner host.

    Raises:
        WorkspaceError, ConfigError: no workspace or a bad config.
        NotOwner: this host is not the board owner.
        JournalCorrupt, JournalRolledBack: the journal cannot be trusted.
    """
    # start-up: importing this module (find_workspace, init) loads no KANBAN.md code
    from sprintboard.board.kanban.sync import KanbanSync
    from sprintboard.config import current_host, load_config

    root = find_workspace(workspace)
    config = load_config(root)
    board_paths(root)["local"].mkdir(exist_ok=True)
    kanban = KanbanSync(
        root,
        headings=config.kanban.headings(),  # type: ignore[arg-type]  # keys checked by KanbanConfig
        title=f"KANBAN.md — {config.board.name}",
    )
    observers: list[BoardObserver] = [kanban]
    if config.kanban.auto_commit and (root / ".git").exists():
        # start-up: the git code loads only with auto-commit on (tests/test_cli_lazy.py)
        from sprintboard.board.kanban.git import GitAutoCommit

        observers.append(GitAutoCommit(root, kanban))
    dsn = config.board.store_dsn()
    if dsn is not None:
        return _open_store_board(root, config, dsn, host, clock, ids, observers)
    return LocalBoard(
        root,
        host=current_host(config, host),
        policy=policy_from_config(config),
        clock=clock,
        ids=ids,
        lock_timeout=config.board.lock_timeout,
        observers=observers,
    )


def _open_store_board(
    root: Path,
    config: WorkspaceConfig,
    dsn: str,
    host: str | None,
    clock: Clock | None,
    ids: IdSource | None,
    observers: list[BoardObserver],
) -> LocalBoard:
    """The board in PostgreSQL (contract 13): any host opens it, no owner needed."""
    # start-up: the store code loads only for a board that lives in one
    from sprintboard.board.pg.board import PgBoard, StoreClock
    from sprintboard.board.pg.store import PgStore
    from sprintboard.config import current_host  # loaded already by open_board

    store = PgStore(dsn, timeout=config.board.lock_timeout)
    try:
        return PgBoard(
            root,
            store=store,
            host=current_host(config, host),
            policy=policy_from_config(config),
            clock=clock or StoreClock(),
            ids=ids,
            observers=observers,
        )
    except BaseException:
        store.close()
        raise


def kanban_sync(board: LocalBoard) -> KanbanSync:
    """The `KanbanSync` (KANBAN.md render and merge) `open_board` attached to `board`.

    Raises:
        WorkspaceError: the board was opened without one.
    """
    # start-up: importing this module (find_workspace, init) loads no KANBAN.md code
    from sprintboard.board.kanban.sync import KanbanSync

    for observer in board.observers:
        if isinstance(observer, KanbanSync):
            return observer
    raise WorkspaceError(board.root, "this board has no KANBAN.md view; open it with open_board")


def adopt_journal(workspace: Path | None = None) -> None:
    """Accept the workspace's journal as it is now, after a deliberate restore.

    Raises:
        JournalCorrupt: the journal itself does not verify; nothing is adopted.
    """
    from sprintboard.config import current_host, load_config  # start-up: see the top

    root = find_workspace(workspace)
    config = load_config(root)
    dsn = config.board.store_dsn()
    if dsn is not None:
        from sprintboard.board.pg.board import PgBoard  # start-up: see _open_store_board
        from sprintboard.board.pg.store import PgStore  # start-up: as above

        store = PgStore(dsn, timeout=config.board.lock_timeout)
        PgBoard.adopt(
            root, store=store, host=current_host(config), policy=policy_from_config(config)
        ).close()
        return
    LocalBoard.adopt(root, host=config.board.owner, policy=policy_from_config(config))


def repair_workspace_journal(workspace: Path | None = None) -> RepairReport:
    """Set aside the journal lines that cannot be applied and re-chain the rest (see
    `sprintboard.board.repair`); the old journal is kept under `.sprintboard/repair/`.

    Raises:
        WorkspaceError, ConfigError, LockTimeout.
    """
    # start-up: only `validate --repair` needs it
    from sprintboard.board.repair import repair_journal
    from sprintboard.config import load_config

    root = find_workspace(workspace)
    config = load_config(root)
    if config.board.store_dsn() is not None:
        raise WorkspaceError(
            root,
            "--repair works on a file journal; this board is in PostgreSQL: copy it out with "
            "`sprintboard migrate --to file DIR`, repair it there, and copy it back",
        )
    paths = board_paths(root)
    paths["local"].mkdir(exist_ok=True)
    label = format_ts(SystemClock().now()).replace(":", "").replace(".", "")
    with BoardLock(paths["lock"], config.board.lock_timeout).hold():
        return repair_journal(
            paths["journal"], paths["head"], paths["snapshot"], paths["local"] / "repair", label
        )
