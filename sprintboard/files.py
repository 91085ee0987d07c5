"""File primitives every room may use: atomic replace, atomic exchange, fsynced append,
fsync of a directory, a file's sha256, and `FileRef`, a file named by its content.

A reader sees either the old file or the new one, never a mix, and after a crash the
file is one or the other. This is the one home of these rules (board, a2a, agents and
tools all write through it), so a durability fix lands everywhere at once.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sprintboard.errors import WorkspaceError

__all__ = [
    "CONFIG_FILE",
    "LOCAL_FILE",
    "FileRef",
    "append_durable",
    "atomic_write",
    "exchange",
    "file_digest",
    "file_ref",
    "fsync_dir",
    "fsync_path",
    "sha256_file",
    "workspace_file_ref",
]

_CHUNK = 1 << 20

CONFIG_FILE = "sprintboard.toml"
"""The file that makes a directory a workspace (contract 9); `sprintboard.config` reads it."""
LOCAL_FILE = ".sprintboard/host.toml"
"""This folder's own settings (never synced; `sprintboard join` writes it): `host = NAME`
and an optional `[a2a]` table whose keys replace those of sprintboard.toml here."""

# ctypes, hashlib and tempfile are imported where they are used: reading a board (`next`,
# `status`) needs none of them, and together they cost ~10 ms of every start-up.


def _named(exc: OSError, path: Path) -> OSError:
    """The same error with the file it happened to (os.write's ENOSPC names none)."""
    if exc.filename is not None or exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@cache
def _renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # start-up: only a KANBAN.md swap needs it (see the note at the top)

    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28+
    except (AttributeError, OSError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def exchange(a: Path, b: Path) -> bool:
    """Swap the files at `a` and `b` in one atomic step (Linux `renameat2` with
    `RENAME_EXCHANGE`); False where the system or file system cannot, and nothing moved.

    Unlike a rename over `b`, nothing that was at `b` is lost: whatever someone renamed
    there a moment before is now at `a`, to be looked at.

    Raises:
        OSError: either path is missing, or another failure of the swap itself.
    """
    func = _renameat2()
    if func is None:
        return False
    done = func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    import ctypes  # start-up, as in _renameat2

    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or create inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: Path) -> None:
    """fsync a file or directory by path (a file written by a library that does not fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data`: write a tmp file, fsync, rename over, fsync the directory.

    `durable=False` skips both fsyncs: still atomic for readers, but after a power loss the
    file may be the old one or unreadable — only for files that can be rebuilt or checked.
    """
    import tempfile  # start-up: a read-only command writes nothing

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; board files are shared like any other
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _named(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)  # the rename is durable only once the directory entry is on disk


def append_durable(path: Path, data: bytes, expected_size: int) -> int:
    """Append `data` at `expected_size` and fsync; return the new size.

    On any failure (disk full, I/O error) the file is cut back to `expected_size`, so a
    failed append leaves no torn line behind.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            os.lseek(fd, expected_size, os.SEEK_SET)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException as exc:
            os.ftruncate(fd, expected_size)
            os.fsync(fd)
            if isinstance(exc, OSError):
                raise _named(exc, path) from exc
            raise
    finally:
        os.close(fd)
    return expected_size + len(data)


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 (hex) and size in bytes of a file, read in 1 MiB chunks."""
    import hashlib  # start-up: OpenSSL's loader, for artifacts only

    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    return file_digest(path)[0]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file by content (contract 8): where it is, its sha256 (hex) and size in bytes.

    The board calls it an `Artifact`; there the path is relative to the workspace root
    (`workspace_file_ref`). Tool manifests record paths as the tool was given them, since
    a tool knows no workspace. Pydantic models hold it as they hold their own fields.
    """

    path: str
    sha256: str
    size: int


def file_ref(path: Path) -> FileRef:
    """Describe `path` by content; the recorded path is `path` as given."""
    sha, size = file_digest(path)
    return FileRef(path=str(path), sha256=sha, size=size)


def workspace_file_ref(root: Path, path: Path) -> FileRef:
    """Describe `path` by content, its path recorded relative to the workspace `root`
    (posix separators): the one rule for artifacts, whichever door hands them in.

    A relative `path` is taken from the current directory, as a shell would.

    Raises:
        WorkspaceError: `path` is not inside `root`.
    """
    # normpath, not resolve: a link inside the workspace is recorded where it is
    full = Path(os.path.normpath(Path(path).absolute()))
    base = Path(os.path.normpath(Path(root).absolute()))
    if not full.is_relative_to(base):
        raise WorkspaceError(
            path, f"not inside the workspace {base}; artifacts are recorded relative to it"
        )
    sha, size = file_digest(full)
    return FileRef(path=full.relative_to(base).as_posix(), sha256=sha, size=size)
