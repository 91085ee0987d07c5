"""`make demo`: the main job, end to end, in a fresh workspace under `demo/`.

Two hosts: `alpha` owns the board (the workspace, a git repo), `beta` is the only one with
`mlx` and has its own folder (made by `join`: own `.sprintboard/`, no board files) that sees data
folders and the A2A directory through a shared mount. Each host's agents run as their own
process (`sprintboard agents run --host ...`) and the owner's daemon (`sprintboard a2a
serve --host alpha`) answers beta's signed messages; beta's results travel back as blobs
the owner verifies and promotes. Beta's agents start first; once beta holds its first audit
a scripted person edits KANBAN.md (and syncs it), then alpha's agents start. Last, alpha's
command worker (`writer-alpha`, running `sprintboard.demo.model_card` where a coding
agent's CLI would go) writes the model card, a task without tool steps, and the Auditor
checks the file in its run folder. No network, key or GPU is needed.

```python
from sprintboard.demo import main
result = main(Path("/tmp/demo"), scale=0.3, iters=10)
```
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from sprintboard.a2a.keys import keygen, pair
from sprintboard.board.local import LocalBoard
from sprintboard.board.state import BoardState
from sprintboard.demo.data import SOURCES, DatasetSummary, write_dataset
from sprintboard.demo.recipe import NEAR_DUP_TITLE, WRITER_CAPS, write_demo_recipe
from sprintboard.demo.story import PersonEdit, tell_story
from sprintboard.errors import SprintboardError
from sprintboard.join import join_workspace
from sprintboard.tools.tiny_model import build_tiny_model
from sprintboard.workspace import init_workspace, kanban_sync, open_board

__all__ = ["OBJECTIVE", "PERSON", "DemoError", "DemoResult", "cli", "edit_kanban", "main"]

OBJECTIVE = "fine-tune a small model on the mixed dataset"
PERSON = "human:dana"
_CLI = "import sys; from sprintboard.cli import main; main(sys.argv[1:])"
_SHARED = ("data", "models", "runs")


class DemoError(SprintboardError):
    """The demo could not finish; the message names the log files to read."""


@dataclass(slots=True)
class DemoResult:
    """What a demo run produced (the end-to-end test asserts on it)."""

    workspace: Path
    dataset: DatasetSummary
    state: BoardState
    person: PersonEdit
    standup: Path
    burndown: Path
    timings: dict[str, float] = field(default_factory=dict)


class _Processes:
    """The hosts' processes; each logs to `logs/<name>.log`, all stopped at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, tuple[subprocess.Popen[bytes], IO[bytes]]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: Sequence[str | Path], env: dict[str, str], cwd: Path) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        argv = [sys.executable, "-P", "-c", _CLI, *map(str, args)]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.running[name] = (proc, log)

    def check_alive(self) -> None:
        for name, (proc, _) in self.running.items():
            if proc.poll() is not None:
                raise DemoError(
                    f"the {name} process exited early (code {proc.returncode}); "
                    f"see {self.logs / (name + '.log')}"
                )

    def stop_all(self) -> None:
        for proc, _ in self.running.values():
            if proc.poll() is None:
                proc.terminate()
        for proc, log in self.running.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
            log.close()
        self.running.clear()


def _cli(args: Sequence[str | Path], env: dict[str, str], cwd: Path) -> Any:
    """Run one `sprintboard ... --json` command in `cwd` and return its document."""
    argv = [sys.executable, "-P", "-c", _CLI, *map(str, args), "--json"]
    done = subprocess.run(argv, capture_output=True, env=env, check=False, cwd=cwd)
    if done.returncode != 0:
        raise DemoError(
            f"`sprintboard {' '.join(map(str, args))}` failed: {done.stderr.decode()[-2000:]}"
        )
    return orjson.loads(done.stdout)


def edit_kanban(
    path: Path, *, raise_task: str, block_task: str, reason: str, decision: str
) -> None:
    """What the scripted person does in their editor: three changes, saved in one write.

    Raises `raise_task` to P1, moves `block_task`'s card to Blocked with `reason`, and adds
    `decision` under Decisions.
    """
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    card: list[str] = []
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith(f"- [ ] `{raise_task}` P"):
            head, _, rest = line.partition(f"`{raise_task}` P")
            line = f"{head}`{raise_task}` P1{rest[1:]}"
        if line.startswith(f"- [ ] `{block_task}` "):
            card = [line.rstrip("\n").replace(" · `blocked`", "") + f" · blocked: {reason}\n"]
            index += 1
            while index < len(lines) and lines[index].startswith("  "):
                card.append(lines[index])
                index += 1
            continue
        out.append(line)
        index += 1
    if not card:
        raise DemoError(f"{path}: no card for {block_task}; the board was rendered differently")
    text: list[str] = []
    for line in out:
        text.append(line)
        if line.startswith("## ") and "Blocked" in line:
            text += card
        elif line.startswith("## ") and "Decisions" in line:
            text.append(f"- {decision}\n")
    path.write_text("".join(text), encoding="utf-8")


def _wait(what: str, check: Callable[[], bool], timeout: float, procs: _Processes) -> None:
    # Bounded polling: the work happens in the hosts' processes.
    deadline = time.monotonic() + timeout
    while not check():
        procs.check_alive()
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:g}s waiting for {what}; see {procs.logs}")
        time.sleep(0.05)


def _find(state: BoardState, title: str) -> str:
    return next(t.id for t in state.tasks.values() if t.title == title)


@dataclass(slots=True)
class _Run:
    """One demo run: where it happens, the hosts' environment, and its clock."""

    root: Path
    ws: Path
    env: dict[str, str]
    say: IO[str]
    started: float = field(default_factory=time.monotonic)
    timings: dict[str, float] = field(default_factory=dict)

    def step(self, text: str) -> None:
        self.say.write(f"[{time.monotonic() - self.started:5.1f}s] {text}\n")
        self.say.flush()

    def mark(self, name: str) -> None:
        self.timings[name] = time.monotonic() - self.started


def main(
    root: Path = Path("demo"),
    *,
    scale: float = 1.0,
    iters: int = 30,
    timeout: float = 240.0,
    out: IO[str] | None = None,
) -> DemoResult:
    """Run the whole demo under `root` and print its story to `out` (default: stdout).

    `scale` sizes the dataset (1.0: about 420 rows over five sources), `iters` the LoRA run.

    Raises:
        DemoError: a host process died, or the sprint did not finish within `timeout` s.
    """
    root = Path(root).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRINTBOARD_")}
    run = _Run(root=root, ws=root / "workspace", env=env, say=out or sys.stdout)
    for old in (run.ws, root / "beta", root / "logs"):
        if old.exists():
            shutil.rmtree(old)
    beta = _set_up_hosts(run)
    dataset, recipe = _prepare_data(run, scale, iters)
    board = _plan(run, dataset, recipe)
    person = PersonEdit(
        raised="",
        blocked=_find(board.snapshot(), NEAR_DUP_TITLE),
        reason="not needed for this sprint; the dedup report covers it",
        decision="The near-duplicate report waits for next sprint; the mix goes ahead without it.",
    )
    _run_sprint(run, board, beta, person, timeout)
    return _close(run, board, dataset, person)


def _set_up_hosts(run: _Run) -> Path:
    """1. The workspace: alpha owns the board, beta has mlx; beta's own folder; keys paired."""
    ws = run.ws
    # The data folders stand in for the mount both machines see; `join` links them into
    # beta's own folder (its own `.sprintboard/`, no board files: every board call it
    # makes is a signed message to alpha).
    init_workspace(ws, owner="alpha", hosts=[("alpha", []), ("beta", ["mlx"])], shared=_SHARED)
    _add_writer(ws)  # before the join: beta's folder gets the same agents
    beta = Path(join_workspace(ws, run.root / "beta", "beta").folder)
    secret = keygen(ws / ".sprintboard" / "keys", "alpha", "beta")
    pair(beta / ".sprintboard" / "keys", "alpha", "beta", secret)
    run.step(f"workspace {ws} (owner alpha) and beta's folder {beta}; keys paired")
    return beta


def _prepare_data(run: _Run, scale: float, iters: int) -> tuple[DatasetSummary, Path]:
    """2. The dataset and the tiny base model (built here: nothing is downloaded)."""
    dataset = write_dataset(run.ws / "data", scale=scale)
    build_tiny_model(run.ws / "models" / "tiny")
    recipe = write_demo_recipe(
        run.ws / "recipes" / "finetune-demo.toml", {s.name: s.share for s in SOURCES}, iters=iters
    )
    run.mark("setup")
    faults = sum(s.empty_assistant + s.role_errors + s.truncated for s in dataset.sources)
    run.step(f"dataset: {len(dataset.paths)} sources, {faults} bad rows planted; tiny model built")
    return dataset, recipe


def _plan(run: _Run, dataset: DatasetSummary, recipe: Path) -> LocalBoard:
    """3. The Planner turns the objective into a sprint (BACKLOG.md in sprints/S1/)."""
    ws = run.ws
    sources = ",".join(str(p.relative_to(ws)) for p in dataset.paths)
    plan_args = ["--objective", OBJECTIVE, "--recipe", str(recipe.relative_to(ws))]
    plan_args += ["--param", f"sources={sources}", "--param", "model=models/tiny"]
    _cli(["agents", "plan", *plan_args, "--host", "alpha", "-w", ws], run.env, ws)
    run.mark("plan")
    run.step("planned sprint S1 (sprints/S1/BACKLOG.md)")
    return open_board(ws, host="alpha")


def _run_sprint(
    run: _Run, board: LocalBoard, beta: Path, person: PersonEdit, timeout: float
) -> None:
    """4.-6. Each host's agents in their own process; the owner's daemon answers beta.

    Beta's come up first and start on the audits by message; midway, once beta holds its
    first audit, a person edits KANBAN.md and syncs it; then alpha's come up. The Auditor
    accepts every task but the one the person blocked.
    """
    ws, env = run.ws, run.env
    procs = _Processes(run.root / "logs")
    try:
        serve = ["a2a", "serve", "--host", "alpha", "-w", str(ws), "--rescan", "0.5"]
        procs.start("alpha-a2a", serve, env, ws)
        beta_agents = ["agents", "run", "--host", "beta", "--tick", "1", "-w", str(beta)]
        procs.start("beta-agents", beta_agents, env, beta)
        run.step("started `a2a serve --host alpha` and `agents run --host beta`")

        _wait("beta's first claim", lambda: _granted(board), timeout, procs)
        person.raised = _last_unclaimed_audit(board.snapshot())
        edit_kanban(
            ws / "KANBAN.md",
            raise_task=person.raised,
            block_task=person.blocked,
            reason=person.reason,
            decision=person.decision,
        )
        kanban_sync(board).sync(board, actor=PERSON)
        person.at_seq = board.snapshot().seq
        run.mark("person")
        run.step(f"a person raised {person.raised}, blocked {person.blocked}, added a decision")
        alpha_agents = ["agents", "run", "--host", "alpha", "--tick", "0.5", "-w", str(ws)]
        procs.start("alpha-agents", alpha_agents, env, ws)
        run.step("started `agents run --host alpha`; waiting for the Auditor")

        _wait("the sprint", lambda: _finished(board.snapshot(), person.blocked), timeout, procs)
        run.mark("agents")
    finally:
        procs.stop_all()


def _close(run: _Run, board: LocalBoard, dataset: DatasetSummary, person: PersonEdit) -> DemoResult:
    """7. The standup and the burndown; then what happened and where to look."""
    ws = run.ws
    run.step("sprint done; writing the standup and the burndown")
    standup = _cli(["standup", "--host", "alpha", "-w", ws], run.env, ws)
    report = _cli(["report", "--host", "alpha", "-w", ws], run.env, ws)
    run.mark("total")
    result = DemoResult(
        workspace=ws,
        dataset=dataset,
        state=board.snapshot(),
        person=person,
        standup=Path(standup["standup"]["path"]),
        burndown=Path(report["png"]),
        timings=run.timings,
    )
    memory = (result.standup, result.burndown)
    run.say.write(tell_story(ws, board.events(), result.state, person, run.timings, memory))
    return result


def _add_writer(ws: Path) -> None:
    """A command-worker builder on alpha: it takes the step-less model card task (DESIGN.md
    contract 12), running the demo's own script where a coding agent's CLI would go."""
    argv = [sys.executable, "-P", "-m", "sprintboard.demo.model_card", "{prompt_file}"]
    lines = [
        "",
        "# hands tasks without tool steps to an outside program (here the demo's script;",
        "# see the README for coding-agent CLIs)",
        "[[agents]]",
        'name = "writer-alpha"',
        'role = "builder"',
        'host = "alpha"',
        f"caps = {orjson.dumps(WRITER_CAPS).decode()}",
        "wip = 1",
        'worker = "command"',
        f"command = {orjson.dumps(argv).decode()}",
        "timeout = 120",
        "max_attempts = 2",
        "",
    ]
    with (ws / "sprintboard.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def _granted(board: LocalBoard) -> bool:
    return any(e.op == "lease.grant" for e in board.events())


def _last_unclaimed_audit(state: BoardState) -> str:
    # The person raises an audit still waiting, so the raise can change what runs next.
    audits = sorted(t.id for t in state.tasks.values() if t.title.startswith("Audit "))
    waiting = [a for a in audits if state.tasks[a].attempt == 0]
    return (waiting or audits)[-1]


def _finished(state: BoardState, blocked: str) -> bool:
    # The person's block must be in the journal too, or the optional task would just wait.
    rest = [t for t in state.tasks.values() if t.id != blocked]
    return (
        bool(rest)
        and all(t.status == "done" for t in rest)
        and state.tasks[blocked].status == "blocked"
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sprintboard.demo", description=__doc__)
    parser.add_argument("root", nargs="?", type=Path, default=Path("demo"))
    parser.add_argument("--scale", type=float, default=1.0, help="Dataset size (1.0: ~420 rows).")
    parser.add_argument("--iters", type=int, default=30, help="LoRA iterations.")
    parser.add_argument("--timeout", type=float, default=240.0, help="Seconds for the sprint.")
    return parser.parse_args(argv)


def cli(argv: Sequence[str] | None = None) -> int:
    """`python -m sprintboard.demo [DIR] [--scale] [--iters] [--timeout]`."""
    args = _parse(argv)
    try:
        main(args.root, scale=args.scale, iters=args.iters, timeout=args.timeout)
    except SprintboardError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0
