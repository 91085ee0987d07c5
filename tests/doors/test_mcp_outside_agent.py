"""Issue 19's done-when: an outside agent that speaks only MCP (the official `mcp` SDK over
stdio against `sprintboard mcp`) works the imported oodatcaa backlog; a person answers its
question with `sprintboard answer`; the answer and the note come back through `get_task`,
and the question is in KANBAN.md and the standup."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

# The seed documents live beside the repo (`../shared/examples`, DESIGN.md).
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
SB = str(Path(sys.executable).with_name("sprintboard"))


def _sb(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([SB, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) else content
    return json.loads(result.content[0].text)


@pytest.mark.slow
def test_an_mcp_only_agent_claims_reads_notes_asks_and_gets_the_answer(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _sb("init", str(ws), "--no-git")
    _sb("import", str(EXAMPLES / "oodatcaa-SPRINT_BACKLOG.md"), "-w", str(ws))
    params = StdioServerParameters(command=SB, args=["mcp", "-w", str(ws)])

    async def agent_until_the_question() -> tuple[dict[str, Any], str]:
        async with Client(params) as mcp:
            lease = _payload(await mcp.call_tool("claim_next", {"agent": "builder-alpha"}))
            assert set(lease) >= {"task", "fence", "expires"}
            doc = _payload(await mcp.call_tool("get_task", {"task": lease["task"]}))
            assert doc["id"] == lease["task"] == "T001" and "MLX" in doc["description"]
            assert len(doc["criteria"]) == 8 and doc["lease"]["fence"] == lease["fence"]
            args = {"task": "T001", "agent": "builder-alpha", "fence": lease["fence"]}
            await mcp.call_tool("note", {**args, "text": "MLX-LM installs cleanly"})
            asked = _payload(
                await mcp.call_tool("ask", {**args, "question": "May I drop axolotl?"})
            )
            prompt = await mcp.get_prompt("primer", {"agent": "builder-alpha"})
            assert "claim_next" in str(prompt)
            return lease, asked["question_id"]

    lease, question_id = asyncio.run(agent_until_the_question())
    kanban = (ws / "KANBAN.md").read_text(encoding="utf-8")
    assert "`T001` May I drop axolotl?" in kanban and f"`q:{question_id}`" in kanban
    _sb("answer", "T001", "Yes, MLX only.", "--as", "human:ana", "-w", str(ws))

    async def agent_reads_the_answer() -> dict[str, Any]:
        async with Client(params) as mcp:
            doc: dict[str, Any] = _payload(await mcp.call_tool("get_task", {"task": "T001"}))
            return doc

    doc = asyncio.run(agent_reads_the_answer())
    (q,) = doc["questions"]
    assert (q["id"], q["text"], q["answer"], q["answered_by"]) == (
        question_id,
        "May I drop axolotl?",
        "Yes, MLX only.",
        "human:ana",
    )
    assert [n["text"] for n in doc["notes"]] == ["MLX-LM installs cleanly"]
    assert doc["lease"]["fence"] == lease["fence"] and not doc["waiting_for_person"]
    assert "✅ Yes, MLX only." in (ws / "KANBAN.md").read_text(encoding="utf-8")
    _sb("standup", "-w", str(ws))
    (standup,) = (ws / "memory").glob("*.md")
    waiting = standup.read_text(encoding="utf-8").split("### Waiting for a person")[1]
    assert "May I drop axolotl?" in waiting.split("###")[0]
    assert "answered by human:ana: Yes, MLX only." in waiting.split("###")[0]
