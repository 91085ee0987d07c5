"""A private PostgreSQL server in a temporary folder, for tests, benchmarks and the demo.

It runs the Debian server binaries (`initdb`, `pg_ctl`) found on PATH or under
`/usr/lib/postgresql/*/bin`; PostgreSQL refuses to run as root, so as root it runs as the
`postgres` user (the server package creates it). It listens on a free loopback port and a
unix socket in its own folder, trusts local connections (nothing else can reach it), and
is removed with its data on `stop`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sprintboard.errors import StoreUnavailable

__all__ = ["PrivateCluster", "server_binaries"]

_SUPERUSER = "postgres"


def server_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, or None when no server is installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return versions[0].parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateCluster:
    """One throwaway server; `url(db)` names a database in it.

    ```python
    cluster = PrivateCluster(durable=False)
    cluster.start()
    url = cluster.create_database("board1")   # postgresql://postgres@127.0.0.1:PORT/board1
    cluster.stop()
    ```
    `durable=False` turns fsync off (tests); benchmarks keep PostgreSQL's defaults.
    """

    def __init__(self, *, durable: bool = False, max_connections: int = 200) -> None:
        self.durable = durable
        self.max_connections = max_connections
        self.folder: Path | None = None
        self.port = 0

    @property
    def data(self) -> Path:
        assert self.folder is not None, "start() first"
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", _SUPERUSER, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> None:
        """initdb and start the server (a few seconds).

        Raises:
            StoreUnavailable: no server binaries, or the server would not start (log tail).
        """
        binaries = server_binaries()
        if binaries is None:
            raise StoreUnavailable(
                "private PostgreSQL", "no initdb/pg_ctl (install Debian's postgresql package)"
            )
        # /tmp, not $TMPDIR: the server's user must be able to walk the path to its data
        where = "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None
        self.folder = Path(tempfile.mkdtemp(prefix="sprintboard-pg-", dir=where))
        self.folder.chmod(0o755)  # the server's user must reach its data folder inside
        self.data.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.data, _SUPERUSER, _SUPERUSER)
        made = self._run(
            [str(binaries / "initdb"), "-D", str(self.data), "-U", _SUPERUSER,
             "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]
        )  # fmt: skip
        if made.returncode != 0:
            raise StoreUnavailable("private PostgreSQL", f"initdb failed: {made.stderr[-400:]}")
        self.port = _free_port()
        settings = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-k {self.data}",
            f"-c max_connections={self.max_connections}",
        ]
        if not self.durable:
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        log = self.data / "server.log"
        started = self._run(
            [str(binaries / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-t", "60",
             "-o", " ".join(settings), "start"]
        )  # fmt: skip
        if started.returncode != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-600:] if log.exists() else ""
            self.stop()
            raise StoreUnavailable("private PostgreSQL", f"pg_ctl start failed: {tail}")

    def create_database(self, name: str) -> str:
        """Create database `name` (a plain identifier) and return its URL."""
        import psycopg  # the optional postgres extra; only a started cluster needs it

        if not name.replace("_", "").isalnum():
            raise ValueError(f"{name!r}: letters, digits and _ only")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        if self.folder is None:
            return
        binaries = server_binaries()
        if binaries is not None and (self.data / "postmaster.pid").exists():
            self._run([str(binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
