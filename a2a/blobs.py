"""Content-addressed blobs: `.a2a/blobs/<sha256>`, verified whenever they are used.

A result names its artifacts by sha256; the files travel beside the message as blobs.
The owner checks each blob's size and hash on arrival and copies it to
`runs/<task>/<attempt>/` only for an accepted, fenced result (DESIGN.md contract 8).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from sprintboard.board.models import Artifact
from sprintboard.errors import MessageRejected
from sprintboard.files import file_digest, fsync_dir

__all__ = ["BlobStore"]

_SHA = re.compile(r"[0-9a-f]{64}")


class BlobStore:
    """The blob directory of an A2A tree."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where a blob lives.

        Raises:
            MessageRejected: `sha256` is not 64 lowercase hex characters (a path trick).
        """
        if not _SHA.fullmatch(sha256):
            raise MessageRejected(sha256[:80], "blob name is not a sha256 (path traversal?)")
        return self.root / sha256

    def put(self, source: Path, name: str | None = None) -> Artifact:
        """Copy a file in (tmp, fsync, rename); returns its artifact record."""
        sha, size = file_digest(source)
        target = self.path(sha)
        if not target.exists():
            tmp = self.root / f".{sha}.{os.getpid()}.tmp"
            shutil.copyfile(source, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            fsync_dir(self.root)
        return Artifact(path=name or Path(source).name, sha256=sha, size=size)

    def verify(self, sha256: str, size: int) -> Path:
        """The blob's path once its size and hash check out.

        Raises:
            MessageRejected: missing, not a regular file, wrong size or wrong hash.
        """
        path = self.path(sha256)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise MessageRejected(sha256, f"blob {sha256[:12]} has not arrived") from None
        if not stat.S_ISREG(info.st_mode):
            raise MessageRejected(sha256, f"blob {sha256[:12]} is not a regular file")
        if info.st_size != size:
            raise MessageRejected(sha256, f"blob {sha256[:12]} is {info.st_size} bytes, not {size}")
        if file_digest(path)[0] != sha256:
            raise MessageRejected(sha256, f"blob {sha256[:12]} does not match its hash")
        return path

    def promote(self, sha256: str, size: int, dest: Path) -> None:
        """Copy a verified blob to `dest` atomically."""
        source = self.verify(sha256, size)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
