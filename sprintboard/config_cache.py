"""What the owner's read-only commands need of `sprintboard.toml`, remembered by its bytes.

`load_config` validates the whole file with pydantic, which costs ~80 ms of start-up (the
import and the models), most of a `sprintboard next`. The board owner, this folder's host
name, the lock timeout and the scheduling policy are all those commands need, so once the
file has been validated they are kept in `.sprintboard/config.json` (local, never synced)
with the xxh3 of what they came from: `sprintboard.toml`, `.sprintboard/host.toml`, the
sprintboard version and the size and mtime of the modules that validate them. A changed,
missing or unreadable cache is never trusted: the file is validated again (errors name
file and key as always) and the cache rewritten.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import msgspec
import xxhash

from sprintboard import __version__
from sprintboard.board import scheduling
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.files import CONFIG_FILE, LOCAL_FILE, atomic_write

__all__ = ["CACHE_FILE", "BoardSettings", "board_settings"]

log = logging.getLogger(__name__)

CACHE_FILE = ".sprintboard/config.json"
_FORMAT = 2


@dataclass(frozen=True, slots=True)
class BoardSettings:
    """The settled parts of a validated `sprintboard.toml` (see the module docstring)."""

    owner: str
    local_host: str | None
    """`host` of `.sprintboard/host.toml` (a folder made by `join`), if any."""
    lock_timeout: float
    policy: BoardPolicy
    database: bool = False
    """The board lives in a database (`[board] store` or `dsn_env`), not in this folder's files."""

    def host(self, override: str | None = None) -> str:
        """This process's host, by the precedence of `config.current_host`."""
        return override or os.environ.get("SPRINTBOARD_HOST") or self.local_host or self.owner


@dataclass(frozen=True, slots=True)
class _Kept:
    format: int
    digest: str
    settings: BoardSettings


def _code_stamp() -> str:
    """Size and mtime of the modules that turn the file into settings, so that an upgraded
    or edited sprintboard (one version number all through development) never reads a cache
    an older one wrote."""
    here = Path(__file__)
    modules = (here.with_name("config.py"), here.with_name("workspace.py"))
    stamps = []
    for path in (*modules, Path(scheduling.__file__)):
        try:
            st = path.stat()
        except OSError:
            return "unknown"
        stamps.append(f"{st.st_size}:{st.st_mtime_ns}")
    return ",".join(stamps)


def _digest(root: Path) -> str:
    """xxh3-128 of everything `load_config` reads, and of the code that validates it."""
    h = xxhash.xxh3_128(f"sprintboard {__version__} config/{_FORMAT} {_code_stamp()}\0".encode())
    for name in (CONFIG_FILE, LOCAL_FILE):
        try:
            data = (root / name).read_bytes()
        except FileNotFoundError:
            h.update(b"\0missing\0")
        else:
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
    return h.hexdigest()


def _kept(path: Path, digest: str) -> BoardSettings | None:
    try:
        kept = msgspec.json.decode(path.read_bytes(), type=_Kept)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:  # ValidationError is a DecodeError
        log.warning("%s is unreadable (%s); validating sprintboard.toml again", path, exc)
        return None
    if kept.format != _FORMAT or kept.digest != digest:
        return None
    return kept.settings


def board_settings(root: Path) -> BoardSettings:
    """The settings of the workspace at `root`, from the cache when it was made from these
    very bytes, else from `load_config` (then remembered).

    Raises:
        ConfigError: the file is missing, not TOML, or a key is wrong (file and key named).
    """
    digest = _digest(root)
    path = root / CACHE_FILE
    settings = _kept(path, digest)
    if settings is not None:
        return settings
    # pydantic (sprintboard.config): paid only when the file changed
    from sprintboard.config import load_config
    from sprintboard.workspace import policy_from_config

    config = load_config(root)
    settings = BoardSettings(
        owner=config.board.owner,
        local_host=config.local_host,
        lock_timeout=config.board.lock_timeout,
        policy=policy_from_config(config),
        database=bool(config.board.store or config.board.dsn_env),
    )
    if _digest(root) == digest:  # not edited while it was validated
        try:
            path.parent.mkdir(exist_ok=True)
            atomic_write(path, msgspec.json.encode(_Kept(_FORMAT, digest, settings)), durable=False)
        except OSError as exc:  # a cache: the next call validates again
            log.warning("%s not written (%s)", path, exc)
    return settings
