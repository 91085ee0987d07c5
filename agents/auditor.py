"""The Auditor: runs each acceptance check of a submitted task and decides its next column.

All checks pass -> `done`. A check fails -> back to `ready` for the Builder with the failed
criteria listed (or `blocked` after `max_attempts`). Criteria without a machine check, or
with a `command` that is not allow-listed, need a person: `needs_manual`, with the reason.
The graph is `check` -> `decide`; both write events with ids keyed by task + attempt, so a
re-run after a kill records nothing twice.
"""

from __future__ import annotations

import operator
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

from sprintboard.agents.rundirs import resolve_runs
from sprintboard.agents.runtime import linear_graph
from sprintboard.allowlist import AllowList
from sprintboard.board.client import BoardClient, EventDraft
from sprintboard.board.criteria import Check, parse_check
from sprintboard.board.models import Status, Task
from sprintboard.board.state import BoardState
from sprintboard.board.values import clean_line
from sprintboard.errors import InvalidTransition, SprintboardError
from sprintboard.tools.registry import run_step

__all__ = ["AUDITABLE", "AuditState", "Auditor", "AuditorSettings", "CheckResult"]

AUDITABLE = frozenset({"awaiting_test", "testing"})
"""Statuses a submitted task waits in for the Auditor."""

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

Verdict = Literal["pass", "fail", "manual"]


class CheckResult(TypedDict):
    """What one criterion's check said."""

    index: int
    verdict: Verdict
    detail: str


class AuditState(TypedDict):
    """An audit thread's checkpointed state (thread id `auditor:<task>:<attempt>`)."""

    task: str
    attempt: int
    agent: str
    results: list[CheckResult]
    outcome: str
    detail: str


@dataclass(frozen=True, slots=True)
class AuditorSettings:
    """What the Auditor may run and how often a task may come back."""

    allow_commands: tuple[str, ...] = ()
    """`[auditor] allow_commands`: whole argv a `check: command` may run, matched as
    written before placeholders are filled in (`sprintboard.allowlist`)."""
    command_timeout: float = 300.0
    """Seconds a check command may run."""
    max_attempts: int = 3
    """Build attempts after which a failing task is blocked instead of sent back."""


class Auditor:
    """Builds the `auditor` graph for the owner host."""

    def __init__(
        self, board: BoardClient, root: Path, *, settings: AuditorSettings | None = None
    ) -> None:
        self.board, self.root = board, Path(root)
        self.settings = settings or AuditorSettings()
        self.allow = AllowList.parse(self.settings.allow_commands)

    def graph(self, saver: Any) -> Any:
        """The compiled graph: check -> decide."""
        return linear_graph(AuditState, [("check", self._check), ("decide", self._decide)], saver)

    @staticmethod
    def start(task: Task, agent: str) -> AuditState:
        """The first state of an audit thread for `task`'s current attempt."""
        return AuditState(
            task=task.id, attempt=task.attempt, agent=agent, results=[], outcome="", detail=""
        )

    # -- nodes ------------------------------------------------------------------------------

    def _actor(self, state: AuditState) -> str:
        return f"{state['agent']}@{self.board.host}"

    def _event_id(self, state: AuditState, what: str) -> str:
        return f"{self.board.host}:auditor.{state['task']}.{state['attempt']}.{what}"

    def _check(self, state: AuditState) -> dict[str, Any]:
        snap = self.board.snapshot()
        task = snap.tasks.get(state["task"])
        if task is None or task.status not in AUDITABLE or task.attempt != state["attempt"]:
            return {"outcome": "skipped", "detail": "no longer waiting for an audit"}
        results = [self.run_check(snap, task, i) for i in range(len(task.criteria))]
        drafts = [
            EventDraft(
                "criterion.check",
                task.id,
                {"index": r["index"], "done": r["verdict"] == "pass", "result": r["detail"]},
                actor=self._actor(state),
                id=self._event_id(state, f"c{r['index']}"),
            )
            for r in results
        ]
        self.board.apply(drafts)
        return {"results": results}

    def _decide(self, state: AuditState) -> dict[str, Any]:
        if state["outcome"]:
            return {}
        task = self.board.snapshot().tasks.get(state["task"])
        if task is None or task.status not in AUDITABLE or task.attempt != state["attempt"]:
            return {"outcome": "skipped", "detail": "decided before"}
        failed = [r for r in state["results"] if r["verdict"] == "fail"]
        manual = [r for r in state["results"] if r["verdict"] == "manual"]

        def listed(rs: Sequence[CheckResult]) -> str:
            return "; ".join(
                f"#{r['index'] + 1} {task.criteria[r['index']].text}: {r['detail']}" for r in rs
            )

        to: Status
        if not state["results"]:
            to, reason = "needs_manual", "no acceptance criteria; a person accepts it"
        elif failed:
            if task.attempt >= self.settings.max_attempts:
                to, reason = "blocked", f"failed after {task.attempt} attempts: "
            else:
                to, reason = "ready", "failed criteria: "
            reason += listed(failed)
        elif manual:
            to, reason = "needs_manual", f"needs a person: {listed(manual)}"
        else:
            to, reason = "done", f"all {len(state['results'])} checks passed"
        reason = clean_line(reason, 4000)
        try:
            self.board.move(
                task.id,
                to,
                self._actor(state),
                reason=reason,
                expected=task.status,
                key=self._event_id(state, "move"),
            )
        except InvalidTransition as exc:  # a person moved it (or unticked a check) meanwhile
            return {"outcome": "skipped", "detail": str(exc)}
        return {"outcome": to, "detail": reason}

    # -- checks -----------------------------------------------------------------------------

    def run_check(self, state: BoardState, task: Task, index: int) -> CheckResult:
        """Run criterion `index` of `task`; never raises for a failing check."""
        criterion = task.criteria[index]
        if not criterion.check:
            return CheckResult(index=index, verdict="manual", detail="no machine check")
        verdict: Verdict
        detail: str
        try:
            written = parse_check(criterion.check)
            if written.kind == "command" and not self.allow.permits(written.argv):
                verdict, detail = (
                    "manual",
                    (
                        f"`{shlex.join(written.argv)}` is not in [auditor] allow_commands of "
                        "sprintboard.toml; a person must run it or allow it"
                    ),
                )
            else:
                own = {task.id: task.attempt}
                if written.kind == "command":
                    # placeholders are filled in token by token, after the match: a filled-in
                    # value can never become another argument
                    argv = tuple(resolve_runs(list(written.argv), state, own, task=task.id))
                    check = Check("command", argv=argv)
                else:
                    check = parse_check(resolve_runs(criterion.check, state, own, task=task.id))
                verdict, detail = self._run(check, state, task, index)
        except (ValueError, SprintboardError) as exc:
            verdict, detail = "fail", str(exc)
        return CheckResult(index=index, verdict=verdict, detail=clean_line(detail))

    def _path(self, text: str | None) -> Path:
        path = Path(text or "")
        return path if path.is_absolute() else self.root / path

    def _run(self, check: Check, state: BoardState, task: Task, index: int) -> tuple[Verdict, str]:
        if check.kind == "file_exists":
            path = self._path(check.path)
            if path.exists():
                return "pass", f"{check.path} exists"
            return "fail", f"{check.path} does not exist"
        if check.kind == "audit_clean":
            return self._audit_clean(check, task, index)
        if check.kind == "metric":
            return self._metric(check, state, task)
        return self._command(check)

    def _audit_clean(self, check: Check, task: Task, index: int) -> tuple[Verdict, str]:
        path = self._path(check.path)
        if not path.exists():
            return "fail", f"{check.path} does not exist"
        out = self.root / ".sprintboard" / "audit" / task.id / str(task.attempt) / f"c{index + 1}"
        report: Any = run_step("audit", {"inputs": [str(path)], "out_dir": str(out), "plot": False})
        if report.ok and report.rejected == 0:
            return "pass", f"{check.path}: {report.rows} rows, all clean"
        return "fail", f"{check.path}: {report.rejected} of {report.rows} rows rejected"

    def _metric(self, check: Check, state: BoardState, task: Task) -> tuple[Verdict, str]:
        owner = state.tasks.get(check.task) if check.task else task
        if owner is None:
            return "fail", f"unknown task {check.task}"
        name = f"{check.task}.{check.metric}" if check.task else str(check.metric)
        value = owner.metrics.get(str(check.metric))
        if value is None:
            return "fail", f"{name} was not recorded"
        assert check.op is not None and check.number is not None
        ok = _OPS[check.op](value, check.number)
        return ("pass" if ok else "fail"), f"{name} = {value:.4g} ({check.op} {check.number:g})"

    def _command(self, check: Check) -> tuple[Verdict, str]:
        argv = list(check.argv)
        shown = shlex.join(argv)
        try:
            done = subprocess.run(  # never through a shell: an argument stays one argument
                argv,
                cwd=self.root,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.settings.command_timeout,
                check=False,
                shell=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return "fail", f"`{shown}`: {exc}"
        if done.returncode == 0:
            return "pass", f"`{shown}` exited 0"
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return "fail", f"`{shown}` exited {done.returncode}: {tail[0][:200]}"
