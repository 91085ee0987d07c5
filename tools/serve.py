"""Serve an mlx-lm model directory over mlx-lm's OpenAI-compatible HTTP server.

The server runs as its own process (``python -m mlx_lm server``), so a crash or a slow load
never takes the board down; `wait_until_ready` polls its ``/health`` endpoint, bounded. Ask it
for the model ``default_model`` (the `[llm] model` default) to get the one it loaded.

Usage::

    server = start_server(ServeConfig(model=Path("models/smol"), port=8080))
    wait_until_ready(server, ServeConfig(...), timeout_s=60)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import BaseModel, Field

from sprintboard.errors import ToolError

__all__ = ["ServeConfig", "serve_forever", "server_argv", "start_server", "wait_until_ready"]

_TOOL = "serve"


class ServeConfig(BaseModel, frozen=True, extra="forbid"):
    """Which model directory to serve, and where."""

    model: Path
    host: str = "127.0.0.1"
    """Listen address; 127.0.0.1 keeps the server off the network."""
    port: int = Field(8080, ge=1, le=65535)
    max_tokens: int = Field(512, ge=1)
    """Default generation limit when a request names none."""

    @property
    def base_url(self) -> str:
        """The OpenAI base URL clients use (``[llm] base_url``)."""
        return f"http://{self.host}:{self.port}/v1"


def server_argv(config: ServeConfig) -> list[str]:
    """The command line that starts mlx-lm's server for `config`.

    Raises:
        ToolError: the model directory has no config.json.
    """
    if not (config.model / "config.json").is_file():
        raise ToolError(
            _TOOL,
            f"{config.model}: not an mlx-lm model directory (no config.json); "
            "import one with `sprintboard models import-gguf FILE DIR`",
        )
    return [
        sys.executable, "-m", "mlx_lm", "server",
        "--model", str(config.model),
        "--host", config.host,
        "--port", str(config.port),
        "--max-tokens", str(config.max_tokens),
    ]  # fmt: skip


def start_server(config: ServeConfig) -> subprocess.Popen[bytes]:
    """Start the server in the background; the caller stops it (terminate, then wait)."""
    return subprocess.Popen(server_argv(config), stdin=subprocess.DEVNULL)


def serve_forever(config: ServeConfig) -> int:
    """Run the server in the foreground until it exits, Ctrl-C or SIGTERM; its exit code.

    The server is stopped on the way out, so killing this process leaves no orphan holding
    the port.
    """
    process = start_server(config)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        return 0  # Ctrl-C or SIGTERM is how a foreground server is meant to stop
    finally:
        signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(
    process: subprocess.Popen[bytes], config: ServeConfig, *, timeout_s: float = 120.0
) -> None:
    """Poll ``/health`` until the server answers, the process dies, or time runs out.

    Raises:
        ToolError: the server exited or did not answer within `timeout_s`.
    """
    url = f"http://{config.host}:{config.port}/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (code := process.poll()) is not None:
            raise ToolError(_TOOL, f"mlx_lm server for {config.model} exited with {code}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)  # a real other process is loading its model
    raise ToolError(_TOOL, f"mlx_lm server on {url} not ready after {timeout_s:g}s")
