"""The board in PostgreSQL on its own: ids, the chain, LISTEN/NOTIFY, the render lease, the
config, `init --store`/`join`/`status` from the CLI without any owner process."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.pg.board import PgBoard
from sprintboard.board.pg.store import PgStore, redact
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.cli import app
from sprintboard.config import load_config
from sprintboard.errors import ConfigError, StoreUnavailable
from sprintboard.join import join_workspace
from sprintboard.workspace import init_workspace, kanban_sync, open_board

POLICY = BoardPolicy(open_claims=True)


def _board(root: Path, url: str, host: str, **kwargs: object) -> PgBoard:
    return PgBoard(root, store=PgStore(url), host=host, policy=POLICY, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def two(tmp_path: Path, pg_url: str) -> tuple[PgBoard, PgBoard]:
    clock = FrozenClock()
    a = _board(tmp_path / "a", pg_url, "alpha", clock=clock, ids=CounterIds())
    b = _board(tmp_path / "b", pg_url, "beta", clock=clock, ids=CounterIds())
    yield a, b
    a.close()
    b.close()


def test_an_event_id_applied_twice_commits_once_from_any_host(two: tuple[PgBoard, PgBoard]) -> None:
    a, b = two
    draft = EventDraft("note.add", None, {"text": "once"}, "human:x", id="msg-1")
    assert len(a.apply([draft])) == 1
    assert b.apply([draft]) == [] and a.apply([draft]) == []
    assert [n.text for n in b.snapshot().notes] == ["once"]


def test_two_hosts_extend_one_chain_with_the_file_journals_lines(
    two: tuple[PgBoard, PgBoard], tmp_path: Path
) -> None:
    from sprintboard.board.journal import Journal, encode_event

    a, b = two
    a.add_note("a1")
    b.add_note("b1")
    a.add_note("a2")
    events = b.events()
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.id for e in events] == [
        "alpha:00000000000000000000000001",
        "beta:00000000000000000000000001",
        "alpha:00000000000000000000000002",
    ]
    # the stored lines are journal lines: written out, the file journal verifies them
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    assert [line.event.seq for line in Journal(path, tmp_path / "head.json").read().lines] == [
        1,
        2,
        3,
    ]
    assert a.validate().events == 3


def test_wait_for_change_wakes_on_another_hosts_commit(two: tuple[PgBoard, PgBoard]) -> None:
    a, b = two
    assert a.wait_for_change(0.05) is False
    timer = threading.Timer(0.2, lambda: b.add_note("hello"))
    timer.start()
    started = time.monotonic()
    assert a.wait_for_change(10.0) is True
    waited = time.monotonic() - started
    timer.join()
    assert waited < 5.0  # woken by NOTIFY, not by the timeout
    assert [n.text for n in a.snapshot().notes] == ["hello"]


def test_one_renderer_at_a_time_writes_the_views(tmp_path: Path, pg_url: str) -> None:
    ws_a = init_workspace(tmp_path / "alpha", owner="alpha", git=False, store=pg_url)
    ws_b = tmp_path / "beta"
    join_workspace(ws_a, ws_b, "beta")
    a, b = open_board(ws_a, host="alpha"), open_board(ws_b, host="beta")
    assert isinstance(a, PgBoard) and isinstance(b, PgBoard)
    try:
        assert a.take_render_lease(ttl=30) is True
        assert b.take_render_lease(ttl=30) is False  # alpha renders until it lets go
        assert b.render_holder() is not None and b.render_holder().startswith("alpha/")
        b.create_tasks([{"id": "T1", "title": "made on beta", "status": "ready"}])
        assert not (ws_b / "KANBAN.md").exists()  # beta committed, but renders nothing
        stop = threading.Event()
        follower = threading.Thread(target=a.follow, args=(stop, 30.0))
        follower.start()
        deadline = time.monotonic() + 10
        while "made on beta" not in (ws_a / "KANBAN.md").read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "alpha never rendered beta's commit"
            time.sleep(0.05)
        stop.set()
        follower.join(timeout=10)
        assert b"T1" in (ws_a / "sprints" / "SPRINT_QUEUE.json").read_bytes()
        a.release_render_lease()
        assert b.take_render_lease(ttl=30) is True  # free again: beta takes it
        assert "made on beta" in (ws_b / "KANBAN.md").read_text(encoding="utf-8")
    finally:
        a.close()
        b.close()


def test_a_persons_kanban_edit_merges_into_the_store(tmp_path: Path, pg_url: str) -> None:
    ws = init_workspace(tmp_path / "alpha", owner="alpha", git=False, store=pg_url)
    board = open_board(ws, host="alpha")
    assert isinstance(board, PgBoard)
    try:
        board.take_render_lease()
        board.create_tasks([{"id": "T1", "title": "first", "status": "ready"}])
        kanban = kanban_sync(board)
        path = ws / "KANBAN.md"
        path.write_text(
            path.read_text(encoding="utf-8").replace("first", "renamed"), encoding="utf-8"
        )
        report = kanban.sync(board, "human:ann")
        assert report.error is None and report.merged
        assert board.snapshot().tasks["T1"].title == "renamed"
    finally:
        board.close()


def test_the_config_names_a_store_never_a_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no password"):
        init_workspace(tmp_path / "w", git=False, store="postgresql://sb:secret@db:5432/b")
    with pytest.raises(ConfigError, match="postgresql://"):
        init_workspace(tmp_path / "w", git=False, store="mysql://db/b")
    assert not (tmp_path / "w" / "sprintboard.toml").exists()
    assert redact("postgresql://sb:secret@db/b") == "postgresql://sb:***@db/b"


def test_dsn_env_holds_the_whole_connection_string(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = init_workspace(tmp_path / "w", git=False)
    cfg = ws / "sprintboard.toml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("[board]\n", '[board]\ndsn_env = "SB_TEST_DSN"\n'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="SB_TEST_DSN is not set"):
        load_config(ws).board.store_dsn()
    monkeypatch.setenv("SB_TEST_DSN", pg_url)
    board = open_board(ws)
    try:
        assert isinstance(board, PgBoard)
    finally:
        board.close()


def test_an_unreachable_store_says_so_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        PgStore("postgresql://nobody@127.0.0.1:1/none", timeout=1)


def test_without_the_driver_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    with pytest.raises(StoreUnavailable, match=r"sprintboard\[postgres\]"):
        PgStore("postgresql://x@127.0.0.1:1/db")


def test_cli_init_store_then_a_joined_host_works_without_any_owner_process(
    tmp_path: Path, pg_url: str
) -> None:
    runner = CliRunner()
    ws, folder = tmp_path / "alpha", tmp_path / "beta"
    done = runner.invoke(
        app, ["init", str(ws), "--no-git", "--add-host", "beta", "--store", pg_url]
    )
    assert done.exit_code == 0, done.output
    assert f'store = "{pg_url}"' in (ws / "sprintboard.toml").read_text(encoding="utf-8")
    joined = runner.invoke(app, ["join", str(ws), str(folder), "--host", "beta"])
    assert joined.exit_code == 0, joined.output
    assert "board in postgresql://" in joined.output and "keygen" not in joined.output
    board = open_board(ws)
    board.create_tasks([{"id": "T1", "title": "t", "status": "ready", "role": "builder"}])
    board.close()
    got = runner.invoke(app, ["claim-next", "--agent", "builder-beta", "-w", str(folder), "--json"])
    assert got.exit_code == 0, got.output
    assert '"T1"' in got.output
    shown = runner.invoke(app, ["validate", "-w", str(folder)])
    assert shown.exit_code == 0, shown.output


def test_board_render_waits_its_turn_and_watch_keeps_the_views_current(
    tmp_path: Path, pg_url: str
) -> None:
    runner = CliRunner()
    ws = init_workspace(tmp_path / "alpha", owner="alpha", git=False, store=pg_url)
    other = open_board(ws, host="alpha")
    assert isinstance(other, PgBoard)
    try:
        other.take_render_lease(ttl=60)
        refused = runner.invoke(app, ["board", "render", "-w", str(ws)])
        assert refused.exit_code == 1 and "renders this board" in str(refused.exception)
        other.release_render_lease()
        timer = threading.Timer(1.0, lambda: other.add_note("seen by the watcher"))
        timer.start()
        watched = runner.invoke(app, ["watch", "-w", str(ws), "--for", "3"])
        timer.join()
        assert watched.exit_code == 0, watched.output
        assert "seen by the watcher" in (ws / "KANBAN.md").read_text(encoding="utf-8")
        rendered = runner.invoke(app, ["board", "render", "-w", str(ws)])  # the lease is free
        assert rendered.exit_code == 0, rendered.output
    finally:
        other.close()


def test_migrate_copies_a_file_journal_into_postgres_and_back_byte_for_byte(
    tmp_path: Path, pg_url: str
) -> None:
    from sprintboard.cli import main

    ws = init_workspace(tmp_path / "w", git=False)
    board = open_board(ws)
    board.create_tasks([{"id": "T1", "title": "t", "status": "ready"}])
    lease = board.claim("T1", "builder-alpha", "alpha", 60)
    board.submit("T1", lease.fence, [], {"loss": 0.5})
    board.add_note("last")
    journal = ws / "sprints" / "events.jsonl"
    original = journal.read_bytes()

    def run(*args: str) -> int:
        try:
            main([*args, "-w", str(ws)])
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    assert run("migrate", "--to", pg_url) == 0
    assert run("migrate", "--to", pg_url) == 1  # the database is not empty any more
    store = PgStore(pg_url)
    assert b"".join(r.line + b"\n" for r in store.rows(0)) == original
    copy = PgBoard(tmp_path / "pg", store=store, host="beta", policy=POLICY)
    assert copy.validate().events == board.validate().events
    assert copy.snapshot().tasks["T1"].metrics == {"loss": 0.5}
    assert copy.snapshot().fence == board.snapshot().fence
    copy.close()
    # the workspace now names the store; back to a file journal, refused while one exists
    cfg = ws / "sprintboard.toml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("[board]\n", f'[board]\nstore = "{pg_url}"\n'),
        encoding="utf-8",
    )
    assert run("migrate", "--to", "file") == 1
    journal.rename(tmp_path / "old.jsonl")
    assert run("migrate", "--to", "file") == 0
    assert journal.read_bytes() == original


def test_a_thread_checkpointed_on_one_host_resumes_on_another(tmp_path: Path, pg_url: str) -> None:
    from typing import TypedDict

    from sprintboard.agents.runtime import linear_graph, open_checkpointer, run_thread

    class Two(TypedDict):
        a: str
        b: str

    ran: list[str] = []

    def a(state: Two) -> dict[str, str]:
        ran.append("a")
        return {"a": "ran"}

    def b_dies(state: Two) -> dict[str, str]:
        raise RuntimeError("the host went away")

    def b(state: Two) -> dict[str, str]:
        ran.append("b")
        return {"b": "ran"}

    alpha = init_workspace(tmp_path / "alpha", git=False, store=pg_url)
    beta = tmp_path / "beta"
    join_workspace(alpha, beta, "beta")
    with open_checkpointer(alpha) as saver, pytest.raises(RuntimeError):
        run_thread(linear_graph(Two, [("a", a), ("b", b_dies)], saver), "builder:T1:1", {})
    assert not (alpha / ".sprintboard" / "checkpoints.sqlite").exists()
    with open_checkpointer(beta) as saver:  # another host, the same database
        result = run_thread(linear_graph(Two, [("a", a), ("b", b)], saver), "builder:T1:1", {})
    assert result == {"a": "ran", "b": "ran"} and ran == ["a", "b"]


@pytest.mark.parametrize("args", [["show", "T1"], ["next"], ["status"]], ids=" ".join)
def test_json_reads_on_the_owner_of_a_store_board_read_the_store(
    tmp_path: Path, pg_url: str, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`next/status/show --json` have a quick path for file boards; a store board's files
    hold no journal, so it must read the store (the demo's model-card worker found this)."""
    from sprintboard.cli import main

    ws = init_workspace(tmp_path / "alpha", owner="alpha", git=False, store=pg_url)
    board = open_board(ws)
    board.create_tasks([{"id": "T1", "title": "in the store", "status": "ready"}])
    board.close()
    capsys.readouterr()
    main([*args, "--json", "-w", str(ws)])
    assert "in the store" in capsys.readouterr().out or args == ["next"]
    if args == ["next"]:
        main(["next", "--json", "-w", str(ws), "--agent", "builder-alpha"])
        assert '"T1"' in capsys.readouterr().out
