"""An attempt's folder `runs/<task>/<attempt>/` as a worker sees it, and what the runner
keeps there to survive a kill.

The runner writes PROMPT.md and task.json before the worker starts, `worker.json` (the
worker's process, written before anything else happens) and `outcome.json` (how it
ended). A `worker.json` without an `outcome.json` means the runner died while the worker
ran: that attempt is void and its files are never recorded (`stop_leftover` ends the
orphaned process group). Every other file in the folder is the worker's, `worker.log`
(its stdout and stderr) included, and becomes an artifact on success.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from sprintboard.agents.workers.job import WorkerOutcome
from sprintboard.board.models import Artifact
from sprintboard.config import AgentConfig
from sprintboard.files import atomic_write, workspace_file_ref

__all__ = [
    "PASSED_ALWAYS",
    "RUNNER_FILES",
    "load_outcome",
    "log_tail",
    "mark_started",
    "save_outcome",
    "sprintboard_bin",
    "started",
    "stop_leftover",
    "worker_artifacts",
    "worker_env",
    "write_inputs",
]

RUNNER_FILES = frozenset({"PROMPT.md", "task.json", "worker.json", "outcome.json"})
"""What the runner itself writes in a run folder: never an artifact of the worker."""

PASSED_ALWAYS = ("PATH", "HOME", "LANG")
"""Variables every worker gets (besides `SPRINTBOARD_*` and the agent's `env` list)."""


class _Started(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    pid: int | None = None
    """The worker's process (its own process group), once spawned."""
    ticks: int | None = None
    """Its start time in clock ticks after boot (/proc), to tell it from a reused pid."""


class _Outcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    ok: bool
    reason: str = ""
    paused: bool = False


def sprintboard_bin() -> Path:
    """The running `sprintboard` executable, for the worker's `sprintboard note/ask`.

    The command that runs now when it is `sprintboard`, else the one installed beside
    this Python (a virtual environment's), else the first on PATH.
    """
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "sprintboard" and argv0.is_file():
        return argv0.absolute()
    beside = Path(sys.executable).parent / "sprintboard"
    if beside.is_file():
        return beside
    found = shutil.which("sprintboard")
    return Path(found) if found else beside


def worker_env(
    agent: AgentConfig,
    *,
    task: str,
    fence: int,
    host: str,
    root: Path,
    run_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a worker: PATH (the sprintboard folder first), HOME, LANG,
    the runner's `SPRINTBOARD_*`, the agent's listed `env`, and this attempt's own."""
    env = os.environ if environ is None else environ
    out = {k: v for k, v in env.items() if k in PASSED_ALWAYS or k.startswith("SPRINTBOARD_")}
    out.update({k: env[k] for k in agent.env if k in env})
    binary = sprintboard_bin()
    path = out.get("PATH", os.defpath)
    out["PATH"] = os.pathsep.join([str(binary.parent), path]) if path else str(binary.parent)
    out.update(
        SPRINTBOARD_TASK=task,
        SPRINTBOARD_FENCE=str(fence),
        SPRINTBOARD_AGENT=agent.name,
        SPRINTBOARD_HOST=host,
        SPRINTBOARD_WORKSPACE=str(root),
        SPRINTBOARD_RUN_DIR=str(run_dir),
        SPRINTBOARD_BIN=str(binary),
    )
    return out


def write_inputs(run_dir: Path, prompt: str, task_json: str) -> None:
    """PROMPT.md and task.json, before the worker starts."""
    atomic_write(run_dir / "PROMPT.md", prompt.encode("utf-8"))
    atomic_write(run_dir / "task.json", task_json.encode("utf-8"))


def _ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    # the name in parentheses may hold spaces; the fields after it are plain
    return int(stat.rsplit(")", 1)[1].split()[19])


def mark_started(run_dir: Path, pid: int | None = None) -> None:
    """Record that the attempt began (before anything else), then its process once spawned."""
    record = _Started(pid=pid, ticks=None if pid is None else _ticks(pid))
    atomic_write(run_dir / "worker.json", record.model_dump_json().encode("utf-8"))


def started(run_dir: Path) -> bool:
    """The attempt began here before (a kill or crash interrupted it if it has no outcome)."""
    return (run_dir / "worker.json").exists()


def stop_leftover(run_dir: Path) -> bool:
    """Kill the process group of an interrupted attempt if it still runs; True if it did."""
    try:
        record = _Started.model_validate_json((run_dir / "worker.json").read_bytes())
    except (OSError, ValidationError):
        return False
    if record.pid is None or record.ticks is None or _ticks(record.pid) != record.ticks:
        return False  # gone, or the pid now belongs to another process
    try:
        os.killpg(record.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def save_outcome(run_dir: Path, outcome: WorkerOutcome) -> None:
    atomic_write(
        run_dir / "outcome.json",
        _Outcome(ok=outcome.ok, reason=outcome.reason, paused=outcome.paused)
        .model_dump_json()
        .encode("utf-8"),
    )


def load_outcome(run_dir: Path) -> WorkerOutcome | None:
    """How the attempt ended, if it did."""
    try:
        raw = json.loads((run_dir / "outcome.json").read_text(encoding="utf-8"))
        saved = _Outcome.model_validate(raw)
    except (OSError, ValueError):
        return None
    return WorkerOutcome(saved.ok, saved.reason, saved.paused)


def worker_artifacts(root: Path, run_dir: Path) -> list[Artifact]:
    """Every file the worker left in its run folder, paths relative to the workspace."""
    return [
        workspace_file_ref(root, p)
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and not (p.parent == run_dir and p.name in RUNNER_FILES)
    ]


def log_tail(path: Path, lines: int = 15, chars: int = 1500) -> str:
    """The last lines of a log, joined with ` | ` (a reason is one line)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 8 * chars))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-chars:]
