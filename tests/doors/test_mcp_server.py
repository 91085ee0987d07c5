"""The MCP server, driven by the MCP SDK's own client in-process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from mcp import Client

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.doors.mcp import build_mcp_server


def _board(root: Path) -> LocalBoard:
    return LocalBoard(
        root,
        host="alpha",
        policy=BoardPolicy(owner="alpha", open_claims=True),
        clock=FrozenClock(),
        ids=CounterIds(),
    )


def _payload(result: Any) -> Any:
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) else content
    return json.loads(result.content[0].text)


def test_an_mcp_agent_takes_work_under_leases_and_fencing(tmp_path: Path) -> None:
    board = _board(tmp_path)
    (tmp_path / "KANBAN.md").write_text("# KANBAN.md\n", encoding="utf-8")
    (tmp_path / "out.jsonl").write_text("{}\n", encoding="utf-8")

    async def scenario() -> None:
        async with Client(build_mcp_server(board)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {
                "list_tasks",
                "next_task",
                "claim",
                "claim_next",
                "heartbeat",
                "complete",
                "block",
                "add_task",
                "standup",
            } <= names
            await client.call_tool("add_task", {"id": "T1", "title": "Audit", "priority": 1})
            await client.call_tool(
                "add_task", {"id": "T2", "title": "Later", "dependencies": ["T1"]}
            )
            nxt = _payload(await client.call_tool("next_task", {"role": "builder"}))
            assert nxt["id"] == "T1"
            lease = _payload(
                await client.call_tool("claim", {"task": "T1", "agent": "claude-code"})
            )
            assert lease["fence"] == 1
            again = await client.call_tool("claim", {"task": "T1", "agent": "other"})
            assert again.is_error and "already leased to claude-code" in again.content[0].text
            done = _payload(
                await client.call_tool(
                    "complete",
                    {"task": "T1", "fence": 1, "artifacts": ["out.jsonl"], "metrics": {"rows": 1}},
                )
            )
            assert done["status"] == "awaiting_test"
            stale = await client.call_tool("heartbeat", {"task": "T1", "fence": 1})
            assert stale.is_error and "stale" in stale.content[0].text
            escape = await client.call_tool(
                "complete", {"task": "T1", "fence": 1, "artifacts": ["../etc/passwd"]}
            )
            assert escape.is_error
            blocked = _payload(
                await client.call_tool("block", {"task": "T2", "reason": "HTTP 402"})
            )
            assert (blocked["status"], blocked["blocked_reason"]) == ("blocked", "HTTP 402")
            kanban = await client.read_resource("sprintboard://kanban")
            assert "KANBAN.md" in kanban.contents[0].text

    asyncio.run(scenario())
    state = board.snapshot()
    assert state.tasks["T1"].artifacts[0].path == "out.jsonl"
    assert state.tasks["T1"].metrics == {"rows": 1.0}
    assert [e.op for e in board.events()].count("lease.grant") == 1


def test_sprintboard_mcp_speaks_stdio(tmp_path: Path) -> None:
    import sys

    from mcp import StdioServerParameters

    from sprintboard.workspace import init_workspace, open_board

    root = init_workspace(tmp_path / "ws", git=False)
    open_board(root).create_tasks([{"id": "T1", "title": "Audit", "status": "ready"}])
    exe = str(Path(sys.executable).with_name("sprintboard"))

    async def scenario() -> list[str]:
        params = StdioServerParameters(command=exe, args=["mcp", "-w", str(root)])
        async with Client(params) as client:
            rows = _payload(await client.call_tool("list_tasks", {}))
            return [r["id"] for r in rows]

    assert asyncio.run(scenario()) == ["T1"]


def test_bad_values_from_an_mcp_agent_are_tool_errors_naming_the_field(tmp_path: Path) -> None:
    board = _board(tmp_path)
    (tmp_path / "KANBAN.md").write_text("# KANBAN.md\n", encoding="utf-8")

    async def scenario() -> list[str]:
        texts = []
        async with Client(build_mcp_server(board)) as client:
            for args in (
                {"id": "T1", "title": "Audit", "priority": 10**30},
                {"id": "T1", "title": "Audit", "criteria": ["x `check: make check`"]},
                {"id": "A\nB", "title": "Audit"},
                {"id": "T1", "title": "two\nlines"},
                {"id": "T1", "title": "Audit", "actor": "evil\x1b]0;pwned\x07"},
            ):
                result = await client.call_tool("add_task", args)
                assert result.is_error, args
                texts.append(result.content[0].text)
            await client.call_tool("add_task", {"id": "T1", "title": "Audit"})
            lease = _payload(await client.call_tool("claim", {"task": "T1", "agent": "cc"}))
            for bad in ({"loss": "nan"}, {"loss": "inf"}):
                result = await client.call_tool(
                    "complete", {"task": "T1", "fence": lease["fence"], "metrics": bad}
                )
                assert result.is_error
                texts.append(result.content[0].text)
            for ttl in (0, -5, 10**12):
                result = await client.call_tool("claim", {"task": "T1", "agent": "x", "ttl": ttl})
                assert result.is_error
        return texts

    texts = asyncio.run(scenario())
    assert "priority" in texts[0] and "between 0 and 99" in texts[0]
    assert "unknown check kind 'make'" in texts[1]
    assert "task id 'A\\nB'" in texts[2] and "title" in texts[3] and "actor" in texts[4]
    assert all("finite" in t for t in texts[5:7])
    assert not any("Traceback" in t or "TypeError" in t for t in texts)
    assert (
        board.snapshot().tasks["T1"].metrics == {} and board.snapshot().tasks["T1"].title == "Audit"
    )


def test_the_backlog_resource_shows_the_boards_tasks_whatever_their_origin(
    tmp_path: Path,
) -> None:
    board = _board(tmp_path)
    board.start_sprint("S1", "ship it")
    board.create_tasks([{"id": "T7", "title": "Made by hand", "status": "ready"}])

    async def scenario() -> str:
        async with Client(build_mcp_server(board)) as client:
            got = await client.read_resource("sprintboard://backlog")
            return "".join(getattr(c, "text", "") for c in got.contents)

    text = asyncio.run(scenario())
    assert "### T7: Made by hand" in text and "no sprint backlog" not in text
