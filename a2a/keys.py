"""Keys per host pair: made with `keygen`, copied to the peer with `pair`, never in git.

A key file is `<dir>/<a>--<b>.key` (host names sorted), 32 random bytes in hex, mode 0600.
The directory is the workspace's `.sprintboard/keys/` (gitignored, never synced) unless
`$SPRINTBOARD_KEYS` or an explicit path says otherwise; it must not lie inside the shared
`.a2a/` tree.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sprintboard.a2a.envelope import check_host
from sprintboard.errors import ConfigError

__all__ = ["KEYS_ENV", "KeyRing", "key_dir", "keygen", "pair", "pair_file"]

KEYS_ENV = "SPRINTBOARD_KEYS"


def key_dir(workspace: Path, override: Path | None = None, a2a_dir: Path | None = None) -> Path:
    """Where this host keeps its pair keys: `override`, `$SPRINTBOARD_KEYS`, `.sprintboard/keys`.

    Raises:
        ConfigError: the directory lies inside the shared A2A directory.
    """
    env = os.environ.get(KEYS_ENV)
    chosen = Path(override or env or Path(workspace) / ".sprintboard" / "keys").resolve()
    shared = (a2a_dir or Path(workspace) / ".a2a").resolve()
    if chosen == shared or shared in chosen.parents:
        raise ConfigError(
            chosen, None, f"keys must live outside the shared directory {shared}; pick another path"
        )
    return chosen


def pair_file(directory: Path, a: str, b: str) -> Path:
    """The key file of the pair (a, b), the same for (b, a)."""
    first, second = sorted((check_host(a), check_host(b)))
    return Path(directory) / f"{first}--{second}.key"


def _write_key(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def keygen(directory: Path, a: str, b: str) -> str:
    """Make a new key for the pair (a, b); returns it in hex so it can be given to the peer.

    Raises:
        ConfigError: a key for this pair exists already (remove it first to rotate).
    """
    path = pair_file(directory, a, b)
    if path.exists():
        raise ConfigError(path, None, "a key for this pair exists; delete it first to rotate")
    secret = secrets.token_hex(32)
    _write_key(path, secret)
    return secret


def pair(directory: Path, a: str, b: str, secret: str) -> Path:
    """Store the key the peer made with `keygen` (hex, 32 bytes or more).

    Raises:
        ConfigError: the secret is not hex of at least 32 bytes, or a different key exists.
    """
    secret = secret.strip().lower()
    try:
        raw = bytes.fromhex(secret)
    except ValueError:
        raw = b""
    path = pair_file(directory, a, b)
    if len(raw) < 32:
        raise ConfigError(path, None, "the key must be at least 64 hex characters (from keygen)")
    if path.exists():
        if path.read_text(encoding="utf-8").strip() == secret:
            return path
        raise ConfigError(path, None, "a different key exists for this pair; delete it first")
    _write_key(path, secret)
    return path


class KeyRing:
    """Reads pair keys from a directory, once each."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[tuple[str, str], bytes | None] = {}

    def key(self, a: str, b: str) -> bytes | None:
        """The shared key of hosts a and b, or None when they were never paired."""
        pair_key = (min(a, b), max(a, b))
        if pair_key not in self._cache:
            try:
                text = pair_file(self.directory, a, b).read_text(encoding="utf-8")
                self._cache[pair_key] = bytes.fromhex(text.strip())
            except (OSError, ValueError):
                return None
        return self._cache[pair_key]
