"""Command workers: a Builder hands step-less tasks to an outside program and the Auditor
checks what it made (DESIGN.md contract 12)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sprintboard.agents.hosting import run_host
from sprintboard.agents.runner import RunnerOptions
from sprintboard.board.models import Criterion, Step, Task
from sprintboard.workspace import open_board

CODER = Path(__file__).with_name("fake_coder.py")

CONFIG = """\
[board]
owner = "alpha"
default_ttl = {ttl}

[[hosts]]
name = "alpha"

[[agents]]
name = "negotiator-1"
role = "negotiator"
host = "alpha"

[[agents]]
name = "auditor-1"
role = "auditor"
host = "alpha"

[[agents]]
name = "builder-1"
role = "builder"
host = "alpha"
wip = 1

[[agents]]
name = "coder-1"
role = "builder"
host = "alpha"
caps = ["code"]
wip = 1
worker = "command"
command = {command}
timeout = {timeout}
max_attempts = {attempts}
{extra}
"""


def configure(
    root: Path,
    mode: str,
    *,
    timeout: float = 30,
    ttl: int = 900,
    attempts: int = 3,
    extra: str = "",
) -> None:
    command = json.dumps([sys.executable, str(CODER), mode, "{prompt_file}"])
    text = CONFIG.format(command=command, timeout=timeout, ttl=ttl, attempts=attempts, extra=extra)
    (root / "sprintboard.toml").write_text(text, encoding="utf-8")


def _once(root: Path) -> None:
    run_host(root, "alpha", RunnerOptions(once=True, tick=0.1, max_ticks=200))


def _task(task_id: str = "T100", **fields: object) -> Task:
    task = Task(id=task_id, title="Write the report", status="ready", caps=["code"])
    for name, value in fields.items():
        setattr(task, name, value)
    return task


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def test_a_step_less_task_runs_in_its_run_folder_with_only_the_listed_environment(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(ws, "env", extra='env = ["PASS_ME"]\nstdin = true')
    monkeypatch.setenv("PASS_ME", "yes")
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    board = open_board(ws)
    board.create_tasks(
        [_task(criteria=[Criterion("env dumped", check="file_exists {run}/env.json")])]
    )
    _once(ws)
    task = board.snapshot().tasks["T100"]
    assert task.status == "done", task.blocked_reason
    run = ws / "runs" / "T100" / "1"
    env = json.loads((run / "env.json").read_text(encoding="utf-8"))
    assert (run / "cwd.txt").read_text(encoding="utf-8") == str(run)
    assert env["PASS_ME"] == "yes" and "OPENAI_API_KEY" not in env
    assert env["SPRINTBOARD_TASK"] == "T100" and env["SPRINTBOARD_AGENT"] == "coder-1"
    assert env["SPRINTBOARD_FENCE"] == "1" and env["SPRINTBOARD_HOST"] == "alpha"
    assert env["SPRINTBOARD_WORKSPACE"] == str(ws) and env["SPRINTBOARD_RUN_DIR"] == str(run)
    binary = Path(env["SPRINTBOARD_BIN"])
    assert binary.name == "sprintboard" and binary.is_file()
    assert env["PATH"].split(os.pathsep)[0] == str(binary.parent)
    prompt = (run / "PROMPT.md").read_text(encoding="utf-8")
    assert "T100" in prompt and "Write the report" in prompt and "$SPRINTBOARD_RUN_DIR" in prompt
    assert json.loads((run / "task.json").read_text(encoding="utf-8"))["id"] == "T100"
    assert (run / "stdin.txt").read_text(encoding="utf-8") == prompt  # stdin = true
    recorded = sorted(a.path for a in task.artifacts)
    # the worker's files and its log; never the runner's own PROMPT.md, task.json, markers
    names = ("cwd.txt", "env.json", "stdin.txt", "worker.log")
    assert recorded == [f"runs/T100/1/{n}" for n in names]


def test_a_failed_check_sends_it_back_and_the_next_prompt_says_why(ws: Path) -> None:
    configure(ws, "env")
    board = open_board(ws)
    check = "file_exists {run}/report.md"
    board.create_tasks([_task(criteria=[Criterion("Report written", check=check)])])
    _once(ws)
    task = board.snapshot().tasks["T100"]
    # the Auditor sent it back twice, then blocked it (its own max_attempts)
    assert task.status == "blocked" and task.attempt == 3
    prompt = (ws / "runs" / "T100" / "2" / "PROMPT.md").read_text(encoding="utf-8")
    assert "Criterion #1 (Report written) was checked and failed" in prompt
    assert "runs/T100/1/report.md does not exist" in prompt


def test_a_worker_that_exits_1_is_retried_then_blocked_with_the_log_tail(ws: Path) -> None:
    configure(ws, "fail")
    board = open_board(ws)
    board.create_tasks([_task()])
    _once(ws)
    task = board.snapshot().tasks["T100"]
    assert task.status == "blocked" and task.attempt == 3 and task.artifacts == []
    assert task.blocked_reason is not None
    assert "3 attempts failed" in task.blocked_reason
    assert "boom on attempt 3" in task.blocked_reason and "exited 1" in task.blocked_reason
    notes = [n.text for n in board.snapshot().notes if n.task == "T100"]
    assert [n.split(":")[0] for n in notes] == ["Attempt 1 failed", "Attempt 2 failed"]
    # the second attempt was told why the first failed
    prompt = (ws / "runs" / "T100" / "2" / "PROMPT.md").read_text(encoding="utf-8")
    assert "Attempt 1 failed" in prompt and "boom on attempt 1" in prompt


def test_a_hanging_worker_and_its_children_are_killed_at_the_timeout(ws: Path) -> None:
    configure(ws, "hang", timeout=1.5, attempts=1)
    board = open_board(ws)
    board.create_tasks([_task()])
    started = time.monotonic()
    _once(ws)
    assert time.monotonic() - started < 60
    task = board.snapshot().tasks["T100"]
    assert task.status == "blocked" and task.blocked_reason is not None
    assert "timed out after 1.5s" in task.blocked_reason
    run = ws / "runs" / "T100" / "1"
    for name in ("started.txt", "child.txt"):
        pid = int((run / name).read_text(encoding="utf-8"))
        assert not _alive(pid), f"{name}: process {pid} outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_tasks_with_steps_stay_with_tools_builders(ws: Path) -> None:
    configure(ws, "env")
    board = open_board(ws)
    board.create_tasks(
        [Task(id="S1", title="a step", status="ready", steps=[Step("audit", {"inputs": []})])]
    )
    state = board.snapshot()
    tools = board.next_up("builder-1").tasks
    assert [t.id for t in tools] == ["S1"]
    from sprintboard.board.scheduling import next_tasks

    assert next_tasks(state, board.policy, agent="coder-1", by_worker=True) == []


def test_repo_mode_records_the_commit_and_the_diff_and_keeps_the_branch(ws: Path) -> None:
    repo = ws.parent / "project"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README.md").write_text("project\n", encoding="utf-8")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    configure(ws, "commit", extra='repo = "../project"')
    board = open_board(ws)
    board.create_tasks([_task(criteria=[Criterion("diff", check="file_exists {run}/diff.patch")])])
    _once(ws)
    task = board.snapshot().tasks["T100"]
    assert task.status == "done", task.blocked_reason
    run = ws / "runs" / "T100" / "1"
    commits = (run / "commits.txt").read_text(encoding="utf-8").splitlines()
    assert len(commits) == 1 and commits[0].endswith("feature for T100")
    assert "+made for T100" in (run / "diff.patch").read_text(encoding="utf-8")
    paths = {a.path for a in task.artifacts}
    assert {"runs/T100/1/commits.txt", "runs/T100/1/diff.patch"} <= paths
    branches = subprocess.run(
        [*git, "branch", "--format=%(refname:short)"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "sprintboard/T100-1" in branches
    assert not (ws / ".sprintboard" / "worktrees" / "T100-1").exists()
    main_log = subprocess.run([*git, "log", "--oneline", "main"], capture_output=True, text=True)
    assert len(main_log.stdout.splitlines()) == 1  # nothing merged


def _hang_then_finish(ws: Path) -> Path:
    """A T100 whose worker hangs until the returned file says `env` (then it finishes)."""
    flip = ws / "mode"
    flip.write_text("hang", encoding="utf-8")
    run = f'exec "{sys.executable}" "{CODER}" "$(cat {flip})" "$1"'
    command = json.dumps(["sh", "-c", run, "coder", "{prompt_file}"])
    text = CONFIG.format(command=command, timeout=60, ttl=900, attempts=3, extra="")
    (ws / "sprintboard.toml").write_text(text, encoding="utf-8")
    board = open_board(ws)
    board.create_tasks([_task(criteria=[Criterion("env", check="file_exists {run}/env.json")])])
    return flip


@pytest.mark.slow
def test_a_kill_nine_mid_worker_then_restart_does_the_task_once_without_the_killed_files(
    ws: Path,
) -> None:
    # the first runner's worker hangs; the restart's worker (a new attempt) finishes
    flip = _hang_then_finish(ws)
    board = open_board(ws)
    cmd = [str(Path(sys.executable).with_name("sprintboard")), "agents", "run", "--host", "alpha",
           "--once", "--tick", "0.1", "-w", str(ws)]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = ws / "runs" / "T100" / "1" / "started.txt"
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and first.poll() is None, "the worker never started"
        time.sleep(0.05)  # polling another process
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    orphan = int(started.read_text(encoding="utf-8"))
    assert _alive(orphan)  # the worker outlived its runner
    flip.write_text("env", encoding="utf-8")
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stderr
    assert not _alive(orphan)
    task = board.snapshot().tasks["T100"]
    assert task.status == "done" and task.attempt == 2
    assert all(a.path.startswith("runs/T100/2/") for a in task.artifacts)
    submits = [e for e in board.events() if e.op == "task.move" and e.fields.get("to") == "done"]
    assert len(submits) == 1
    assert "cut off" in (ws / "runs" / "T100" / "1" / "outcome.json").read_text(encoding="utf-8")


EXAMPLE = Path(__file__).parents[2].parent / "shared" / "examples" / "oodatcaa-SPRINT_BACKLOG.md"


def _cli(ws: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    binary = str(Path(sys.executable).with_name("sprintboard"))
    return subprocess.run(
        [binary, *args, "-w", str(ws)], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_the_oodatcaa_backlog_plus_a_run_checked_task_is_worked_by_a_command_worker(
    ws: Path,
) -> None:
    configure(ws, "ok")
    assert _cli(ws, "import", str(EXAMPLE)).returncode == 0
    added = _cli(
        ws, "add", "T100", "Write the sprint report", "--priority", "0", "--caps", "code",
        "-c", "Report written `check: file_exists {run}/report.md`",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    ran = _cli(ws, "agents", "run", "--host", "alpha", "--once", "--tick", "0.1", "--json")
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    board = open_board(ws)
    state = board.snapshot()
    t100, t001 = state.tasks["T100"], state.tasks["T001"]
    assert {"T100", "T001"} <= set(summary["claimed"]) and {"T100", "T001"} <= set(
        summary["submitted"]
    )
    assert t100.status == "done" and t100.criteria[0].done
    assert "runs/T100/1/report.md" in {a.path for a in t100.artifacts}
    # text-only criteria: a person reviews it, with what the worker made
    assert t001.status == "needs_manual"
    assert {"runs/T001/1/report.md", "runs/T001/1/notes/found.txt"} <= {
        a.path for a in t001.artifacts
    }
    shown = _cli(ws, "show", "T001")
    assert shown.returncode == 0 and "runs/T001/1/report.md" in shown.stdout
    rows = {r["id"]: r for r in json.loads(_cli(ws, "status", "--json").stdout)["tasks"]}
    assert "runs/T001/1/report.md" in rows["T001"]["artifacts"]  # the web board's rows
    assert rows["T100"]["caps"] == ["code"]
    kanban = (ws / "KANBAN.md").read_text(encoding="utf-8")
    assert "📎 `runs/T001/1/report.md`" in kanban
    notes = [(n.task, n.actor, n.text) for n in state.notes]
    assert ("T100", "coder-1@alpha", "fake coder wrote report.md for T100") in notes
    # what the worker read: the primer, the task as `show` renders it, and show --json
    run = ws / "runs" / "T100" / "1"
    prompt = (run / "PROMPT.md").read_text(encoding="utf-8")
    assert "sprintboard note" in prompt and "Write the sprint report" in prompt
    doc = json.loads((run / "task.json").read_text(encoding="utf-8"))
    shown_json = json.loads(_cli(ws, "show", "T100", "--json").stdout)
    assert doc["id"] == shown_json["id"] == "T100" and doc.keys() == shown_json.keys()
    # T002 depends on T001, which waits for a person: nothing else was claimed for it
    assert state.tasks["T002"].attempt == 0


def test_a_fenced_out_attempt_is_stopped_and_its_files_never_recorded(ws: Path) -> None:
    import threading

    from sprintboard.agents.builder import BuilderSettings

    flip = _hang_then_finish(ws)
    board = open_board(ws)
    started = ws / "runs" / "T100" / "1" / "started.txt"

    def take_the_lease_away() -> None:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the worker process
        flip.write_text("env", encoding="utf-8")
        lease = board.snapshot().tasks["T100"].lease
        assert lease is not None
        board.release("T100", lease.fence, "a person took it back")

    thief = threading.Thread(target=take_the_lease_away)
    thief.start()
    options = RunnerOptions(
        once=True, tick=0.1, max_ticks=400, builder=BuilderSettings(heartbeat_every=0.2)
    )
    run_host(ws, "alpha", options)
    thief.join()
    task = board.snapshot().tasks["T100"]
    assert task.status == "done" and task.attempt == 2
    assert all(a.path.startswith("runs/T100/2/") for a in task.artifacts)
    assert not _alive(int(started.read_text(encoding="utf-8")))
    assert "lease was lost" in (ws / "runs/T100/1/outcome.json").read_text(encoding="utf-8")


def test_an_earlier_attempt_cut_off_by_an_expired_lease_is_voided_and_its_worker_stopped(
    ws: Path,
) -> None:
    from sprintboard.agents.workers.attempt import AttemptPlan, settle_earlier
    from sprintboard.agents.workers.run_dir import load_outcome, mark_started
    from sprintboard.config import load_config

    configure(ws, "env")
    config = load_config(ws)
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        first = ws / "runs" / "T100" / "1"
        first.mkdir(parents=True)
        mark_started(first, orphan.pid)
        coder = next(a for a in config.agents if a.name == "coder-1")
        plan = AttemptPlan(
            root=ws, config=config, agent=coder, host="alpha", task="T100", attempt=3, fence=7
        )
        assert settle_earlier(plan) == [1]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        outcome = load_outcome(first)
        assert outcome is not None and not outcome.ok and "cut off" in outcome.reason
        assert settle_earlier(plan) == []  # said once
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
