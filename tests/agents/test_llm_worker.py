"""The `llm` worker: a tool loop over the LLM seam against a local OpenAI-compatible server,
the failure matrix (402 pauses, garbage calls fail the attempt), and the file tools' fence."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import sprintboard.llm as seam
from sprintboard.agents.hosting import run_host
from sprintboard.agents.runner import RunnerOptions
from sprintboard.agents.workers.job import WorkerJob
from sprintboard.agents.workers.llm_tools import Toolbox
from sprintboard.allowlist import AllowList
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Criterion, Task
from sprintboard.llm import ChatReply, ScriptedBackend, ToolCall
from sprintboard.memory.notify import notices
from sprintboard.workspace import open_board

CONFIG = """\
[board]
owner = "alpha"

[[hosts]]
name = "alpha"

[[agents]]
name = "auditor-1"
role = "auditor"
host = "alpha"

[[agents]]
name = "writer-1"
role = "builder"
host = "alpha"
caps = ["docs"]
wip = 1
worker = "llm"
max_turns = 6
max_attempts = {attempts}

[llm]
base_url = "{url}"
model = "scripted-model"
api_key_env = "SB_TEST_LLM_KEY"
timeout = 5
max_retries = 0

[workers]
allow_commands = ["echo *"]
"""


@dataclass
class Script:
    """What the fake endpoint answers, in turn: (HTTP status, JSON body)."""

    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


def calls(*named: tuple[str, Any]) -> tuple[int, dict[str, Any]]:
    """A chat completion whose message holds tool calls and no text (as OpenAI sends it)."""
    tool_calls = [
        {
            "id": f"call_{n}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": args if isinstance(args, str) else json.dumps(args),
            },
        }
        for n, (name, args) in enumerate(named)
    ]
    return 200, {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "scripted-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": tool_calls},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Script]]:
    """A local OpenAI-compatible chat endpoint answering from a script (stdlib http.server)."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            script.requests.append(json.loads(body))
            status, answer = (
                script.answers.pop(0)
                if script.answers
                else (500, {"error": {"message": "script ran out"}})
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    monkeypatch.setattr(seam, "ALLOW_MODEL_REQUESTS", True)  # only this local server
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    server.shutdown()


def _workspace(root: Path, url: str, attempts: int = 3) -> tuple[Path, LocalBoard]:
    """A workspace with the LLM writer and one step-less task, T100 (write GUIDE.md)."""
    root.mkdir()
    (root / "sprintboard.toml").write_text(
        CONFIG.format(url=url, attempts=attempts), encoding="utf-8"
    )
    board = open_board(root)
    board.create_tasks([_guide_task()])
    return root, board


def _guide_task() -> Task:
    return Task(
        id="T100",
        title="Write the training guide",
        status="ready",
        caps=["docs"],
        criteria=[Criterion("The guide exists", check="file_exists {run}/GUIDE.md")],
    )


def _once(root: Path, **kw: Any) -> Any:
    return run_host(root, "alpha", RunnerOptions(once=True, tick=0.1, max_ticks=100), **kw)


def test_an_llm_worker_writes_a_file_finishes_and_the_auditor_passes_it(
    tmp_path: Path, endpoint: tuple[str, Script]
) -> None:
    url, script = endpoint
    ws, board = _workspace(tmp_path / "ws", url)
    script.answers += [
        calls(("write_file", {"path": "GUIDE.md", "content": "# Training guide\n"})),
        calls(("finish", {"summary": "wrote GUIDE.md"})),
    ]
    _once(ws)

    task = board.snapshot().tasks["T100"]
    assert task.status == "done", task.blocked_reason
    run = ws / "runs" / "T100" / "1"
    assert (run / "GUIDE.md").read_text(encoding="utf-8") == "# Training guide\n"
    recorded = sorted(a.path for a in task.artifacts)
    assert recorded == [f"runs/T100/1/{n}" for n in ("GUIDE.md", "transcript.jsonl", "worker.log")]
    first, second = script.requests
    offered = [t["function"]["name"] for t in first["tools"]]
    assert offered[:7] == [
        "read_file", "write_file", "list_files", "run_command", "note", "ask", "finish",
    ]  # fmt: skip
    assert "audit" in offered  # a registered sprintboard tool, with its config's schema
    assert "Write the training guide" in first["messages"][1]["content"]  # PROMPT.md
    assert first["messages"][1]["content"] == (run / "PROMPT.md").read_text(encoding="utf-8")
    tool_reply = second["messages"][-1]
    assert tool_reply["role"] == "tool" and tool_reply["tool_call_id"] == "call_0"
    assert tool_reply["content"] == "wrote 17 bytes to GUIDE.md"
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "write_file"
    lines = [json.loads(x) for x in (run / "transcript.jsonl").read_text().splitlines()]
    assert [x["message"]["role"] for x in lines] == ["system", "user", "assistant", "tool"] * 1 + [
        "assistant",
        "tool",
    ]


def test_a_402_pauses_the_worker_and_hands_the_task_back(
    tmp_path: Path, endpoint: tuple[str, Script]
) -> None:
    url, script = endpoint
    ws, board = _workspace(tmp_path / "ws", url)
    message = "Insufficient credits: add more at https://example.test/credits"
    script.answers.append((402, {"error": {"message": message, "code": 402}}))

    summary = _once(ws)

    assert len(script.requests) == 1  # a 402 is not retried
    assert "writer-1" in summary.paused and message in summary.paused["writer-1"]
    state = board.snapshot()
    task = state.tasks["T100"]
    assert task.status == "ready" and task.lease is None  # back for others
    paused = [d for d in state.decisions if "Paused worker writer-1" in d.text]
    assert len(paused) == 1 and message in paused[0].text and "HTTP 402" in paused[0].text
    event = next(e for e in board.events() if e.op == "decision.add" and e.fields.get("paused"))
    (notice,) = notices(state, event, state)
    assert notice.kind == "worker_paused" and message in notice.text
    assert not any("Attempt 1 failed" in n.text for n in state.notes)  # not a failed attempt


def test_garbage_tool_calls_are_fed_back_then_the_attempt_fails_with_the_reason(
    tmp_path: Path,
) -> None:
    ws, board = _workspace(tmp_path / "ws", "http://127.0.0.1:9/v1", attempts=1)
    garbage = ChatReply(
        content="",
        model="scripted",
        tool_calls=(ToolCall(id="c1", name="write_file", arguments="{path: GUIDE.md"),),
    )
    backend = ScriptedBackend.answering(*[garbage] * 4)

    _once(ws, worker_backend=backend)

    task = board.snapshot().tasks["T100"]
    assert task.status == "blocked"
    assert task.blocked_reason is not None
    assert "4 malformed tool calls (limit 3)" in task.blocked_reason
    assert "not JSON" in task.blocked_reason
    assert len(backend.requests) == 4  # fed back three times, the fourth ends it
    fed_back = backend.requests[1].messages[-1]
    assert fed_back.role == "tool" and "not JSON" in fed_back.content
    assert not (ws / "runs" / "T100" / "1" / "GUIDE.md").exists()


def test_file_tools_stay_in_the_run_folder(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run = ws / "runs" / "T2" / "1"
    run.mkdir(parents=True)
    dep = ws / "runs" / "T1" / "1" / "data.txt"
    dep.parent.mkdir(parents=True)
    dep.write_text("from T1", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret", encoding="utf-8")
    (run / "out").symlink_to(tmp_path)  # a symlink that leads out
    (run / "PROMPT.md").write_text("the prompt", encoding="utf-8")
    job = WorkerJob(
        task="T2", attempt=1, fence=1, agent="writer-1", host="alpha", root=ws,
        run_dir=run, cwd=run, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    box = Toolbox(
        job, board=None, allow=AllowList.parse(["echo *"]), readable=["runs/T1/1/data.txt"]
    )  # type: ignore[arg-type]

    def call(name: str, **args: Any) -> str:
        return box.call(ToolCall(id="c", name=name, arguments=json.dumps(args))).text

    assert call("read_file", path="../../T1/1/data.txt").startswith("refused:")
    assert call("read_file", path=str(outside)).startswith("refused:")
    assert call("read_file", path="out/secret.txt").startswith("refused:")
    assert call("write_file", path="out/x.txt", content="x").startswith("refused:")
    assert call("write_file", path="../x.txt", content="x").startswith("refused:")
    assert call("write_file", path="PROMPT.md", content="x").startswith("refused:")
    assert call("list_files", path="out").startswith("refused:")
    assert not (tmp_path / "x.txt").exists() and not (ws / "runs" / "T2" / "x.txt").exists()
    assert (run / "PROMPT.md").read_text(encoding="utf-8") == "the prompt"
    assert call("read_file", path="runs/T1/1/data.txt") == "from T1"  # a dependency's artifact
    assert call("write_file", path="notes/a.md", content="hi") == "wrote 2 bytes to notes/a.md"
    assert call("read_file", path="notes/a.md") == "hi"
    listing = call("list_files")
    assert "notes/a.md" in listing and "runs/T1/1/data.txt (dependency" in listing
    assert "secret" not in listing
    assert call("run_command", argv=["echo", "hello"]) == "exit 0\nhello\n"
    assert call("run_command", argv=["sh", "-c", "echo hi"]).startswith("refused:")
    assert call("run_command", argv=["echo", "--help"]).startswith("refused:")  # as written
    bad = box.call(ToolCall(id="c", name="rm", arguments="{}"))
    assert bad.malformed and "unknown tool 'rm'" in bad.text
    assert box.call(ToolCall(id="c", name="read_file", arguments="{}")).malformed


def test_a_model_told_no_still_finishes_inside_its_folder(tmp_path: Path) -> None:
    ws, board = _workspace(tmp_path / "ws", "http://127.0.0.1:9/v1")

    def reply(*named: tuple[str, dict[str, Any]]) -> ChatReply:
        return ChatReply(
            content="",
            model="scripted",
            tool_calls=tuple(
                ToolCall(id=f"c{n}", name=name, arguments=json.dumps(args))
                for n, (name, args) in enumerate(named)
            ),
        )

    backend = ScriptedBackend.answering(
        reply(("write_file", {"path": "../../../escape.md", "content": "x"})),
        reply(
            ("write_file", {"path": "GUIDE.md", "content": "ok"}),
            ("note", {"text": "guide written"}),
        ),
        reply(("finish", {"summary": "done"})),
    )
    _once(ws, worker_backend=backend)

    state = board.snapshot()
    assert state.tasks["T100"].status == "done"
    assert not (tmp_path / "escape.md").exists() and not (ws / "escape.md").exists()
    told = backend.requests[1].messages[-1]
    assert told.role == "tool" and told.content.startswith("refused:") and ".." in told.content
    assert any(n.text == "guide written" and n.actor == "writer-1@alpha" for n in state.notes)


def test_llm_settings_and_tool_modules_are_checked_at_load(tmp_path: Path) -> None:
    from sprintboard.config import load_config
    from sprintboard.errors import ConfigError

    ws, _ = _workspace(tmp_path / "ws", "http://127.0.0.1:9/v1")
    text = (ws / "sprintboard.toml").read_text(encoding="utf-8")
    assert load_config(ws).agents[1].max_turns == 6
    (ws / "sprintboard.toml").write_text(
        text.replace('worker = "llm"', 'worker = "command"\ncommand = ["true"]'), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match='max_turns only apply to worker = "llm"'):
        load_config(ws)
    (ws / "sprintboard.toml").write_text(text + '\n[tools]\nmodules = ["my tools"]\n')
    with pytest.raises(ConfigError, match="'my tools' is not a module name"):
        load_config(ws)
