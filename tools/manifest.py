"""The JSON manifest every tool writes beside its output, so a run can be verified and repeated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sprintboard.files import FileRef, atomic_write

__all__ = ["Manifest", "write_manifest"]


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
    engine: str = "local"
    """What ran the per-range work (`local` or `dask`); the outputs never depend on it."""
    extra: dict[str, Any] = Field(default_factory=dict)


def write_manifest(path: Path, manifest: Manifest) -> Path:
    """Write `manifest` to `path` atomically (tmp, fsync, rename, fsync dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, manifest.model_dump_json(indent=2).encode("utf-8") + b"\n")
    return path
