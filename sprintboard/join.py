"""`sprintboard join SOURCE DIR --host NAME`: a folder where a host that is not the owner
works the board.

SOURCE is the owner's workspace (a path this machine sees: a network or synced mount) or
its git remote. DIR gets:

- a `sprintboard.toml`: the owner's, with an `[a2a]` table that reaches the owner: the
  owner's shared A2A directory (a path), the owner's git remote (git), or its A2A endpoint
  (`--url`, the http transport; answers land in DIR's own `.a2a/`);
- its own `.sprintboard/` (checkpoints, keys, seen message ids, the last snapshot: never
  shared), with `host.toml` saying which host this folder is, so no `SPRINTBOARD_HOST`
  is needed;
- the shared data folders the owner's `[a2a] shared` names, linked (a path) or as the
  clone has them (git).

DIR never gets the board files: every board call from it is a signed message to the owner.
A git SOURCE is cloned into DIR (the project's files come along); its tracked
`sprintboard.toml` stays the owner's, and what differs here lives in `host.toml`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict

from sprintboard.board import values
from sprintboard.config import CONFIG_FILE, LOCAL_FILE, WorkspaceConfig, load_config
from sprintboard.errors import WorkspaceError

__all__ = ["JoinReport", "join_workspace"]

_HEADER = re.compile(r"^\s*\[")
_A2A_HEADER = re.compile(r"^\s*\[\s*a2a\s*\]\s*(#.*)?$")


class JoinReport(BaseModel):
    """What `join` made, and what a person does next (`sprintboard join --json`)."""

    model_config = ConfigDict(frozen=True)

    host: str
    folder: str
    owner: str
    transport: str
    """How this folder reaches the owner, in words: `dir /mnt/alpha/.a2a`, `git URL`, ..."""
    source: str
    linked: list[str]
    """Shared folders linked into the folder (a path SOURCE)."""
    next_steps: list[str]
    warnings: list[str]


def _is_git_url(source: str) -> bool:
    return (
        "://" in source
        or source.endswith(".git")
        or re.match(r"^[\w.-]+@[\w.-]+:", source) is not None
    )


def _toml_str(text: str) -> str:
    return orjson.dumps(text).decode()  # a TOML basic string is a JSON string here


def _a2a_table(config: WorkspaceConfig, **changes: object) -> list[str]:
    table = {**config.a2a.model_dump(), **changes}
    lines = ["[a2a]"]
    for key in ("dir", "transport", "remote", "url", "ttl", "max_skew", "shared"):
        value = table.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            lines.append(f"{key} = {_toml_str(value)}")
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(_toml_str(str(v)) for v in value)}]")
        else:
            lines.append(f"{key} = {value}")
    return lines


def _with_a2a(text: str, table: list[str], note: str) -> str:
    """The config text with its `[a2a]` table replaced (or added): other tables verbatim."""
    out: list[str] = []
    inside = placed = False
    for line in text.splitlines():
        if _A2A_HEADER.match(line):
            inside = placed = True
            out += [note, *table]
            continue
        if inside and _HEADER.match(line):
            inside = False
            out.append("")
        if not inside:
            out.append(line)
    if not placed:
        out += ["", note, *table]
    return "\n".join(out).rstrip("\n") + "\n"


def _check_target(directory: Path) -> Path:
    target = Path(directory).expanduser().resolve()
    if (target / CONFIG_FILE).exists():
        raise WorkspaceError(
            target, f"already a workspace ({CONFIG_FILE} exists); pick a new folder"
        )
    if target.exists() and any(target.iterdir()):
        raise WorkspaceError(target, "not empty; join into a new or empty folder")
    return target


def _check_host(host: str, config: WorkspaceConfig, where: Path) -> list[str]:
    name = values.host(host, "host")
    if name == config.board.owner:
        raise WorkspaceError(
            where, f"{name} is the board owner; join makes a folder for another host"
        )
    warnings = []
    if config.hosts and config.host(name) is None:
        listed = ", ".join(h.name for h in config.hosts)
        warnings.append(
            f"the owner's sprintboard.toml lists no host {name} (only {listed}): add a "
            f'[[hosts]] name = "{name}" there so its agents and capabilities count'
        )
    if not any(a.host == name for a in config.agents):
        warnings.append(
            f"no agent runs on {name} in the owner's sprintboard.toml: add one under "
            f'[[agents]] (host = "{name}") there, or set [board] open_claims = true'
        )
    return warnings


def _write_local(target: Path, host: str, owner: str, a2a: dict[str, str] | None) -> None:
    local = target / LOCAL_FILE
    local.parent.mkdir(parents=True, exist_ok=True)
    (local.parent / "keys").mkdir(mode=0o700, exist_ok=True)
    lines = [
        f"# This folder is host {host} (written by `sprintboard join`; never synced).",
        f"# The board owner is {owner}; every board call from here is a message to it.",
        f"host = {_toml_str(host)}",
    ]
    if a2a:
        lines += ["", "# replaces these keys of sprintboard.toml's [a2a] here", "[a2a]"]
        lines += [f"{k} = {_toml_str(v)}" for k, v in a2a.items()]
    local.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _steps(host: str, owner: str, target: Path, owner_dir: str, transport: str) -> list[str]:
    serve = (
        "sprintboard a2a http --bind ADDRESS" if transport == "http" else "sprintboard a2a serve"
    )
    return [
        f"on {owner}: sprintboard a2a keygen {host} -w {owner_dir}   (prints a key, once)",
        f"here:     sprintboard a2a pair {owner} - -w {target}   (paste that key)",
        f"on {owner}: keep `{serve}` running (it answers this host)",
        f"here:     sprintboard status -w {target}   (then next, claim-next, mcp ...)",
    ]


def _reach(config: WorkspaceConfig, root: Path, url: str | None) -> tuple[dict[str, object], str]:
    """How the host reaches the owner (the `[a2a]` keys to change) and that in words:
    its HTTP endpoint, the git remote, or the owner's shared A2A folder."""
    if url is not None:
        return {"transport": "http", "url": url, "dir": ".a2a"}, f"http {url}"
    if config.a2a.transport == "git":
        return {"dir": ".a2a"}, f"git {config.a2a.remote}"
    shared = (root / config.a2a.dir).resolve()
    return {"dir": str(shared), "transport": "dir"}, f"dir {shared}"


def _link_shared(
    config: WorkspaceConfig, root: Path, target: Path, warnings: list[str]
) -> list[str]:
    """Link the owner's `[a2a] shared` folders into the host's; a missing one is a warning."""
    linked = []
    for name in config.a2a.shared:
        if (root / name).is_dir():
            (target / name).symlink_to(root / name, target_is_directory=True)
            linked.append(name)
        else:
            warnings.append(f"the shared folder {root / name} does not exist; nothing linked")
    return linked


def join_workspace(
    source: str | Path, directory: Path, host: str, *, url: str | None = None
) -> JoinReport:
    """Make `directory` host `host`'s folder for the board whose owner's workspace is
    `source` (a path) or is cloned from `source` (a git URL); `url`: reach the owner's
    A2A HTTP endpoint instead of its directory or git remote.

    Raises:
        WorkspaceError: `source` is no workspace, `directory` is taken, or `host` is the owner.
        ConfigError: the owner's sprintboard.toml is invalid, or `url` is not http(s).
    """
    text = str(source)
    if _is_git_url(text) and not Path(text).is_dir():
        return _join_git(text, directory, host, url=url)
    root = Path(text).expanduser().resolve()
    if not (root / CONFIG_FILE).is_file():
        raise WorkspaceError(
            root, f"no {CONFIG_FILE} here: give the owner's workspace folder or its git remote"
        )
    config = load_config(root)
    target = _check_target(directory)
    if target == root or root in target.parents:
        raise WorkspaceError(target, "make the host's folder outside the owner's workspace")
    warnings = _check_host(host, config, root)
    owner = config.board.owner
    changes, where = _reach(config, root, url)
    target.mkdir(parents=True, exist_ok=True)
    note = f"# [a2a] written by `sprintboard join` for host {host}: reaches {owner} by {where}"
    body = _with_a2a(
        (root / CONFIG_FILE).read_text(encoding="utf-8"), _a2a_table(config, **changes), note
    )
    (target / CONFIG_FILE).write_text(body, encoding="utf-8")
    load_config(target)  # what was written must read back
    _write_local(target, host, owner, None)
    (target / ".gitignore").write_text(".sprintboard/\n", encoding="utf-8")
    linked = _link_shared(config, root, target, warnings)
    transport = "http" if url else config.a2a.transport
    return JoinReport(
        host=host,
        folder=str(target),
        owner=owner,
        transport=where,
        source=str(root),
        linked=linked,
        next_steps=_steps(host, owner, target, str(root), transport),
        warnings=warnings,
    )


def _undo_clone(target: Path, made: bool) -> None:
    """Leave the folder as it was: gone if join made it, else empty."""
    if made:
        shutil.rmtree(target, ignore_errors=True)
        return
    for child in target.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _join_git(source: str, directory: Path, host: str, *, url: str | None) -> JoinReport:
    import git  # gitpython: only a git join needs it

    target = _check_target(directory)
    made = not target.exists()
    git.Repo.clone_from(source, target)
    try:
        if not (target / CONFIG_FILE).is_file():
            raise WorkspaceError(target, f"the repository {source} has no {CONFIG_FILE} at its top")
        config = load_config(target)
        warnings = _check_host(host, config, target)
        owner = config.board.owner
        if url is None and config.a2a.transport != "git":
            raise WorkspaceError(
                target,
                f"the owner {owner} takes messages through a shared folder ([a2a] transport "
                f'= "{config.a2a.transport}"): join from that folder\'s path, give --url for '
                f'its `a2a http` endpoint, or set transport = "git" and remote = "{source}" '
                "on the owner (and restart its a2a serve)",
            )
    except BaseException:
        _undo_clone(target, made)
        raise
    overlay = {"transport": "http", "url": url} if url else None
    _write_local(target, host, owner, overlay)
    load_config(target)
    missing = [n for n in config.a2a.shared if not (target / n).is_dir()]
    if missing:
        warnings.append(
            f"shared folder(s) {', '.join(missing)} are not in the repository; bring them "
            "here (a mount or a copy) before running tasks that read them"
        )
    where = f"http {url}" if url else f"git {config.a2a.remote}"
    return JoinReport(
        host=host,
        folder=str(target),
        owner=owner,
        transport=where,
        source=source,
        linked=[],
        next_steps=_steps(host, owner, target, "OWNER_WORKSPACE", "http" if url else "git"),
        warnings=warnings,
    )
