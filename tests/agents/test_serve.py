"""The LLM seam talks to a real local `mlx_lm server` serving the tiny test model."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sprintboard import llm
from sprintboard.agents.llm import OpenAIBackend
from sprintboard.config import LLMConfig
from sprintboard.errors import ToolError
from sprintboard.llm import ChatRequest
from sprintboard.tools.serve import ServeConfig, server_argv, start_server, wait_until_ready


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServeConfig]:
    monkeypatch.setattr(llm, "ALLOW_MODEL_REQUESTS", True)
    config = ServeConfig(model=tiny_model, port=free_port(), max_tokens=16)
    process = start_server(config)
    try:
        wait_until_ready(process, config, timeout_s=120)
        yield config
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.mark.slow
def test_openai_backend_talks_to_mlx_lm_server(served: ServeConfig) -> None:
    backend = OpenAIBackend(LLMConfig(base_url=served.base_url, timeout=60), environ={})
    reply = backend.complete(ChatRequest.from_prompt("Which task is next?", max_tokens=8))
    assert isinstance(reply.content, str)
    assert reply.finish_reason in ("stop", "length")
    assert reply.completion_tokens is not None and 1 <= reply.completion_tokens <= 8
    assert reply.prompt_tokens is not None and reply.prompt_tokens > 3
    assert reply.model  # the server names the model it answered with


def test_serving_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no config.json"):
        server_argv(ServeConfig(model=tmp_path, port=8080))


def test_server_argv_binds_where_asked(tiny_model: Path) -> None:
    argv = server_argv(ServeConfig(model=tiny_model, host="127.0.0.1", port=9123))
    assert argv[1:4] == ["-m", "mlx_lm", "server"]
    assert (
        argv[argv.index("--port") + 1] == "9123" and argv[argv.index("--host") + 1] == "127.0.0.1"
    )


@pytest.mark.slow
def test_stopping_the_serve_command_stops_the_server(tiny_model: Path) -> None:
    config = ServeConfig(model=tiny_model, port=free_port())
    sprintboard = str(Path(sys.executable).parent / "sprintboard")
    argv = [sprintboard, "models", "serve", str(tiny_model), "--port", str(config.port)]
    command = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        wait_until_ready(command, config, timeout_s=120)
        command.terminate()  # SIGTERM, as a process supervisor would send
        assert command.wait(timeout=30) == 0
    finally:
        if command.poll() is None:
            command.kill()
            command.wait(timeout=20)
    # An orphaned mlx_lm server would still be listening on the port.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((config.host, config.port), timeout=2).close()
