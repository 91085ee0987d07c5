"""A2A fixtures: a two-host workspace (alpha owns the board, only beta has `mlx`), keys,
and helpers to run real processes (the owner daemon, a beta worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sprintboard.a2a.keys import keygen, pair
from sprintboard.workspace import init_workspace

WORKER = Path(__file__).with_name("host_worker.py")
HOSTS = [("alpha", []), ("beta", ["mlx"])]


def make_workspace(
    path: Path, transport: str = "dir", remote: str | None = None, shared: Path | None = None
) -> Path:
    root = init_workspace(path, owner="alpha", hosts=HOSTS, git=False)
    cfg = root / "sprintboard.toml"
    text = cfg.read_text(encoding="utf-8")
    if transport == "git":
        text = text.replace('transport = "dir"', f'transport = "git"\nremote = "{remote}"')
    if shared is not None:  # the synced folder both workspaces point at
        text = text.replace('dir = ".a2a"', f'dir = "{shared}"')
    cfg.write_text(text, encoding="utf-8")
    return root


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Bounded polling while another real process works."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Cluster:
    """Two hosts: alpha owns the board, beta has `mlx`; real processes, stopped at teardown.

    Each host has its own workspace. By default both point `[a2a] dir` at one shared
    folder (what NFS or Syncthing would give); `git=True` gives each its own `.a2a/` and
    a bare git remote between them. Beta's keys live outside both trees.
    """

    def __init__(self, tmp: Path, *, git: bool = False) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[str]] = []
        if git:
            import git as gitpython

            self.remote = tmp / "remote.git"
            gitpython.Repo.init(self.remote, bare=True)
            self.alpha_ws = make_workspace(tmp / "alpha", "git", str(self.remote))
            self.beta_ws = make_workspace(tmp / "beta", "git", str(self.remote))
        else:
            shared = tmp / "synced" / "a2a"
            self.alpha_ws = make_workspace(tmp / "alpha", shared=shared)
            self.beta_ws = make_workspace(tmp / "beta", shared=shared)
        self.alpha_a2a = self.alpha_ws / ".a2a" if git else tmp / "synced" / "a2a"
        self.alpha_keys = self.alpha_ws / ".sprintboard" / "keys"
        self.beta_keys = tmp / "beta-keys"
        pair(self.beta_keys, "alpha", "beta", keygen(self.alpha_keys, "alpha", "beta"))
        self.wait_for = wait_for

    def spawn(self, *args: str | Path) -> subprocess.Popen[str]:
        """Start a real process with this interpreter (repo root kept off sys.path by -P)."""
        proc = subprocess.Popen(
            [sys.executable, "-P", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        self.procs.append(proc)
        return proc

    def serve_owner(self, rescan: float = 0.2, *extra: str) -> subprocess.Popen[str]:
        """`sprintboard a2a serve --host alpha` as its own process."""
        return self.spawn(
            "-c",
            "import sys; from sprintboard.cli import main; main(sys.argv[1:])",
            "a2a",
            "serve",
            "--host",
            "alpha",
            "-w",
            self.alpha_ws,
            "--rescan",
            str(rescan),
            "--for",
            "120",
            *extra,
        )

    def worker(self, task: str, mode: str, ttl: int = 60) -> subprocess.Popen[str]:
        """A beta builder process (tests/a2a/host_worker.py)."""
        return self.spawn(WORKER, self.beta_ws, "beta", self.beta_keys, task, mode, str(ttl))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    yield made
    made.stop_all()


@pytest.fixture
def git_cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path, git=True)
    yield made
    made.stop_all()
