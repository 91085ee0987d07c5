"""What an `llm` worker's model may do: the pinned tools and the team's registered ones.

Files: `read_file(path)`, `write_file(path, content)` and `list_files(path?)` work inside
the attempt's run folder; the artifacts of the task's dependencies are readable too, by
the workspace-relative path `show` lists. An absolute path, a `..` part, or a symlink that
leads out of the folder is refused. The runner's own files (PROMPT.md, task.json, the
transcript, the log) cannot be written.

`run_command(argv)` runs only an argv that `[workers] allow_commands` allows as written
(sprintboard.allowlist), never through a shell. Every registered sprintboard tool is offered
with its config's JSON schema; its paths are relative to the workspace, as in a planned step.
`note(text)` and `ask(question)` go to the board under the attempt's fence; `finish(summary)`
ends the attempt. A call the toolbox cannot run (unknown name, arguments that are not the
JSON object the schema asks for) comes back `malformed`, with what was wrong, for the model
to correct.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sprintboard.agents.rundirs import absolute_paths
from sprintboard.agents.workers.job import WorkerJob
from sprintboard.agents.workers.run_dir import RUNNER_FILES
from sprintboard.allowlist import AllowList
from sprintboard.board.client import BoardClient
from sprintboard.errors import SprintboardError
from sprintboard.llm import ToolCall, ToolDefinition
from sprintboard.tools.registry import get_tool, validate_step

__all__ = ["PINNED", "TRANSCRIPT", "ToolResult", "Toolbox"]

TRANSCRIPT = "transcript.jsonl"
PINNED = ("read_file", "write_file", "list_files", "run_command", "note", "ask", "finish")
"""The tool names every `llm` worker has (issue 22); registered tools come after them."""

_PROTECTED = RUNNER_FILES | {TRANSCRIPT, "worker.log"}
_READ_LIMIT = 64_000
_WRITE_LIMIT = 2_000_000
_OUTPUT_LIMIT = 4_000


class _Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _ReadFile(_Args):
    path: str = Field(description="Relative to the run folder, or a dependency artifact path.")


class _WriteFile(_Args):
    path: str = Field(description="Relative to the run folder.")
    content: str


class _ListFiles(_Args):
    path: str = Field(".", description="A folder relative to the run folder.")


class _RunCommand(_Args):
    argv: list[str] = Field(min_length=1, description="Program and arguments; no shell.")


class _Note(_Args):
    text: str = Field(min_length=1)


class _Ask(_Args):
    question: str = Field(min_length=1)


class _Finish(_Args):
    summary: str = Field(min_length=1, description="What was done, for the reviewer.")


_PINNED_ARGS: dict[str, tuple[type[_Args], str]] = {
    "read_file": (_ReadFile, "Read a text file of the run folder or a dependency's artifact."),
    "write_file": (_WriteFile, "Write a text file into the run folder (it becomes an artifact)."),
    "list_files": (_ListFiles, "List the files of the run folder and the readable artifacts."),
    "run_command": (_RunCommand, "Run an allow-listed command in the run folder (no shell)."),
    "note": (_Note, "Add a note to the task on the board (progress, findings)."),
    "ask": (_Ask, "Ask a person a question on the board; the answer comes later, in `show`."),
    "finish": (_Finish, "End the attempt: the run folder's new files are submitted."),
}


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a call did, as the model reads it in the `tool` message."""

    text: str
    malformed: bool = False
    """The call itself was wrong (unknown tool, bad arguments): counts toward the limit."""
    finished: bool = False


class _Refused(Exception):
    """A well-formed call the toolbox will not do (a path out of the folder, a command not
    allowed): the model is told why; it is not malformed."""


class Toolbox:
    """The tools of one attempt."""

    def __init__(
        self,
        job: WorkerJob,
        board: BoardClient,
        *,
        allow: AllowList,
        readable: Sequence[str] = (),
        tools: Sequence[str] = (),
        deadline: float | None = None,
    ) -> None:
        self.job, self.board, self.allow = job, board, allow
        self.readable = frozenset(readable)
        """Workspace-relative paths of dependency artifacts the model may read."""
        self.tools = list(tools)
        """Registered sprintboard tools offered besides the pinned ones."""
        self.deadline = deadline
        self.run_dir = job.run_dir.resolve()

    def definitions(self) -> tuple[ToolDefinition, ...]:
        """The `tools` of every request: pinned first, then the registered tools."""
        out = [
            ToolDefinition(name=name, description=about, parameters=model.model_json_schema())
            for name, (model, about) in _PINNED_ARGS.items()
        ]
        for name in self.tools:
            spec = get_tool(name)
            out.append(
                ToolDefinition(
                    name=name,
                    description=f"sprintboard tool: {spec.summary} (paths are relative to "
                    "the workspace; write outputs under the run folder)",
                    parameters=spec.config.model_json_schema(),
                )
            )
        return tuple(out)

    def call(self, call: ToolCall) -> ToolResult:
        """Run one call; never raises for the model's mistakes."""
        if call.name not in _PINNED_ARGS and call.name not in self.tools:
            known = ", ".join([*_PINNED_ARGS, *self.tools])
            return ToolResult(f"error: unknown tool {call.name!r}; tools: {known}", True)
        try:
            raw = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            return ToolResult(
                f"error: the arguments of {call.name} are not JSON ({exc.msg} at {exc.pos}); "
                "send one JSON object",
                True,
            )
        if not isinstance(raw, dict):
            return ToolResult(f"error: the arguments of {call.name} must be a JSON object", True)
        if call.name not in _PINNED_ARGS:
            return self._registered(call.name, raw)
        model, _ = _PINNED_ARGS[call.name]
        try:
            args = model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
                for e in exc.errors(include_url=False)[:5]
            )
            return ToolResult(f"error: bad arguments for {call.name}: {problems}", True)
        try:
            return self._pinned(args)
        except _Refused as exc:
            return ToolResult(f"refused: {exc}")
        except (OSError, SprintboardError) as exc:
            return ToolResult(f"error: {exc}")

    # -- pinned tools ----------------------------------------------------------------------

    def _pinned(self, args: _Args) -> ToolResult:
        if isinstance(args, _ReadFile):
            return ToolResult(self._read(args.path))
        if isinstance(args, _WriteFile):
            return ToolResult(self._write(args.path, args.content))
        if isinstance(args, _ListFiles):
            return ToolResult(self._list(args.path))
        if isinstance(args, _RunCommand):
            return ToolResult(self._run(args.argv))
        if isinstance(args, _Note):
            note = self.board.note(self.job.task, args.text, self.job.agent, fence=self.job.fence)
            return ToolResult(f"noted ({note.id})")
        if isinstance(args, _Ask):
            q = self.board.ask(self.job.task, args.question, self.job.agent, fence=self.job.fence)
            return ToolResult(f"asked ({q.id}); a person's answer will show in the task later")
        assert isinstance(args, _Finish)
        return ToolResult(args.summary, finished=True)

    def inside(self, path: str) -> Path:
        """`path` in the run folder, refused when absolute, with `..`, or out by a symlink."""
        given = Path(path)
        if given.is_absolute():
            raise _Refused(f"{path!r} is absolute; give a path relative to the run folder")
        if ".." in given.parts:
            raise _Refused(f"{path!r} has `..`; paths stay inside the run folder")
        full = self.run_dir / given
        if not full.resolve().is_relative_to(self.run_dir):
            raise _Refused(f"{path!r} leads out of the run folder (a symlink)")
        return full

    def _read(self, path: str) -> str:
        if path in self.readable:
            full = self.job.root / path
            if full.is_symlink() or not full.resolve().is_relative_to(self.job.root.resolve()):
                raise _Refused(f"{path!r} leads out of the workspace")
        else:
            full = self.inside(path)
        data = full.read_bytes()
        text = data[:_READ_LIMIT].decode("utf-8", errors="replace")
        more = len(data) - _READ_LIMIT
        return text + (f"\n[... {more} more bytes not shown]" if more > 0 else "")

    def _write(self, path: str, content: str) -> str:
        full = self.inside(path)
        if full.parent == self.run_dir and full.name in _PROTECTED:
            raise _Refused(f"{path} is the runner's own file; write another name")
        data = content.encode("utf-8")
        if len(data) > _WRITE_LIMIT:
            raise _Refused(f"{len(data)} bytes is more than {_WRITE_LIMIT} per file")
        full.parent.mkdir(parents=True, exist_ok=True)
        if full.is_symlink():
            raise _Refused(f"{path!r} is a symlink")
        full.write_bytes(data)
        return f"wrote {len(data)} bytes to {path}"

    def _list(self, path: str) -> str:
        folder = self.inside(path)
        lines = [
            str(p.relative_to(self.run_dir))
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.resolve().is_relative_to(self.run_dir)
        ]
        lines += [f"{p} (dependency artifact, read only)" for p in sorted(self.readable)]
        return "\n".join(lines) or "(no files)"

    def _run(self, argv: list[str]) -> str:
        if not self.allow.permits(argv):
            raise _Refused(
                f"{json.dumps(argv)} is not in [workers] allow_commands; allowed commands "
                "run as written, without a shell"
            )
        timeout = 300.0
        if self.deadline is not None:
            timeout = max(1.0, min(timeout, self.deadline - time.monotonic()))
        try:
            done = subprocess.run(
                argv,
                cwd=self.job.cwd,
                env=dict(self.job.env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
                shell=False,
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:g}s"
        except OSError as exc:
            return f"could not start: {exc}"
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        return f"exit {done.returncode}\n{output[-_OUTPUT_LIMIT:]}"

    # -- registered tools ------------------------------------------------------------------

    def _registered(self, name: str, raw: Mapping[str, Any]) -> ToolResult:
        try:
            config = absolute_paths(validate_step(name, raw), self.job.root)
        except SprintboardError as exc:
            return ToolResult(f"error: {exc}", True)
        try:
            report = get_tool(name).run(config)
        except Exception as exc:  # a tool's failure is the model's to read, not a crash
            return ToolResult(f"error: {name} failed: {type(exc).__name__}: {exc}")
        return ToolResult(report.model_dump_json()[:_OUTPUT_LIMIT])
