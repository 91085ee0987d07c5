"""The CLI through its entry point: exit codes 0/1/2, one-line errors, a stable --json shape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from sprintboard.board.journal import line_hash
from sprintboard.cli import main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("sprintboard")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    assert run("init", str(root), "--no-git", "--add-host", "beta:mlx").returncode == 0
    return root


def test_status_json_has_the_documented_shape(ws: Path) -> None:
    assert run("add", "T1", "Audit", "-w", str(ws)).returncode == 0
    assert (
        run("add", "T2", "Dedup", "-d", "T1", "--status", "blocked", "-w", str(ws)).returncode == 0
    )
    out = run("status", "--json", "-w", str(ws))
    assert out.returncode == 0
    doc = orjson.loads(out.stdout)
    assert set(doc) == {"version", "workspace", "host", "sprint", "counters", "tasks", "journal"}
    # waiting on dependencies is not "blocked" (issue 27): that counter is for a reason
    assert doc["counters"] == {"total_tasks": 2, "ready": 1, "waiting": 1}
    t2 = doc["tasks"][1]
    assert (t2["id"], t2["column"], t2["dependencies"]) == ("T2", "Backlog", ["T1"])
    assert (t2["status"], t2["state"], t2["waits"]["who"]) == ("blocked", "waiting", "T1")


def test_claim_submit_and_log(ws: Path) -> None:
    run("add", "T1", "Audit", "-w", str(ws))
    claim = run("claim", "T1", "--agent", "builder-alpha", "--json", "-w", str(ws))
    fence = orjson.loads(claim.stdout)["fence"]
    art = ws / "out.txt"
    art.write_text("x", encoding="utf-8")
    sub = run(
        "submit",
        "T1",
        "--fence",
        str(fence),
        "--artifact",
        str(art),
        "-m",
        "val_loss=1.5",
        "-w",
        str(ws),
    )
    assert sub.returncode == 0, sub.stderr
    log = orjson.loads(run("log", "--json", "-w", str(ws)).stdout)
    assert [e["op"] for e in log] == [
        "task.create",
        "lease.grant",
        "artifact.add",
        "metric.set",
        "task.move",
    ]
    stale = run("submit", "T1", "--fence", str(fence), "-w", str(ws))
    assert stale.returncode == 1
    assert stale.stderr.startswith("error: T1: fencing token") and stale.stderr.count("\n") == 1


def test_user_errors_exit_1_with_one_line(ws: Path) -> None:
    out = run("move", "T404", "ready", "-w", str(ws))
    assert (
        out.returncode == 1
        and "unknown task 'T404'" in out.stderr
        and "Traceback" not in out.stderr
    )


def test_usage_errors_exit_2(ws: Path) -> None:
    assert run("claim", "-w", str(ws)).returncode == 2
    assert run("move", "T1", "sideways", "-w", str(ws)).returncode == 2
    assert run("no-such-command").returncode == 2


def test_outside_a_workspace_says_what_to_do(tmp_path: Path) -> None:
    out = run("status", cwd=tmp_path)
    assert out.returncode == 1 and "sprintboard init" in out.stderr


def test_init_refuses_the_repo_root_and_an_existing_workspace(ws: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    assert (repo / "pyproject.toml").exists()
    with pytest.raises(SystemExit) as err:
        main(["init", str(repo), "--no-git"])
    assert err.value.code == 1
    again = run("init", str(ws), "--no-git")
    assert again.returncode == 1 and "already a workspace" in again.stderr


def test_validate_detects_a_rolled_back_journal_and_adopt_accepts_it(ws: Path) -> None:
    run("add", "T1", "One", "-w", str(ws))
    journal = ws / "sprints" / "events.jsonl"
    old = journal.read_bytes()
    run("add", "T2", "Two", "-w", str(ws))
    journal.write_bytes(old)
    bad = run("validate", "-w", str(ws))
    assert bad.returncode == 1 and "reverted" in bad.stderr
    good = run("validate", "--adopt", "--json", "-w", str(ws))
    assert good.returncode == 0 and orjson.loads(good.stdout)["events"] == 1


def test_init_makes_a_git_workspace_with_the_layout(tmp_path: Path) -> None:
    import git

    root = tmp_path / "board"
    assert run("init", str(root), "--add-host", "beta:mlx").returncode == 0
    for rel in (
        "KANBAN.md",
        "sprintboard.toml",
        "sprints/SPRINT_QUEUE.json",
        "memory",
        ".a2a/beta/inbox/new",
        ".a2a/ledger",
    ):
        assert (root / rel).exists(), rel
    repo = git.Repo(root)
    assert not repo.is_dirty(untracked_files=True)
    assert ".sprintboard/" in (root / ".gitignore").read_text(encoding="utf-8")


# -- issue 16: bad input is one line and exit 1, never a traceback or a bricked board -----


@pytest.fixture
def board_ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    main(["init", str(root), "--no-git"])  # returns on success, exits on failure
    return root


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, the `error:` lines of stderr)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    errors = "\n".join(line for line in out.err.splitlines() if not line.startswith("WARNING"))
    return code, out.out, errors


def test_bad_values_are_one_line_and_nothing_is_written(
    board_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ("-w", str(board_ws))
    assert cli(capsys, "add", "T1", "Audit", *w)[0] == 0
    assert cli(capsys, "claim", "T1", "--agent", "builder-alpha", *w)[0] == 0
    journal = (board_ws / "sprints" / "events.jsonl").read_bytes()
    for args, says in (
        (("submit", "T1", "--fence", "1", "-m", "loss=nan"), "finite"),
        (("submit", "T1", "--fence", "1", "-m", "loss=1e400"), "finite"),
        (("submit", "T1", "--fence", "1", "-m", "loss"), "NAME=NUMBER"),
        (("add", "T2", "x", "-c", "x `check: make check`"), "unknown check kind 'make'"),
        (("edit", "T1", "-p", "100000000000000000000000"), "priority"),
        (("add", "A\nB", "x"), "task id"),
        (("add", "", "x"), "task id"),
        (("add", "../../etc", "x"), "task id"),
        (("add", "T3", "two\nlines"), "title"),
        (("edit", "T1", "--owner", "ana\n- [ ] `T9` P0 **x**"), "agent"),
        (("claim", "T1", "--agent", "b", "--ttl", "-5"), "ttl"),
    ):
        code, _, err = cli(capsys, *args, *w)
        assert code in (1, 2) and says in err and "Traceback" not in err, (args, err)
        assert err.count("\n") <= 1 or code == 2, err
    assert (board_ws / "sprints" / "events.jsonl").read_bytes() == journal
    assert cli(capsys, "validate", *w)[0] == 0


def test_ttl_zero_is_refused_not_made_900(
    board_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ("-w", str(board_ws))
    cli(capsys, "add", "T1", "Audit", *w)
    code, _, err = cli(capsys, "claim", "T1", "--agent", "b", "--ttl", "0", *w)
    assert code == 1 and "ttl 0: must be between 1" in err


def test_done_twice_is_recorded_once(board_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = ("-w", str(board_ws))
    cli(capsys, "add", "T1", "Audit", *w)
    outs = [cli(capsys, "move", "T1", "done", "--force", *w)[1] for _ in range(5)]
    assert outs[0] == "T1 -> done\n" and outs[1] == "T1 is already done; nothing changed\n"
    code, out, _ = cli(capsys, "log", "--json", *w)
    assert [e["fields"].get("to") for e in orjson.loads(out)].count("done") == 1


def test_a_broken_config_is_one_line(board_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = board_ws / "sprintboard.toml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_bytes(text.encode("utf-8") + b"# caf\xe9\n")  # saved as Latin-1 by an editor
    code, _, err = cli(capsys, "status", "-w", str(board_ws))
    assert code == 1 and "not UTF-8" in err
    cfg.write_text(text.replace("builder = 3", "builder = -1"), encoding="utf-8")
    code, _, err = cli(capsys, "status", "-w", str(board_ws))
    assert code == 1 and "wip.builder" in err


def test_validate_reports_the_snapshot_and_repairs_the_journal(
    board_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ("-w", str(board_ws))
    cli(capsys, "add", "T1", "Audit", *w)
    cli(capsys, "add", "T2", "Dedup", "-d", "T1", "--status", "blocked", *w)
    snapshot = board_ws / "sprints" / "SPRINT_QUEUE.json"
    doc = orjson.loads(snapshot.read_bytes())
    doc["tasks"][0]["status"] = "done"
    snapshot.write_bytes(orjson.dumps(doc))
    code, _, err = cli(capsys, "validate", *w)
    assert code == 1 and "T1.status is 'done' in the snapshot, 'ready' in the journal" in err
    snapshot.unlink()
    code, out, _ = cli(capsys, "validate", *w)
    assert code == 0 and "was missing; rebuilt" in out
    # a journal an older version wrote with a NaN metric (stored as null): named, then repaired
    cli(capsys, "claim", "T1", "--agent", "builder-alpha", *w)
    cli(capsys, "submit", "T1", "--fence", "1", "-m", "loss=0.5", *w)
    cli(capsys, "add", "T3", "Later work", *w)
    journal = board_ws / "sprints" / "events.jsonl"
    prev, lines = None, []
    for raw in journal.read_bytes().splitlines():
        doc = orjson.loads(raw.replace(b'"value":0.5', b'"value":null'))
        doc["prev"] = prev
        lines.append(orjson.dumps(doc))
        prev = line_hash(lines[-1])
    journal.write_bytes(b"".join(line + b"\n" for line in lines))
    (board_ws / ".sprintboard" / "head.json").unlink()  # as the older version left it
    code, _, err = cli(capsys, "status", *w)
    assert code == 1 and "events.jsonl:" in err and "--repair" in err and "Traceback" not in err
    code, out, err = cli(capsys, "validate", "--repair", *w)
    assert code == 0 and "set aside line 4" in err, err
    code, out, _ = cli(capsys, "status", "--json", *w)
    assert [t["id"] for t in orjson.loads(out)["tasks"]] == ["T1", "T2", "T3"]


def test_help_and_tables_in_a_pipe_use_120_columns(ws: Path) -> None:
    import os

    # os.environ as Python sees it: something under pytest puts COLUMNS=80 into the C
    # environment (putenv) that children would inherit otherwise
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    exe = str(Path(sys.executable).with_name("sprintboard"))

    def piped(*args: str) -> str:
        done = subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    title = "A fairly long task title that would wrap word by word in a narrow table"
    assert run("add", "T1", title, "-w", str(ws)).returncode == 0
    table = piped("status", "-w", str(ws))
    assert title in table  # on one line, not wrapped
    assert max(len(line) for line in table.splitlines()) <= 120
    widths = [len(line) for line in piped("claim-next", "--help").splitlines()]
    assert 80 < max(widths) <= 120


def test_the_fence_comes_from_the_environment_and_messages_become_notes(ws: Path) -> None:
    import os

    run("add", "T1", "Audit", "-w", str(ws))
    claim = run("claim", "T1", "--agent", "builder-alpha", "--json", "-w", str(ws))
    env = {**os.environ, "SPRINTBOARD_FENCE": str(orjson.loads(claim.stdout)["fence"])}
    exe = str(Path(sys.executable).with_name("sprintboard"))

    def sb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args, "-w", str(ws)], capture_output=True, text=True,
                              env=env, timeout=60)  # fmt: skip

    assert sb("heartbeat", "T1", "--message", "halfway").returncode == 0
    asked = sb("ask", "T1", "Which split?", "--as", "builder-alpha")
    assert asked.returncode == 0 and asked.stdout.strip().startswith("alpha:")
    done = sb("submit", "T1", "--message", "all done")
    assert done.returncode == 0 and "awaiting_test" in done.stdout, done.stderr
    doc = orjson.loads(sb("show", "T1", "--json").stdout)
    assert [(n["text"], n["actor"]) for n in doc["notes"]] == [
        ("halfway", "builder-alpha@alpha"),
        ("all done", "builder-alpha@alpha"),
    ]
    assert doc["questions"][0]["id"] == asked.stdout.strip() and doc["waiting_for_person"]
    stale = sb("note", "T1", "late", "--as", "builder-alpha")  # the lease ended at submit
    assert stale.returncode == 1 and stale.stderr.count("\n") == 1


def test_every_command_that_changes_a_task_answers_json(ws: Path) -> None:
    w = ["-w", str(ws), "--json"]
    added = orjson.loads(run("add", "T1", "Audit", *w).stdout)
    assert (added["id"], added["status"]) == ("T1", "ready")
    edited = orjson.loads(run("edit", "T1", "--title", "Audit rows", *w).stdout)
    assert edited["title"] == "Audit rows"
    lease = orjson.loads(run("claim", "T1", "--agent", "builder-alpha", *w).stdout)
    beat = orjson.loads(run("heartbeat", "T1", "--fence", str(lease["fence"]), *w).stdout)
    assert beat["fence"] == lease["fence"] and beat["task"] == "T1"
    released = orjson.loads(run("release", "T1", "--fence", str(lease["fence"]), *w).stdout)
    assert released["status"] == "ready"
    lease = orjson.loads(run("claim", "T1", "--agent", "builder-alpha", *w).stdout)
    submitted = orjson.loads(run("submit", "T1", "--fence", str(lease["fence"]), *w).stdout)
    assert (submitted["id"], submitted["status"]) == ("T1", "awaiting_test")
    moved = orjson.loads(run("move", "T1", "blocked", "-r", "waits for data", *w).stdout)
    assert moved["status"] == "blocked"


def test_errors_are_json_on_stderr_with_json(ws: Path) -> None:
    out = run("move", "T404", "done", "-w", str(ws), "--json")
    assert out.returncode == 1 and out.stdout == ""
    err = orjson.loads(out.stderr)["error"]
    assert "T404" in err["message"] and err["exit_code"] == 1
    usage = run("move", "T1", "nowhere", "-w", str(ws), "--json")
    assert usage.returncode == 2
    assert orjson.loads(usage.stderr)["error"]["exit_code"] == 2
    plain = run("move", "T404", "done", "-w", str(ws))
    assert plain.stderr.startswith("error: ") and "T404" in plain.stderr


def test_version_and_completion_and_verbosity() -> None:
    from sprintboard import __version__

    out = run("--version")
    assert (out.returncode, out.stdout.strip()) == (0, f"sprintboard {__version__}")
    # typer detects the shell from the parent process; its test switch takes it as a value
    exe = Path(sys.executable).with_name("sprintboard")
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run(
        [str(exe), "--show-completion", "bash"], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0 and "_SPRINTBOARD_COMPLETE" in shown.stdout
    helped = run("--help")
    for flag in ("--quiet", "--verbose", "--install-completion", "--version"):
        assert flag in helped.stdout, flag


def test_serve_on_a_busy_port_says_so_and_exits_1(ws: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run("serve", "-w", str(ws), "--port", str(port))
    assert out.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in out.stderr
    assert "Errno" not in out.stderr and "http://" not in out.stderr
