"""A second machine works the board (issue 20): a folder made with `sprintboard join` as host
beta, in its own processes, while the owner's `a2a serve` runs; then with the owner away."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.cli import main
from sprintboard.commands import AGENT_COMMANDS
from sprintboard.config import load_config
from sprintboard.workspace import init_workspace, open_board

CODE = "import sys; from sprintboard.cli import main; main(sys.argv[1:])"


def _env() -> dict[str, str]:
    # beta's folder says which host it is; nothing in the environment does
    return {k: v for k, v in os.environ.items() if not k.startswith("SPRINTBOARD_")}


def sb(*args: str | Path, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """One `sprintboard` command as its own process."""
    return subprocess.run(
        [sys.executable, "-P", "-c", CODE, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        input=stdin,
        timeout=60,
        check=False,
    )


def _joined(tmp: Path) -> tuple[Path, Path]:
    alpha = init_workspace(
        tmp / "alpha", owner="alpha", hosts=[("alpha", []), ("beta", ["mlx"])], shared=["data"]
    )
    beta = tmp / "beta"
    done = sb("join", alpha, beta, "--host", "beta", cwd=tmp)
    assert done.returncode == 0, done.stderr
    assert f"a2a keygen beta -w {alpha}" in done.stdout
    assert f"a2a pair alpha - -w {beta}" in done.stdout
    key = sb("a2a", "keygen", "beta", "-w", alpha, cwd=alpha)
    assert key.returncode == 0, key.stderr
    paired = sb("a2a", "pair", "alpha", "-", "-w", beta, cwd=beta, stdin=key.stdout)
    assert paired.returncode == 0, paired.stderr
    return alpha, beta


def _joined_here(tmp: Path) -> tuple[Path, Path]:
    """The owner's workspace and a folder joined as beta, keys paired, in this process."""
    from sprintboard.a2a.keys import keygen, pair
    from sprintboard.join import join_workspace

    alpha = init_workspace(
        tmp / "alpha", owner="alpha", hosts=[("alpha", []), ("beta", ["mlx"])], git=False
    )
    beta = tmp / "beta"
    join_workspace(alpha, beta, "beta")
    secret = keygen(alpha / ".sprintboard/keys", "alpha", "beta")
    pair(beta / ".sprintboard/keys", "alpha", "beta", secret)
    return alpha, beta


def test_join_makes_a_host_folder_without_board_files(tmp_path: Path) -> None:
    alpha, beta = _joined(tmp_path)
    config = load_config(beta)
    assert config.local_host == "beta" and config.board.owner == "alpha"
    assert (config.a2a.transport, Path(config.a2a.dir)) == ("dir", alpha / ".a2a")
    assert (beta / "data").resolve() == alpha / "data"
    assert (beta / ".sprintboard" / "keys" / "alpha--beta.key").is_file()
    assert not (beta / "sprints").exists() and not (beta / "KANBAN.md").exists()
    again = sb("join", alpha, beta, "--host", "beta", cwd=tmp_path)
    assert again.returncode == 1 and "already a workspace" in again.stderr
    owner = sb("join", alpha, tmp_path / "x", "--host", "alpha", cwd=tmp_path)
    assert owner.returncode == 1 and "is the board owner" in owner.stderr


@pytest.mark.slow
def test_beta_works_the_board_through_the_owners_daemon(tmp_path: Path) -> None:
    alpha, beta = _joined(tmp_path)
    board = open_board(alpha, host="alpha")
    board.start_sprint("S1", "two hosts")
    board.create_tasks(
        [
            {"id": "T1", "title": "train", "status": "ready", "priority": 1, "caps": ["mlx"]},
            {"id": "T2", "title": "eval", "status": "ready", "priority": 2},
        ]
    )
    serve = ["a2a", "serve", "--host", "alpha", "-w", alpha, "--rescan", "0.2", "--for", "120"]
    daemon = subprocess.Popen(
        [sys.executable, "-P", "-c", CODE, *map(str, serve)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    try:
        status = sb("status", "--json", cwd=beta)
        assert status.returncode == 0, status.stderr
        doc = orjson.loads(status.stdout)
        assert doc["host"] == "beta" and [t["id"] for t in doc["tasks"]] == ["T1", "T2"]

        ranked = orjson.loads(sb("next", "--agent", "builder-beta", "--json", cwd=beta).stdout)
        claimed = sb("claim-next", "--agent", "builder-beta", "--json", cwd=beta)
        assert claimed.returncode == 0, claimed.stderr
        lease = orjson.loads(claimed.stdout)
        assert lease["task"] == ranked["tasks"][0]["id"] == "T1"
        assert (lease["agent"], lease["host"]) == ("builder-beta", "beta")
        fence = str(lease["fence"])

        beat = sb("heartbeat", "T1", "--fence", fence, cwd=beta)
        assert beat.returncode == 0 and "lease extended" in beat.stdout, beat.stderr
        stale = sb("heartbeat", "T1", "--fence", str(lease["fence"] + 7), cwd=beta)
        assert stale.returncode == 1 and "stale" in stale.stderr

        noted = sb("note", "T1", "epoch 1 of 3", "--as", "builder-beta", "--fence", fence, cwd=beta)
        assert noted.returncode == 0, noted.stderr
        asked = sb("ask", "T1", "Which base model?", "--as", "builder-beta", "--fence", fence,
                   cwd=beta)  # fmt: skip
        assert asked.returncode == 0, asked.stderr
        question_id = asked.stdout.strip()
        answered = sb("answer", "T1", "The 4-bit one", "--as", "human:ana", cwd=alpha)
        assert answered.returncode == 0 and question_id in answered.stdout, answered.stderr
        shown = sb("show", "T1", "--json", cwd=beta)
        assert shown.returncode == 0, shown.stderr
        doc = orjson.loads(shown.stdout)
        (q,) = doc["questions"]
        assert (q["id"], q["answer"], q["answered_by"]) == (
            question_id,
            "The 4-bit one",
            "human:ana",
        )
        assert [(n["text"], n["actor"]) for n in doc["notes"]] == [
            ("epoch 1 of 3", "builder-beta@beta")
        ]
        assert doc["lease"]["host"] == "beta" and not doc["waiting_for_person"]
        page = sb("show", "T1", cwd=beta)
        assert page.returncode == 0 and "The 4-bit one" in page.stdout
        wrong = sb("note", "T1", "late", "--as", "builder-beta", "--fence", str(lease["fence"] + 7),
                   cwd=beta)  # fmt: skip
        assert wrong.returncode == 1 and "fence" in wrong.stderr

        (beta / "data" / "adapter.txt").write_text("weights\n", encoding="utf-8")
        sent = sb(
            "submit", "T1", "--fence", fence, "--artifact", "data/adapter.txt", "-m", "loss=0.5",
            cwd=beta,
        )  # fmt: skip
        assert sent.returncode == 0 and "awaiting_test" in sent.stdout, sent.stderr
        late = sb("submit", "T1", "--fence", fence, "-m", "loss=9", cwd=beta)
        assert late.returncode == 1 and "stale" in late.stderr

        task = board.snapshot().tasks["T1"]
        assert task.status == "awaiting_test" and task.metrics == {"loss": 0.5}
        (art,) = task.artifacts
        assert (alpha / art.path).read_text(encoding="utf-8") == "weights\n"

        tools = asyncio.run(_mcp_on_beta(beta))
        assert tools["names"] == _tool_names(board)
        assert tools["claimed"]["task"] == "T2" and tools["claimed"]["host"] == "beta"
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)

    events = board.events()
    assert len({e.id for e in events}) == len(events)
    grants = [e.task for e in events if e.op == "lease.grant"]
    assert grants == ["T1", "T2"]
    moves = [e.fields["to"] for e in events if e.op == "task.move" and e.task == "T1"]
    assert moves == ["awaiting_test"]  # the grant starts the work; one result, one move
    assert [e.op for e in events if e.op == "lease.heartbeat"] == ["lease.heartbeat"]
    said = [e.op for e in events if e.op in ("note.add", "question.ask", "question.answer")]
    assert said == ["note.add", "question.ask", "question.answer"]

    # the owner's daemon is stopped: beta's `next` gives up within its timeout, saying why
    started = time.monotonic()
    away = sb("next", "--agent", "builder-beta", "--timeout", "1", cwd=beta)
    took = time.monotonic() - started
    assert away.returncode == 1 and took < 15
    line = away.stderr.strip()
    assert line.startswith("error: no answer from the board owner alpha over dir ")
    assert f"{alpha / '.a2a'}" in line and "after 1." in line and "a2a serve" in line
    # beta kept the snapshot its first `status` got: the ranking from it, saying how old
    assert "ranked from the owner's last snapshot, received" in line
    assert away.stdout.split()[0] == "T1"
    # a read may be served from the last snapshot the owner sent, saying how old it is
    old = sb("status", "--timeout", "0.5", cwd=beta)
    assert old.returncode == 1 and "T1" in old.stdout
    assert "the owner's last snapshot, received" in old.stderr


def _tool_names(board: Any) -> list[str]:
    from mcp import Client

    from sprintboard.doors.mcp import build_mcp_server

    async def names() -> list[str]:
        async with Client(build_mcp_server(board)) as client:
            return sorted(t.name for t in (await client.list_tools()).tools)

    return asyncio.run(names())


async def _mcp_on_beta(beta: Path) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-P", "-c", CODE, "mcp", "-w", str(beta)],
        env=_env(),
        cwd=str(beta),
    )
    async with Client(params) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        got = await client.call_tool("claim_next", {"agent": "builder-beta", "ttl": 60})
        assert not got.is_error, got.content
        claimed = got.structured_content or {}
        return {"names": names, "claimed": claimed.get("result", claimed)}


# -- every agent-facing command, from a host whose owner is away -----------------------------

SAMPLES: dict[str, list[str]] = {
    "status": ["status"],
    "next": ["next", "--agent", "builder-beta"],
    "claim": ["claim", "T1", "--agent", "builder-beta"],
    "claim-next": ["claim-next", "--agent", "builder-beta"],
    "heartbeat": ["heartbeat", "T1", "--fence", "1"],
    "submit": ["submit", "T1", "--fence", "1", "-m", "loss=1"],
    "release": ["release", "T1", "--fence", "1"],
    "show": ["show", "T1"],
    "prime": ["prime", "--agent", "builder-beta"],
    "note": ["note", "T1", "halfway", "--as", "builder-beta", "--fence", "1"],
    "ask": ["ask", "T1", "which?", "--as", "builder-beta", "--fence", "1"],
    "answer": ["answer", "T1", "this one", "--as", "human:ana"],
}
"""One call of each command in `AGENT_COMMANDS` (`mcp` is the server above: its tool calls
reach the owner the same way)."""


def test_every_agent_command_is_sampled() -> None:
    assert set(SAMPLES) | {"mcp"} == AGENT_COMMANDS


@pytest.mark.parametrize("command", sorted(SAMPLES))
def test_an_agent_command_from_beta_asks_the_owner_and_never_hangs(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    _, beta = _joined_here(tmp_path)
    monkeypatch.delenv("SPRINTBOARD_HOST", raising=False)
    with pytest.raises(SystemExit) as code:
        main([*SAMPLES[command], "-w", str(beta), "--timeout", "0.2"])
    assert code.value.code == 1
    err = capsys.readouterr().err
    assert "no answer from the board owner alpha over dir" in err, err
    assert "not the board owner" not in err


# -- reads from the last snapshot the owner sent, when the owner is away ---------------------


def test_reads_on_beta_fall_back_to_the_last_snapshot_and_say_its_age(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from sprintboard.a2a.node import open_owner, open_remote_board

    alpha, beta = _joined_here(tmp_path)
    owner = open_owner(alpha)
    owner.board.create_tasks(
        [
            {"id": "T1", "title": "eval", "status": "ready", "priority": 2},
            {"id": "T2", "title": "train", "status": "ready", "priority": 1, "caps": ["mlx"]},
        ]
    )
    monkeypatch.delenv("SPRINTBOARD_HOST", raising=False)
    with pytest.raises(SystemExit) as code:  # nothing kept yet: the error alone
        main(["next", "--agent", "builder-beta", "-w", str(beta), "--timeout", "0.2"])
    assert code.value.code == 1 and "last snapshot" not in capsys.readouterr().err

    # the owner answers one snapshot (its daemon's work, done here in a thread), then is away
    stop = threading.Event()

    def daemon() -> None:
        while not stop.is_set():
            owner.postbox.process(owner)
            time.sleep(0.01)

    thread = threading.Thread(target=daemon)
    thread.start()
    try:
        kept = open_remote_board(beta, timeout=10, reader=False).snapshot()
    finally:
        stop.set()
        thread.join()
    assert sorted(kept.tasks) == ["T1", "T2"]
    ranked = [t.id for t in owner.board.next_up("builder-beta").tasks]

    with pytest.raises(SystemExit) as code:
        main(["next", "--agent", "builder-beta", "-w", str(beta), "--timeout", "0.2", "--json"])
    out, err = capsys.readouterr()
    assert code.value.code == 1
    doc = orjson.loads(out)
    assert [t["id"] for t in doc["tasks"]] == ranked == ["T2", "T1"]  # the owner's ranking
    assert doc["stale"]["age_s"] >= 0 and "no answer from the board owner alpha" in err
    assert f"ranked from the owner's last snapshot, received {doc['stale']['received']}" in err

    with pytest.raises(SystemExit) as code:
        main(["status", "-w", str(beta), "--timeout", "0.2", "--json"])
    out, err = capsys.readouterr()
    assert code.value.code == 1
    doc = orjson.loads(out)
    assert [t["id"] for t in doc["tasks"]] == ["T1", "T2"] and doc["stale"]["age_s"] >= 0
    assert "the owner's last snapshot, received" in err


# -- the other two roads: the owner's A2A HTTP endpoint, a git remote ------------------------


@pytest.mark.slow
def test_a_host_joined_by_url_works_the_board_over_http(tmp_path: Path) -> None:
    alpha = init_workspace(
        tmp_path / "alpha", owner="alpha", hosts=[("alpha", []), ("beta", ["mlx"])], git=False
    )
    board = open_board(alpha, host="alpha")
    board.create_tasks(
        [
            {"id": "T1", "title": "train", "status": "ready", "priority": 1, "caps": ["mlx"]},
            {"id": "T2", "title": "eval", "status": "ready", "priority": 2},
        ]
    )
    key = sb("a2a", "keygen", "beta", "-w", alpha, cwd=alpha)
    assert key.returncode == 0, key.stderr
    endpoint = subprocess.Popen(
        [sys.executable, "-P", "-c", CODE, "a2a", "http", "-w", str(alpha), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    beta = tmp_path / "beta"
    try:
        assert endpoint.stderr is not None
        line = endpoint.stderr.readline()  # printed once the socket listens
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        joined = sb("join", alpha, beta, "--host", "beta", "--url", url, cwd=tmp_path)
        assert joined.returncode == 0 and f"reached by http {url}" in joined.stdout, joined
        assert "sprintboard a2a http" in joined.stdout  # what to keep running on the owner
        paired = sb("a2a", "pair", "alpha", "-", "-w", beta, cwd=beta, stdin=key.stdout)
        assert paired.returncode == 0, paired.stderr

        claimed = sb("claim-next", "--agent", "builder-beta", "--json", cwd=beta)
        assert claimed.returncode == 0, claimed.stderr
        lease = orjson.loads(claimed.stdout)
        assert (lease["task"], lease["host"]) == ("T1", "beta")
        fence = str(lease["fence"])
        beat = sb("heartbeat", "T1", "--fence", fence, cwd=beta)
        assert beat.returncode == 0, beat.stderr
        stale = sb("heartbeat", "T1", "--fence", str(lease["fence"] + 1), cwd=beta)
        assert stale.returncode == 1 and "stale" in stale.stderr
        sent = sb("submit", "T1", "--fence", fence, "-m", "loss=0.5", cwd=beta)
        assert sent.returncode == 0 and "awaiting_test" in sent.stdout, sent.stderr
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=20)
    task = board.snapshot().tasks["T1"]
    assert task.status == "awaiting_test" and task.metrics == {"loss": 0.5}
    assert [e.task for e in board.events() if e.op == "lease.grant"] == ["T1"]
    assert not (beta / "sprints").exists()

    away = sb("next", "--agent", "builder-beta", "--timeout", "2", cwd=beta)
    assert away.returncode == 1
    assert f"no answer from the board owner alpha over http {url}" in away.stderr
    assert "sprintboard a2a http" in away.stderr


@pytest.mark.slow
def test_a_host_joined_from_the_owners_git_remote(tmp_path: Path) -> None:
    import git

    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True)
    url = remote.as_uri()
    alpha = init_workspace(tmp_path / "alpha", owner="alpha", hosts=[("alpha", []), ("beta", [])])
    repo = git.Repo(alpha)
    branch = repo.active_branch.name
    repo.create_remote("origin", url).push(f"HEAD:refs/heads/{branch}")
    git.Repo(remote).git.symbolic_ref("HEAD", f"refs/heads/{branch}")

    # the owner takes messages through its folder: a clone alone cannot reach it
    refused = sb("join", url, tmp_path / "b0", "--host", "beta", cwd=tmp_path)
    assert refused.returncode == 1 and 'set transport = "git"' in refused.stderr
    assert not (tmp_path / "b0").exists()  # the clone is undone

    cfg = alpha / "sprintboard.toml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace('transport = "dir"', f'transport = "git"\nremote = "{url}"'))
    repo.git.commit("-am", "messages travel by git")
    repo.remote("origin").push(f"HEAD:refs/heads/{branch}")

    beta = tmp_path / "beta"
    joined = sb("join", url, beta, "--host", "beta", "--json", cwd=tmp_path)
    assert joined.returncode == 0, joined.stderr
    report = orjson.loads(joined.stdout)
    assert report["transport"] == f"git {url}" and report["owner"] == "alpha"
    config = load_config(beta)
    assert (config.local_host, config.a2a.transport, config.a2a.remote) == ("beta", "git", url)
    # host.toml is this folder's alone: the tracked sprintboard.toml stays the owner's
    assert git.Repo(beta).git.status("--porcelain") == ""
    assert (beta / "sprintboard.toml").read_text(encoding="utf-8") == cfg.read_text("utf-8")

    key = sb("a2a", "keygen", "beta", "-w", alpha, cwd=alpha)
    paired = sb("a2a", "pair", "alpha", "-", "-w", beta, cwd=beta, stdin=key.stdout)
    assert paired.returncode == 0, paired.stderr
    away = sb("next", "--agent", "builder-beta", "--timeout", "1", cwd=beta)
    assert away.returncode == 1
    assert f"no answer from the board owner alpha over git {url}" in away.stderr
