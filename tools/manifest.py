"""The JSON manifest every tool writes beside its output, so a run can be verified and repeated."""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["FileRef", "Manifest", "file_ref", "sha256_file", "write_manifest"]

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class FileRef(BaseModel, frozen=True):
    """A file by content: where it was, its sha256 and size in bytes."""

    path: str
    sha256: str
    size: int


def file_ref(path: Path) -> FileRef:
    """Describe `path` by content."""
    return FileRef(path=str(path), sha256=sha256_file(path), size=path.stat().st_size)


class Manifest(BaseModel):
    """What a tool run read, how it was configured, what it wrote and how long it took."""

    tool: str
    version: str
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    inputs: list[FileRef] = Field(default_factory=list)
    outputs: list[FileRef] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per phase."""
    extra: dict[str, Any] = Field(default_factory=dict)


def write_manifest(path: Path, manifest: Manifest) -> Path:
    """Write `manifest` to `path` atomically (tmp, fsync, rename, fsync dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = manifest.model_dump_json(indent=2).encode("utf-8") + b"\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; board files are shared like any other
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename is durable only once the directory entry is on disk
    finally:
        os.close(dir_fd)
    return path
