"""The `llm` worker: a tool-calling loop over the LLM seam, one per attempt.

The first messages are a short system message and PROMPT.md (the primer, the task as
`show` renders it, earlier attempts); each reply's tool calls run in the `Toolbox`
(llm_tools.py) and go back as `tool` messages, until the model calls `finish(summary)`.
Every message is appended to `transcript.jsonl` in the run folder, and one line per call to
`worker.log`, so the reason of a failure and the whole conversation are artifacts.

How an attempt ends:
- `finish` -> ok (the Builder submits the folder's new files, as for a command worker);
- the provider refuses the key or the bill (HTTP 401/402) -> `paused`: the Builder hands
  the task back and pauses this worker (a decision and a notification carry the provider's
  message); retrying would only repeat the refusal;
- 429/5xx/timeouts were already retried with backoff by the backend; when that runs out,
  the attempt fails with the reason (then retried or blocked as any failed attempt);
- more malformed calls than `malformed_limit`, `max_turns` replies or `max_tokens` spent,
  the timeout, or a lost lease -> the attempt fails, saying which.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from sprintboard.agents.llm import OpenAIBackend
from sprintboard.agents.workers.job import WorkerJob, WorkerOutcome
from sprintboard.agents.workers.llm_tools import TRANSCRIPT, Toolbox
from sprintboard.allowlist import AllowList
from sprintboard.board.client import BoardClient
from sprintboard.board.document import TaskDocument
from sprintboard.config import AgentConfig, WorkspaceConfig
from sprintboard.errors import LLMUnavailable
from sprintboard.llm import ChatBackend, ChatMessage, ChatRequest
from sprintboard.tools.registry import get_tool, tool_names

__all__ = ["PAUSING_STATUSES", "LLMWorker"]

PAUSING_STATUSES = frozenset({401, 402})
"""Provider answers that waiting cannot fix (a bad key, an unpaid bill): pause the worker."""

_SYSTEM = (
    "You are a sprintboard worker. Do the task below with the tools only: write your "
    "outputs with write_file into the run folder (they become the task's artifacts), use "
    "note to report progress, ask when only a person can decide, and call finish with a "
    "short summary when every acceptance criterion is met. Paths are relative to the run "
    "folder."
)


class _Line(BaseModel):
    """One transcript line."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    turn: int
    message: ChatMessage
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class LLMWorker:
    """Runs an agent's LLM tool loop for one attempt."""

    def __init__(
        self,
        agent: AgentConfig,
        config: WorkspaceConfig,
        board: BoardClient,
        *,
        backend: ChatBackend | None = None,
        malformed_limit: int = 3,
        reply_tokens: int = 4096,
    ) -> None:
        self.agent, self.config, self.board = agent, config, board
        self._backend = backend
        self._tools: list[str] | None = None
        self.malformed_limit = malformed_limit
        """Malformed calls fed back to the model before the attempt fails."""
        self.reply_tokens = reply_tokens

    def backend(self) -> ChatBackend:
        """The seam the loop talks to: the given one, else `[llm]` of sprintboard.toml."""
        if self._backend is None:
            self._backend = OpenAIBackend.from_config(self.config.llm)
        return self._backend

    def tools(self) -> list[str]:
        """Registered tools whose modules import here (once per worker)."""
        if self._tools is None:
            self._tools = [n for n in tool_names() if _loads(n)]
        return self._tools

    def run(self, job: WorkerJob) -> WorkerOutcome:
        """Talk to the model until it finishes, fails, or a budget runs out."""
        deadline = time.monotonic() + self.agent.timeout
        doc = TaskDocument.model_validate_json((job.run_dir / "task.json").read_bytes())
        readable = [a.path for d in doc.dependencies for a in d.artifacts]
        box = Toolbox(
            job,
            self.board,
            allow=AllowList.parse(self.config.workers.allow_commands),
            readable=readable,
            tools=self.tools(),
            deadline=deadline,
        )
        messages = [
            ChatMessage(role="system", content=_SYSTEM),
            ChatMessage(role="user", content=job.prompt_file.read_text(encoding="utf-8")),
        ]
        log = _Log(job)
        for message in messages:
            log.transcript(_Line(turn=0, message=message))
        definitions = box.definitions()
        spent, malformed, last_wrong = 0, 0, ""
        backend = self.backend()
        for turn in range(1, self.agent.max_turns + 1):
            if job.lost.is_set():
                return WorkerOutcome(False, "the lease was lost; the loop stopped")
            if time.monotonic() >= deadline:
                return log.fail(f"timed out after {self.agent.timeout:g}s (turn {turn})")
            room = min(self.reply_tokens, max(1, self.agent.max_tokens - spent))
            request = ChatRequest(messages=tuple(messages), tools=definitions, max_tokens=room)
            try:
                reply = backend.complete(request)
            except LLMUnavailable as exc:
                if exc.status in PAUSING_STATUSES:
                    log.say(f"paused: {exc}")
                    return WorkerOutcome(False, str(exc), paused=True)
                return log.fail(f"the model is unavailable: {exc}")
            spent += (reply.prompt_tokens or 0) + (reply.completion_tokens or 0)
            said = reply.message()
            messages.append(said)
            log.transcript(_Line(turn=turn, message=said, prompt_tokens=reply.prompt_tokens,
                                 completion_tokens=reply.completion_tokens))  # fmt: skip
            if not reply.tool_calls:
                malformed += 1
                last_wrong = "answered in text without calling a tool"
                log.say(f"turn {turn}: text, no tool call: {reply.content[:120]!r}")
                nudge = ChatMessage(
                    role="user",
                    content="Use the tools: write your outputs with write_file, then call "
                    "finish(summary). Text answers do nothing.",
                )
                messages.append(nudge)
                log.transcript(_Line(turn=turn, message=nudge))
            for call in reply.tool_calls:
                result = box.call(call)
                log.say(f"turn {turn}: {call.name} -> {result.text.splitlines()[0][:200]}")
                answer = ChatMessage(role="tool", content=result.text, tool_call_id=call.id)
                messages.append(answer)
                log.transcript(_Line(turn=turn, message=answer))
                if result.malformed:
                    malformed += 1
                    last_wrong = f"{call.name}: {result.text}"
                if result.finished:
                    return WorkerOutcome(True, f"finished in {turn} turn(s): {result.text}")
            if malformed > self.malformed_limit:
                return log.fail(
                    f"{malformed} malformed tool calls (limit {self.malformed_limit}); "
                    f"the last: {last_wrong}"
                )
            if spent >= self.agent.max_tokens:
                return log.fail(f"spent {spent} tokens (max_tokens {self.agent.max_tokens})")
        return log.fail(f"no finish within max_turns {self.agent.max_turns}")


def _loads(name: str) -> bool:
    """A registered tool whose module imports here (train needs mlx, which a host may lack)."""
    try:
        get_tool(name)
    except Exception:  # an optional extra is missing: the model just does not get this tool
        return False
    return True


class _Log:
    """The attempt's transcript.jsonl and worker.log."""

    def __init__(self, job: WorkerJob) -> None:
        self.transcript_file = job.run_dir / TRANSCRIPT
        self.log_file = job.log_file

    def transcript(self, line: _Line) -> None:
        with self.transcript_file.open("a", encoding="utf-8") as fh:
            fh.write(line.model_dump_json(exclude_none=True) + "\n")

    def say(self, text: str) -> None:
        with self.log_file.open("a", encoding="utf-8") as fh:
            fh.write(f"[llm] {text}\n")

    def fail(self, reason: str) -> WorkerOutcome:
        self.say(reason)
        return WorkerOutcome(False, reason)
