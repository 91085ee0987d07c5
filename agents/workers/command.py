"""The `command` worker: an outside coding agent's CLI, run once per attempt.

The command is an argv from sprintboard.toml (never run through a shell); `{prompt_file}`,
`{task}`, `{run_dir}` and `{workspace}` are filled in inside their own arguments. It runs
in its own process group with `job.cwd` as cwd, sees only `job.env`, and writes stdout
and stderr to `worker.log`. At its timeout, or when the lease is lost, the whole group is
killed (TERM, then KILL); when it exits, whatever it left running in its group is killed
too, so nothing of an attempt outlives it.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from sprintboard.agents.workers.job import WorkerJob, WorkerOutcome
from sprintboard.agents.workers.run_dir import log_tail, mark_started
from sprintboard.config import AgentConfig

__all__ = ["CommandWorker", "fill_placeholders"]

_POLL = 0.1


def fill_placeholders(argv: list[str], job: WorkerJob) -> list[str]:
    """The argv with each known `{name}` replaced, argument by argument."""
    values = {
        "{prompt_file}": str(job.prompt_file),
        "{task}": job.task,
        "{run_dir}": str(job.run_dir),
        "{workspace}": str(job.root),
    }
    out = []
    for arg in argv:
        for key, value in values.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """TERM the process group, KILL it after `grace` seconds, and reap the leader."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the leader is gone; its children may not be
    except ProcessLookupError:
        pass


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
    except (BrokenPipeError, ValueError):
        pass  # the worker does not read its stdin: fine
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass


class CommandWorker:
    """Runs an agent's `command` for one attempt."""

    def __init__(self, agent: AgentConfig, *, grace: float = 5.0) -> None:
        self.agent = agent
        self.grace = grace
        """Seconds between TERM and KILL when the group is stopped."""

    def run(self, job: WorkerJob) -> WorkerOutcome:
        """Run the command to its end, its timeout, or the loss of the lease."""
        argv = fill_placeholders(list(self.agent.command), job)
        shown = shlex.join(argv)
        with job.log_file.open("ab") as log:
            log.write(f"$ {shown}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=job.cwd,
                    env=dict(job.env),
                    stdin=subprocess.PIPE if self.agent.stdin else subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, killed as one
                    shell=False,
                )
            except OSError as exc:
                log.write(f"could not start: {exc}\n".encode())
                return WorkerOutcome(False, f"could not start `{shown}`: {exc}")
        mark_started(job.run_dir, proc.pid)
        if self.agent.stdin:
            data = Path(job.prompt_file).read_bytes()
            threading.Thread(target=_feed, args=(proc, data), daemon=True).start()
        deadline = time.monotonic() + self.agent.timeout
        while True:
            try:
                code = proc.wait(timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            if job.lost.is_set():
                _kill_group(proc, self.grace)
                return WorkerOutcome(False, "the lease was lost; the worker was stopped")
            if time.monotonic() >= deadline:
                _kill_group(proc, self.grace)
                self._say(job, f"killed after its timeout of {self.agent.timeout:g}s")
                return WorkerOutcome(
                    False,
                    f"timed out after {self.agent.timeout:g}s (killed); worker.log ends: "
                    f"{log_tail(job.log_file)}",
                )
        _kill_group(proc, 0)
        if code == 0:
            return WorkerOutcome(True, f"`{argv[0]}` exited 0")
        return WorkerOutcome(
            False, f"`{argv[0]}` exited {code}; worker.log ends: {log_tail(job.log_file)}"
        )

    @staticmethod
    def _say(job: WorkerJob, text: str) -> None:
        with job.log_file.open("a", encoding="utf-8") as log:
            log.write(f"[sprintboard] {text}\n")
