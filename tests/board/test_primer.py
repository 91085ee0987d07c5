"""`sprintboard prime`: the primer fits an agent's instructions file (400-8,000 bytes),
and every command, option and MCP tool it names exists."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from mcp import Client

from sprintboard.board.primer import MAX_BYTES, MIN_BYTES, PRIMER_TOOLS, primer
from sprintboard.cli import app
from sprintboard.config import load_config
from sprintboard.doors.mcp import build_mcp_server
from sprintboard.workspace import init_workspace, open_board

_COMMAND = re.compile(r"`sprintboard ([a-z-]+)([^`]*)`")
_TOOL = re.compile(r"`([a-z_]+)(?:\([^`]*\))?`")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = init_workspace(tmp_path / "ws", git=False)
    board = open_board(root)
    board.start_sprint("S1", "Ship the dataset")
    board.create_tasks([{"id": "T1", "title": "one", "status": "ready"}])
    return root


def _primers(ws: Path) -> dict[str, str]:
    state, config = open_board(ws).snapshot(), load_config(ws)
    return {
        str(agent): primer(state, config, agent)
        for agent in (None, "builder-alpha", "auditor-1", "claude-code")
    }


def test_the_primer_fits_an_instructions_file_and_says_who_the_agent_is(ws: Path) -> None:
    texts = _primers(ws)
    for agent, text in texts.items():
        assert MIN_BYTES <= len(text.encode("utf-8")) <= MAX_BYTES, agent
        assert "S1" in text and "Ship the dataset" in text
        assert "SPRINT_QUEUE.json" in text and "events.jsonl" in text  # never edit them
    assert "role **builder** on host `alpha`" in texts["builder-alpha"]
    assert "role **auditor**" in texts["auditor-1"]
    assert "not listed in sprintboard.toml" in texts["claude-code"]
    assert "Heartbeat every 300 s" in texts["builder-alpha"]  # default_ttl 900 / 3


def test_every_command_and_option_the_primer_names_exists(ws: Path) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    seen = set()
    for text in _primers(ws).values():
        for name, rest in _COMMAND.findall(text):
            command = group.commands[name]  # KeyError: a command that does not exist
            opts = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            for option in re.findall(r"--[a-z-]+", rest):
                assert option in opts, f"sprintboard {name} has no {option}"
            seen.add(name)
    assert {"claim-next", "show", "heartbeat", "note", "ask", "submit", "release"} <= seen


def test_every_mcp_tool_the_primer_names_exists(ws: Path) -> None:
    board = open_board(ws)

    async def tool_names() -> set[str]:
        async with Client(build_mcp_server(board)) as client:
            return {t.name for t in (await client.list_tools()).tools}

    tools = asyncio.run(tool_names())
    assert set(PRIMER_TOOLS) <= tools
    text = _primers(ws)["builder-alpha"]
    mcp_part = text.split("## MCP", 1)[1].split("##", 1)[0]
    named = set(_TOOL.findall(mcp_part)) - {"sprintboard"}
    assert named and named <= tools, named - tools


def test_prime_prints_the_primer(ws: Path) -> None:
    exe = str(Path(sys.executable).with_name("sprintboard"))
    out = subprocess.run(
        [exe, "prime", "--agent", "builder-alpha", "-w", str(ws)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == _primers(ws)["builder-alpha"]
