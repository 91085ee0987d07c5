"""Core board commands: init, status, add, edit, move, claim, claim-next, heartbeat, release,
submit, log, validate, doctor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json

__all__ = ["register"]

ActorOpt = typer.Option(
    "human:cli",
    "--as",
    help="Who is acting: `human:NAME` (a person), or `AGENT@HOST` with the role and host "
    "sprintboard.toml gives AGENT. A name the config does not list has no role: with "
    "[board] open_claims it may claim builder work and write about the task it holds, "
    "never finish one. Only the Auditor moves a task to done, and only with every "
    "criterion checked; only a person forces a move.",
)


def _board(workspace: Path | None, host: str | None = None) -> Any:
    """The owner's board, for the commands only the owner runs (NotOwner elsewhere)."""
    from sprintboard.workspace import open_board

    return open_board(workspace, host=host)


def _client(workspace: Path | None, host: str | None, timeout: float) -> Any:
    """The board for an agent-facing command on any host (`AGENT_COMMANDS`): the owner's
    `LocalBoard`, or a `RemoteBoard` that asks the owner and waits `timeout` seconds."""
    from sprintboard.a2a.node import open_client

    return open_client(workspace, host, timeout=timeout)


def _default_ttl(board: Any) -> int:
    from sprintboard.config import load_config

    return load_config(board.root).board.default_ttl


def _parse_estimate(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    low, _, high = text.replace("min", "").strip().partition("-")
    try:
        return {"low": int(low), "high": int(high or low)}
    except ValueError:
        raise typer.BadParameter(f"{text!r}: write minutes as LOW-HIGH, e.g. 120-180") from None


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def init(
    directory: Path = typer.Argument(Path("."), help="Directory to make a workspace in."),
    owner: str = typer.Option("alpha", help="The host that owns the board."),
    host: list[str] = typer.Option(
        [], "--add-host", help="Another host as NAME or NAME:cap1,cap2 (repeatable)."
    ),
    no_git: bool = typer.Option(False, "--no-git", help="Do not make the workspace a git repo."),
    store: str | None = typer.Option(
        None,
        "--store",
        help="Keep the board in PostgreSQL: postgresql://USER@HOST:PORT/DB (no password: "
        "PGPASSWORD, ~/.pgpass or [board] dsn_env). Default: the file journal.",
    ),
) -> None:
    """Make DIRECTORY a sprintboard workspace."""
    from sprintboard.workspace import init_workspace

    hosts: list[tuple[str, list[str]]] = [(owner, [])]
    for spec in host:
        name, _, caps = spec.partition(":")
        if name == owner:
            hosts[0] = (owner, _split([caps]))
        else:
            hosts.append((name, _split([caps])))
    root = init_workspace(directory, owner=owner, hosts=hosts, git=not no_git, store=store)
    where = f"board in {store}" if store else f"owner {owner}"
    typer.echo(f"workspace ready at {root} ({where})")
    if store is None:  # with a store every host opens it directly: `join` prints its steps
        for line in _next_steps(root, owner, [name for name, _ in hosts[1:]]):
            typer.echo(line)


def _next_steps(root: Path, owner: str, others: list[str]) -> list[str]:
    """What a person does next, host by host: the keys and the commands each host runs."""
    lines = [
        "",
        "next steps:",
        f"  cd {root}",
        "  sprintboard import BACKLOG.md   (or: sprintboard agents plan --recipe finetune "
        '--objective "...")',
        f"  sprintboard agents run --host {owner}   (the agents of {owner}, the owner)",
    ]
    for host in others:
        lines += [
            f"  host {host} (nothing is routed to it until its runner is seen):",
            f"    on {owner}: sprintboard a2a keygen {host}   (prints the pair key, once)",
            f"    on {owner}: sprintboard a2a serve   (keep it running: it answers {host})",
            f"    on {host}:  sprintboard join {root} ~/{root.name} --host {host}",
            f"    on {host}:  sprintboard a2a pair {owner} - -w ~/{root.name}   (paste the key)",
            f"    on {host}:  sprintboard agents run --host {host} -w ~/{root.name}",
        ]
    lines.append("  sprintboard doctor   (checks the workspace and says what to run)")
    return lines


def status(
    workspace: Path | None = options.WORKSPACE,
    state: list[str] = typer.Option(
        [],
        "--status",
        "-s",
        help="Only tasks in these states, statuses or columns (repeatable or comma-separated), "
        "e.g. ready, waiting, blocked, review.",
    ),
    role: str | None = typer.Option(None, "--role", help="Only tasks of this role."),
    agent: str | None = typer.Option(None, "--agent", "-a", help="Only tasks this agent holds."),
    mine: bool = typer.Option(
        False, "--mine", help="Only tasks of the agent named by $SPRINTBOARD_AGENT."
    ),
    on_host: str | None = typer.Option(
        None, "--on", help="Only tasks leased or assigned on this host, e.g. --on beta."
    ),
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Show the board: one line per task by column, with state, owner, lease age and what
    it waits for. On a host that is not the owner, when the owner does not answer, the last
    snapshot it sent is shown (with its age) and the exit code is 1."""
    import os
    from datetime import UTC, datetime

    from sprintboard.board.hosts import alive_hosts
    from sprintboard.commands.output import console
    from sprintboard.config import load_config
    from sprintboard.errors import OwnerUnreachable
    from sprintboard.status import StaleRow, StatusFilter, board_status, status_lines
    from sprintboard.workspace import policy_from_config

    if mine:
        agent = agent or os.environ.get("SPRINTBOARD_AGENT")
        if not agent:
            raise typer.BadParameter("--mine needs $SPRINTBOARD_AGENT; or name it: --agent NAME")
    board = _client(workspace, host, timeout)
    config = load_config(board.root)
    policy = policy_from_config(config)
    now = datetime.now(UTC)
    unanswered: OwnerUnreachable | None = None
    try:
        snap = board.snapshot()
    except OwnerUnreachable as exc:
        cached = board.cached_snapshot()
        if cached is None:
            raise
        unanswered = exc
        snap = cached.state
    alive = alive_hosts(snap, config.board.owner, now)
    report = board_status(board, snap, policy=policy, alive=alive)
    if unanswered is not None:
        stale = StaleRow(
            received=cached.received, age_s=round(cached.age, 1), reason=str(unanswered)
        )
        report = report.model_copy(update={"stale": stale})
    keep = StatusFilter(frozenset(s.lower() for s in _split(state)), role, agent, on_host)
    rows = [r for r in report.tasks if keep.keeps(r)]
    if json:  # `stale` appears only when the report is the owner's last snapshot
        shown = report.model_copy(update={"tasks": rows})
        print_json(shown.model_dump(mode="json", exclude=None if report.stale else {"stale"}))
    else:
        out = console()
        for line in status_lines(report, rows, now):
            out.print(line, soft_wrap=True)
    if unanswered is not None and report.stale is not None:
        typer.echo(
            f"error: {unanswered}. Shown: the owner's last snapshot, received "
            f"{report.stale.received} ({report.stale.age_s:g}s ago, seq {report.journal.seq}).",
            err=True,
        )
        raise typer.Exit(1)


def add(
    task_id: str = typer.Argument(..., help="Task id, e.g. T009."),
    title: str = typer.Argument(...),
    priority: int = typer.Option(3, "--priority", "-p", help="Lower is more urgent."),
    deps: list[str] = typer.Option(
        [], "--dep", "-d", help="Dependency ids (repeatable or comma-separated)."
    ),
    role: str = typer.Option("builder", help="Role that works the task."),
    caps: list[str] = typer.Option(
        [],
        "--caps",
        "--cap",
        help="Capabilities a builder needs to take it, comma-separated or repeated "
        "(e.g. code,gpu); a task without steps goes to a command or llm builder that has them.",
    ),
    estimate: str | None = typer.Option(None, help="Minutes as LOW-HIGH, e.g. 120-180."),
    description: str = typer.Option("", help="Free text."),
    criterion: list[str] = typer.Option(
        [], "--criterion", "-c", help="Acceptance criterion (repeatable)."
    ),
    status_: str = typer.Option("ready", "--status", help="Initial status."),
    workspace: Path | None = options.WORKSPACE,
    actor: str = ActorOpt,
    json: bool = options.JSON,
) -> None:
    """Add a task."""
    from sprintboard.board.criteria import parse_criterion
    from sprintboard.board.values import one_line

    board = _board(workspace)
    data: dict[str, Any] = {
        "id": task_id,
        "title": one_line(title, "title"),
        "status": status_,
        "priority": priority,
        "dependencies": _split(deps),
        "role": role,
        "caps": _split(caps),
        "estimate": _parse_estimate(estimate),
        "description": description,
        "criteria": [parse_criterion(c) for c in criterion],
    }
    board.create_tasks([data], actor=actor)
    _print_task(board, task_id, json, f"added {task_id}")


def edit(
    task_id: str = typer.Argument(..., help="The task to change, e.g. T009."),
    title: str | None = typer.Option(None, help="New one-line title."),
    priority: int | None = typer.Option(None, "--priority", "-p", help="Lower is more urgent."),
    deps: list[str] | None = typer.Option(None, "--dep", "-d", help="Replace the dependency list."),
    role: str | None = typer.Option(None, help="Role that works the task."),
    caps: list[str] | None = typer.Option(
        None, "--caps", "--cap", help="Replace the capabilities, comma-separated (e.g. code,gpu)."
    ),
    estimate: str | None = typer.Option(None, help="Minutes as LOW-HIGH, e.g. 120-180."),
    description: str | None = typer.Option(None, help="New free text."),
    owner: str | None = typer.Option(None, help="Assign to an agent (empty string to clear)."),
    workspace: Path | None = options.WORKSPACE,
    actor: str = ActorOpt,
    json: bool = options.JSON,
) -> None:
    """Change fields of a task."""
    from sprintboard.board.values import one_line

    fields: dict[str, Any] = {}
    for name, value in (
        ("title", None if title is None else one_line(title, "title")),
        ("priority", priority),
        ("role", role),
        ("description", description),
    ):
        if value is not None:
            fields[name] = value
    if deps is not None:
        fields["dependencies"] = _split(deps)
    if caps is not None:
        fields["caps"] = _split(caps)
    if estimate is not None:
        fields["estimate"] = _parse_estimate(estimate)
    if owner is not None:
        fields["agent"] = owner or None
    if not fields:
        raise typer.BadParameter("nothing to change; give at least one option")
    board = _board(workspace)
    board.update_task(task_id, fields, actor=actor)
    _print_task(board, task_id, json, f"updated {task_id}: {', '.join(sorted(fields))}")


def move(
    task_id: str,
    to: str = typer.Argument(..., help="Target status, e.g. ready, blocked, done."),
    reason: str | None = typer.Option(None, "--reason", "-r", help="Why (required for blocked)."),
    force: bool = typer.Option(
        False, "--force", help="Allow a move the status table does not (a person's override)."
    ),
    workspace: Path | None = options.WORKSPACE,
    actor: str = ActorOpt,
    json: bool = options.JSON,
) -> None:
    """Move a task to another status."""
    from sprintboard.board.models import STATUSES

    if to not in STATUSES:
        raise typer.BadParameter(f"{to!r} is not a status; one of: {', '.join(STATUSES)}")
    from sprintboard.board.values import one_line

    if reason is not None:
        reason = one_line(reason, "reason", empty=True) or None
    board = _board(workspace)
    before = board.snapshot().task(task_id)
    unchanged = before.status == to and (
        to != "blocked" or not reason or reason == before.blocked_reason
    )
    task = board.move(task_id, to, actor, reason=reason, force=force)
    said = (
        f"{task.id} is already {to}; nothing changed"
        if unchanged
        else f"{task.id} -> {task.status}"
    )
    _print_task(board, task.id, json, said)


def claim(
    task_id: str,
    agent: str = typer.Option(..., "--agent", "-a", help="The agent that takes the lease."),
    host: str | None = options.HOST,
    ttl: int | None = typer.Option(None, help="Lease seconds (default: [board] default_ttl)."),
    workspace: Path | None = options.WORKSPACE,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Claim a task for AGENT on this host; prints the fencing token."""
    board = _client(workspace, None, timeout)  # --host names the lease's host
    seconds = _default_ttl(board) if ttl is None else ttl
    lease = board.claim(task_id, agent=agent, host=host or board.host, ttl=seconds)
    _print_lease(task_id, lease, json)


def _print_task(board: Any, task_id: str, json: bool, said: str) -> None:
    """`said` for a person, or with `--json` the task as it now stands (the document of
    `show --json`), so every command that changes a task answers a script the same way."""
    if json:
        print_json(board.task(task_id))
    else:
        typer.echo(said)


def _print_lease(task_id: str, lease: Any, json: bool) -> None:
    if json:
        print_json(
            {
                "task": task_id,
                "agent": lease.agent,
                "host": lease.host,
                "fence": lease.fence,
                "expires": lease.expires,
            }
        )
    else:
        typer.echo(
            f"{task_id} -> {lease.agent}@{lease.host} fence={lease.fence} expires={lease.expires}"
        )


def claim_next(
    agent: str = typer.Option(
        ...,
        "--agent",
        "-a",
        help="The agent to claim for; its role, host, capabilities and WIP come from "
        "sprintboard.toml (an unlisted name claims builder work only with [board] open_claims).",
    ),
    role: str | None = typer.Option(None, "--role", help="Only this role's tasks."),
    caps: list[str] = typer.Option(
        [], "--caps", help="Only tasks needing at most these capabilities (comma-separated)."
    ),
    host: str | None = options.HOST,
    ttl: int | None = typer.Option(None, help="Lease seconds (default: [board] default_ttl)."),
    workspace: Path | None = options.WORKSPACE,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Claim the task `next --agent AGENT` ranks first; exit 1 with the reason if none fits."""
    board = _client(workspace, None, timeout)  # --host names the lease's host
    seconds = ttl or _default_ttl(board)
    cap_list = _split(caps) or None
    task = board.claim_next(agent, role, cap_list, seconds, host=host)
    if task is None or task.lease is None:
        empty = board.next_up(agent, role, cap_list, host=host, limit=1).why
        reason = empty.reason if empty else "the task it ranked first was just taken"
        if json:
            limit = empty.wip_limit if empty else None
            print_json({"task": None, "reason": reason, "wip_limit": limit})
        else:
            typer.echo(f"nothing to claim: {reason}", err=True)
        raise SystemExit(1)
    _print_lease(task.id, task.lease, json)


def heartbeat(
    task_id: str,
    fence: int = options.FENCE,
    message: str | None = options.MESSAGE,
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Extend a lease (the fencing token must be current); `--message` leaves a note too."""
    board = _client(workspace, host, timeout)
    lease = board.heartbeat(task_id, fence)
    if message:
        board.note(task_id, message, f"{lease.agent}@{lease.host}", fence)
    if json:
        _print_lease(task_id, lease, json)
    else:
        typer.echo(f"{task_id} lease extended to {lease.expires}")


def _note_as_holder(board: Any, task_id: str, fence: int, message: str) -> None:
    """A note by whoever holds the lease with `fence` (refused when it is stale)."""
    lease = board.task(task_id).lease
    holder = f"{lease.agent}@{lease.host}" if lease is not None else "human:cli"
    board.note(task_id, message, holder, fence)


def release(
    task_id: str,
    fence: int = options.FENCE,
    reason: str = typer.Option("released", "--reason", "-r", help="Why, for the journal."),
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Give a lease back; the task returns to ready."""
    board = _client(workspace, host, timeout)
    board.release(task_id, fence, reason)
    _print_task(board, task_id, json, f"{task_id} released")


def submit(
    task_id: str,
    fence: int = options.FENCE,
    message: str | None = options.MESSAGE,
    artifact: list[Path] = typer.Option([], "--artifact", help="Output file (hashed; repeatable)."),
    metric: list[str] = typer.Option([], "--metric", "-m", help="NAME=VALUE (repeatable)."),
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Hand in a result for the Auditor: artifacts and metrics, with the fencing token.

    Artifact paths are recorded relative to the workspace root, as every door records them;
    a remote host sends the file itself (a blob), named wherever this runs from.
    """
    from sprintboard.board.local import LocalBoard
    from sprintboard.board.values import metrics as checked_metrics
    from sprintboard.files import FileRef, file_digest, workspace_file_ref

    board = _client(workspace, host, timeout)
    arts = []
    for path in artifact:
        if not path.is_file():
            raise typer.BadParameter(f"{path}: no such file")
        if isinstance(board, LocalBoard):
            arts.append(workspace_file_ref(board.root, path))
        else:
            sha, size = file_digest(path)
            arts.append(FileRef(path=str(path.resolve()), sha256=sha, size=size))
    metrics: dict[str, str] = {}
    for item in metric:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: write NAME=NUMBER")
        metrics[name] = value
    checked = checked_metrics(metrics, task_id)
    if message:  # while the lease is held: the submit ends it
        _note_as_holder(board, task_id, fence, message)
    task = board.submit(task_id, fence, arts, checked)
    _print_task(board, task.id, json, f"{task.id} submitted -> {task.status}")


def log(
    limit: int = typer.Option(20, "--limit", "-n", help="Events to show (0 for all)."),
    task: str | None = typer.Option(None, "--task", "-t", help="Only this task's events."),
    workspace: Path | None = options.WORKSPACE,
    json: bool = options.JSON,
) -> None:
    """Show the tail of the journal."""
    from sprintboard.status import event_row

    events = [e for e in _board(workspace).events() if task is None or e.task == task]
    if limit:
        events = events[-limit:]
    rows = [event_row(e) for e in events]
    if json:
        print_json(rows)
        return
    for r in rows:
        detail = " ".join(f"{k}={_shown(v)}" for k, v in r.fields.items() if k != "task")
        typer.echo(f"{r.seq:>6} {r.ts} {r.actor:<22} {r.op:<16} {r.task or '-':<8} {detail}"[:200])


def _shown(value: Any) -> str:
    """A journal field as a person reads it: lists comma-separated, records as JSON."""
    if isinstance(value, list | tuple) and all(isinstance(v, str | int) for v in value):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict | list | tuple):
        import json  # only the log pays for it

        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def validate(
    workspace: Path | None = options.WORKSPACE,
    adopt: bool = typer.Option(
        False, "--adopt", help="Accept a journal that was deliberately restored from an older copy."
    ),
    repair: bool = typer.Option(
        False,
        "--repair",
        help="Set aside journal lines that cannot be applied and re-chain the rest "
        "(later events are kept; the old journal is backed up).",
    ),
    json: bool = options.JSON,
) -> None:
    """Check the whole journal (every line, the hash chain, the recorded head), the
    snapshot against it, and the config. Exit 1 when the snapshot disagreed."""
    if adopt:
        from sprintboard.workspace import adopt_journal

        adopt_journal(workspace)
    if repair:
        from sprintboard.workspace import repair_workspace_journal

        fixed = repair_workspace_journal(workspace)
        for line, why in fixed.set_aside:
            typer.echo(f"set aside line {line}: {why}", err=True)
        typer.echo(
            f"repaired: {fixed.kept} events kept ({fixed.rechained} re-chained), "
            f"{len(fixed.set_aside)} line(s) set aside"
            + (f" in {fixed.aside_file}" if fixed.aside_file else "")
            + f"; the old journal is {fixed.backup}",
            err=True,
        )
    board = _board(workspace)
    found = board.validate()
    ok = found.snapshot != "differs"
    if json:
        print_json(
            {
                "ok": ok,
                "events": found.events,
                "snapshot": found.snapshot,
                "detail": found.detail,
                "workspace": str(board.root),
            }
        )
    elif ok:
        snapshot = "snapshot in step" if found.snapshot == "in step" else found.detail
        typer.echo(f"ok: {found.events} events, hash chain intact, {snapshot}")
    else:
        typer.echo(
            f"error: {board.snapshot_path} disagreed with the journal: {found.detail}. It was "
            "rebuilt from the journal (the truth); find out who edited it by hand.",
            err=True,
        )
    if not ok:
        raise typer.Exit(1)


def doctor(
    workspace: Path | None = options.WORKSPACE,
    host: str | None = options.HOST,
    timeout: float = options.TIMEOUT,
    json: bool = options.JSON,
) -> None:
    """Check this workspace (config, pair keys, `a2a serve`, the journal, hosts alive) and
    say what to run; exit 1 when a check fails."""
    from sprintboard.doctor import diagnose

    report = diagnose(workspace, host, timeout)
    if json:
        print_json(report)
    else:
        for check in report.checks:
            typer.echo(f"{check.level:<4}  {check.name}: {check.detail}")
            if check.run and check.level != "ok":
                typer.echo(f"      run: {check.run}")
        typer.echo("all good" if report.ok else "problems found: run what is listed above")
    if not report.ok:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add the core commands to the root app."""
    for fn in (
        init, status, add, edit, move, claim, heartbeat, release, submit, log, validate, doctor
    ):  # fmt: skip
        root.command(fn.__name__)(fn)
    root.command("claim-next")(claim_next)
