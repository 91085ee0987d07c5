"""One answer to "what next": `next --json`, MCP `next_task`, `claim-next` and the runner agree.

The board has WIP limits (per agent and per role), capabilities (only beta has `mlx`), work
assigned to another agent, and a critical path that breaks a priority tie.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from mcp import Client

from sprintboard.agents.runner import Runner, RunnerOptions
from sprintboard.agents.runtime import open_checkpointer
from sprintboard.config import load_config
from sprintboard.doors.mcp import build_mcp_server
from sprintboard.errors import ToolError
from sprintboard.workspace import init_workspace, open_board

AUDIT = [{"tool": "audit", "config": {"inputs": ["data/a.jsonl"]}}]


def _task(task_id: str, priority: int, minutes: int, **fields: Any) -> dict[str, Any]:
    estimate = {"low": minutes, "high": minutes}
    return {
        "id": task_id,
        "title": task_id,
        "status": "ready",
        "priority": priority,
        "estimate": estimate,
        "steps": AUDIT,
        **fields,
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = init_workspace(tmp_path / "ws", hosts=[("alpha", []), ("beta", ["mlx"])], git=False)
    # builder-alpha and builder-beta hold 2 each (init's config); make the limits bite.
    cfg = root / "sprintboard.toml"
    cfg.write_text(cfg.read_text("utf-8").replace("wip = 2", "wip = 1"), encoding="utf-8")
    board = open_board(root)
    board.create_tasks(
        [
            _task("T0", 3, 30, caps=["mlx"]),
            _task("T1", 2, 10),  # a short leaf: lots of slack
            _task("T2", 2, 100),  # the start of the critical path
            _task("T3", 2, 100, dependencies=["T2"], status="blocked"),
            _task("T4", 1, 30, caps=["mlx"]),  # most urgent, but alpha has no mlx
            _task("T5", 1, 30, agent="builder-beta", host="beta"),  # assigned elsewhere
        ]
    )
    board.claim("T0", agent="builder-beta", host="beta", ttl=900)  # beta's WIP is now full
    return root


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("sprintboard")
    return subprocess.run(
        [str(exe), *args, "-w", str(ws)], capture_output=True, text=True, timeout=60, check=False
    )


def _copy(root: Path, name: str) -> Path:
    return Path(shutil.copytree(root, root.parent / name, symlinks=True))


def _mcp_next(root: Path, agent: str) -> Any:
    server = build_mcp_server(open_board(root))

    async def ask() -> Any:
        async with Client(server) as client:
            result = await client.call_tool("next_task", {"agent": agent})
            content = result.structured_content
            if content is not None:
                return content.get("result", content) if isinstance(content, dict) else content
            return json.loads(result.content[0].text) if result.content else None

    return asyncio.run(ask())


def _runner_claims(root: Path) -> list[str]:
    def failing_tool(name: str, config: Any) -> Any:
        raise ToolError(name, "not run in this test")

    board = open_board(root)
    with open_checkpointer(root) as saver:
        runner = Runner(
            root,
            "alpha",
            board,
            load_config(root),
            saver,
            RunnerOptions(roles=("builder",)),
            run_tool=failing_tool,
        )
        try:
            runner.tick()
        finally:
            runner.pool.shutdown(wait=True)
    return runner.summary.claimed


def test_next_mcp_claim_next_and_the_runner_take_the_same_task(workspace: Path) -> None:
    ranked = orjson.loads(_cli(workspace, "next", "--agent", "builder-alpha", "--json").stdout)
    # T4 needs mlx, T5 is builder-beta's, T3 waits on T2; T2 beats T1 on slack.
    assert [t["id"] for t in ranked["tasks"]] == ["T2", "T1"]
    assert _mcp_next(workspace, "builder-alpha")["id"] == "T2"

    by_cli = _copy(workspace, "by-cli")
    claimed = _cli(by_cli, "claim-next", "--agent", "builder-alpha", "--json")
    assert claimed.returncode == 0, claimed.stderr
    lease = orjson.loads(claimed.stdout)
    assert (lease["task"], lease["agent"], lease["host"]) == ("T2", "builder-alpha", "alpha")
    # builder-alpha's WIP of 1 is now full: nothing more, and the reason says so.
    again = _cli(by_cli, "claim-next", "--agent", "builder-alpha", "--json")
    assert again.returncode == 1
    assert orjson.loads(again.stdout)["wip_limit"] == (
        "agent builder-alpha holds 1 task(s), its WIP limit is 1"
    )

    assert _runner_claims(_copy(workspace, "by-runner")) == ["T2"]


def test_a_full_agent_is_told_why_everywhere(workspace: Path) -> None:
    ranked = orjson.loads(_cli(workspace, "next", "--agent", "builder-beta", "--json").stdout)
    why = "agent builder-beta holds 1 task(s), its WIP limit is 1"
    assert ranked == {"tasks": [], "wip_limit": why, "why": why}
    assert _mcp_next(workspace, "builder-beta") is None
    refused = _cli(workspace, "claim-next", "--agent", "builder-beta")
    assert refused.returncode == 1 and f"nothing to claim: {why}" in refused.stderr
    unknown = _cli(workspace, "claim-next", "--agent", "claude")
    assert unknown.returncode == 1 and "open_claims = true" in unknown.stderr


def test_without_an_agent_next_ranks_for_a_builder_with_no_caps(workspace: Path) -> None:
    ranked = orjson.loads(_cli(workspace, "next", "--json").stdout)
    assert [t["id"] for t in ranked["tasks"]] == ["T5", "T2", "T1"]
    board = open_board(workspace)
    assert [t.id for t in board.ready(role="builder", caps=[])] == ["T5", "T2", "T1"]
    assert [t.id for t in board.ready()] == ["T4", "T5", "T2", "T1"]  # any role, any caps
