"""`sprintboard doctor`: is this workspace ready to run, and if not, what to run.

Each check says ok, warn or fail, what it saw and the command that fixes it: the config
loads; every host pair that must talk has its key here; the owner's A2A inbox is being
handled (`a2a serve`), or, on another host, the owner answers; the journal verifies (every
line, the hash chain, the recorded head); and which hosts were seen alive (board/hosts.py),
a silent host failing only when work waits for it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sprintboard.a2a.keys import key_dir, pair_file
from sprintboard.a2a.node import a2a_dir, open_client
from sprintboard.board.hosts import hosts_seen
from sprintboard.board.waits import waits
from sprintboard.config import WorkspaceConfig, current_host, load_config
from sprintboard.errors import SprintboardError
from sprintboard.workspace import find_workspace, open_board, policy_from_config

__all__ = ["Check", "DoctorReport", "INBOX_STALE_S", "diagnose"]

INBOX_STALE_S = 10.0
"""A message waiting this long in the owner's inbox means nobody serves it (the daemon's
rescan is 2 s)."""

Level = Literal["ok", "warn", "fail"]


class Check(BaseModel):
    """One finding of `doctor`."""

    model_config = ConfigDict(frozen=True)

    name: str
    level: Level
    detail: str
    run: str | None = None
    """The command that fixes it, if any."""


class DoctorReport(BaseModel):
    """`sprintboard doctor --json`."""

    model_config = ConfigDict(frozen=True)

    workspace: str
    host: str
    ok: bool
    """No check failed (warnings allowed)."""
    checks: list[Check]


def diagnose(
    workspace: Path | None = None, host: str | None = None, timeout: float = 5.0
) -> DoctorReport:
    """Check the workspace as host `host` (default: this folder's host) sees it.

    Raises:
        WorkspaceError: no workspace here or above.
    """
    root = find_workspace(workspace)
    checks: list[Check] = []
    try:
        config = load_config(root)
    except SprintboardError as exc:
        checks.append(Check(name="config", level="fail", detail=str(exc)))
        return DoctorReport(workspace=str(root), host=host or "?", ok=False, checks=checks)
    name = current_host(config, host)
    owner = config.board.owner
    checks.append(
        Check(
            name="config",
            level="ok",
            detail=f"{len(config.hosts)} host(s), {len(config.agents)} agent(s); owner {owner}",
        )
    )
    checks += _keys(root, config, name)
    if name == owner:
        checks.append(_inbox(root, config, name))
        checks += _journal_and_hosts(root, config, name)
    else:
        checks.append(_owner_answers(root, name, timeout))
    ok = all(c.level != "fail" for c in checks)
    return DoctorReport(workspace=str(root), host=name, ok=ok, checks=checks)


def _keys(root: Path, config: WorkspaceConfig, name: str) -> list[Check]:

    owner = config.board.owner
    peers = [h.name for h in config.hosts if h.name != owner] if name == owner else [owner]
    try:
        keys = key_dir(root, None, a2a_dir(root, config))
    except SprintboardError as exc:
        return [Check(name="keys", level="fail", detail=str(exc))]
    out = []
    for peer in peers:
        path = pair_file(keys, name, peer)
        if path.is_file():
            out.append(Check(name=f"keys {name}/{peer}", level="ok", detail=f"paired ({path})"))
            continue
        # the owner makes each key; the other host stores the one it printed
        run = (
            f"sprintboard a2a keygen {peer}   (then on {peer}: sprintboard a2a pair {name} -)"
            if name == owner
            else f"on {peer}: sprintboard a2a keygen {name}; here: sprintboard a2a pair "
            f"{peer} - -w {root}"
        )
        out.append(
            Check(
                name=f"keys {name}/{peer}",
                level="fail",
                detail=f"no pair key for {peer} in {keys}: the two hosts cannot talk",
                run=run,
            )
        )
    return out


def _inbox(root: Path, config: WorkspaceConfig, name: str) -> Check:
    """Whether the owner's daemon handles its inbox: messages do not wait long in `new/`."""

    if config.a2a.transport != "dir":
        return Check(name="a2a serve", level="ok", detail=f"transport {config.a2a.transport}: "
                     "not checked from here")  # fmt: skip
    new = a2a_dir(root, config) / name / "inbox" / "new"
    waiting = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime) if new.is_dir() else []
    if not waiting:
        return Check(name="a2a serve", level="ok", detail=f"no message waits in {new}")
    age = time.time() - waiting[0].stat().st_mtime
    if age < INBOX_STALE_S:
        return Check(name="a2a serve", level="ok", detail=f"{len(waiting)} message(s) arriving")
    return Check(
        name="a2a serve",
        level="fail",
        detail=f"{len(waiting)} message(s) wait in {new} (oldest {age:.0f} s): nobody serves "
        "the other hosts",
        run=f"sprintboard a2a serve   (on {name}; keep it running)",
    )


def _journal_and_hosts(root: Path, config: WorkspaceConfig, name: str) -> list[Check]:

    try:
        board = open_board(root, host=name)
        found = board.validate()
    except SprintboardError as exc:
        return [
            Check(name="journal", level="fail", detail=str(exc),
                  run="sprintboard validate   (it says whether --adopt or --repair fits)")
        ]  # fmt: skip
    out = [
        Check(
            name="journal",
            level="ok" if found.snapshot != "differs" else "fail",
            detail=f"{found.events} events, hash chain intact, snapshot {found.snapshot}",
            run=None if found.snapshot != "differs" else "sprintboard validate",
        )
    ]
    state = board.snapshot()
    seen = hosts_seen(state, [h.name for h in config.hosts], name, board.clock.now())
    alive = frozenset(h.host for h in seen if h.alive)
    waiting = waits(state, policy_from_config(config), alive, here=name)
    for h in seen:
        if h.host == name:
            out.append(Check(name=f"host {h.host}", level="ok", detail="the owner (this host)"))
            continue
        if h.alive:
            detail = f"alive: heartbeat {h.age_s:.0f} s ago"
            out.append(Check(name=f"host {h.host}", level="ok", detail=detail))
            continue
        stuck = [w.task for w in waiting if w.on == "host" and h.host in w.who.split()]
        last = "never seen" if h.last_seen is None else f"silent since {h.last_seen}"
        out.append(
            Check(
                name=f"host {h.host}",
                level="fail" if stuck else "warn",
                detail=f"{last}" + (f"; {', '.join(stuck)} wait for it" if stuck else ""),
                run=f"on {h.host}: sprintboard agents run --host {h.host}",
            )
        )
    return out


def _owner_answers(root: Path, name: str, timeout: float) -> Check:

    started = datetime.now(UTC)
    try:
        state = open_client(root, name, timeout=timeout).snapshot()
    except SprintboardError as exc:
        return Check(
            name="owner",
            level="fail",
            detail=str(exc),
            run="on the owner: sprintboard a2a serve   (keep it running)",
        )
    took = (datetime.now(UTC) - started).total_seconds()
    return Check(name="owner", level="ok", detail=f"answered in {took:.1f} s (seq {state.seq})")
