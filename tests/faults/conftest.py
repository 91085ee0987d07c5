"""Fault-suite fixtures: two hosts with a shared A2A directory, bounded polling, a full disk.

Tests may not import each other or `tests/a2a/conftest.py`, so the two-host setup is
rebuilt here the same way: alpha owns the board, beta has `mlx`, each host has its own
workspace, both point `[a2a] dir` at one shared folder, and beta's keys live outside it.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sprintboard.a2a.keys import keygen, pair
from sprintboard.workspace import init_workspace

HOSTS = [("alpha", []), ("beta", ["mlx"])]


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Bounded polling while another real process works."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def make_workspace(path: Path, shared: Path, owner: str = "alpha") -> Path:
    root = init_workspace(path, owner=owner, hosts=HOSTS, git=False)
    cfg = root / "sprintboard.toml"
    text = cfg.read_text(encoding="utf-8").replace('dir = ".a2a"', f'dir = "{shared}"')
    cfg.write_text(text, encoding="utf-8")
    return root


class Hosts:
    """Two workspaces (alpha owns the board) sharing one A2A folder; processes stopped at teardown."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.a2a = tmp / "synced" / "a2a"
        self.alpha_ws = make_workspace(tmp / "alpha", self.a2a)
        self.beta_ws = make_workspace(tmp / "beta", self.a2a)
        self.beta_keys = tmp / "beta-keys"
        alpha_keys = self.alpha_ws / ".sprintboard" / "keys"
        pair(self.beta_keys, "alpha", "beta", keygen(alpha_keys, "alpha", "beta"))
        self.procs: list[subprocess.Popen[str]] = []
        self.wait_for = wait_for

    def spawn(self, *args: str | Path, log: Path | None = None) -> subprocess.Popen[str]:
        """A real process on this interpreter; output to `log` (or discarded)."""
        out = log.open("a", encoding="utf-8") if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen(
            [sys.executable, "-P", *map(str, args)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )
        if log is not None:
            out.close()  # type: ignore[union-attr]
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[Hosts]:
    made = Hosts(tmp_path)
    yield made
    made.stop_all()


class FullDisk:
    """Makes one folder's filesystem run out of space, and gives the space back.

    Where the test runs as root and can mount, `root` is a small tmpfs and `fill()` writes a
    filler file until the kernel answers ENOSPC: the real thing. Elsewhere `fill()` makes
    `os.write` fail with ENOSPC for every file under `root` (after writing part of the first
    buffer, as a filling disk does).
    """

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, *, tmpfs: bool) -> None:
        self.root, self.tmpfs, self._mp = root, tmpfs, monkeypatch
        self._filler = root / "filler.bin"
        self._real_write = os.write

    def fill(self) -> None:
        if self.tmpfs:
            fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                while True:
                    os.write(fd, b"\0" * 65536)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
            finally:
                os.close(fd)
            return
        real, root = self._real_write, str(self.root)

        def write(fd: int, data: bytes | memoryview) -> int:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                target = ""
            if target.startswith(root):
                if len(data) > 1:
                    return real(fd, bytes(data)[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, data)

        self._mp.setattr(os, "write", write)

    def free(self) -> None:
        if self.tmpfs:
            self._filler.unlink(missing_ok=True)
        else:
            self._mp.setattr(os, "write", self._real_write)


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    """A 4 MiB tmpfs (root only) or, failing that, an injected ENOSPC."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = False
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
            capture_output=True,
            check=False,
        )
        mounted = done.returncode == 0
    yield FullDisk(mount, monkeypatch, tmpfs=mounted)
    if mounted:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def disk_hosts(full_disk: FullDisk) -> Iterator[tuple[Hosts, FullDisk]]:
    """The two hosts with both workspaces and the shared A2A folder on the small disk."""
    made = Hosts(full_disk.root)
    yield made, full_disk
    made.stop_all()
