"""Fault tests on a board kept in PostgreSQL: two workspaces (alpha, beta) on one database,
real processes racing for one task, kill -9 mid-transaction, two writers, clock skew, and a
store restored to an older state or edited behind the board's back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from sprintboard.board.clock import FrozenClock
from sprintboard.board.pg.board import PgBoard, StoreClock
from sprintboard.errors import StaleFence, StoreCorrupt, StoreRolledBack
from sprintboard.join import join_workspace
from sprintboard.workspace import init_workspace, open_board

WORKER = Path(__file__).with_name("pg_worker.py")


def _hosts(tmp: Path, url: str) -> tuple[Path, Path]:
    """alpha's workspace on the store, and beta's joined folder (open claims, so any agent
    name may claim builder work)."""
    alpha = init_workspace(
        tmp / "alpha", owner="alpha", hosts=[("alpha", []), ("beta", [])], git=False, store=url
    )
    cfg = alpha / "sprintboard.toml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("open_claims = false", "open_claims = true"),
        encoding="utf-8",
    )
    beta = tmp / "beta"
    join_workspace(alpha, beta, "beta")
    return alpha, beta


def _open(folder: Path, host: str, **kwargs: object) -> PgBoard:
    board = open_board(folder, host=host, **kwargs)  # type: ignore[arg-type]
    assert isinstance(board, PgBoard)
    return board


def _spawn(folder: Path, host: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-P", str(WORKER), str(folder), host, *args],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_twelve_processes_on_two_hosts_race_for_one_task_and_one_wins(
    tmp_path: Path, pg_url: str
) -> None:
    alpha, beta = _hosts(tmp_path, pg_url)
    with _open(alpha, "alpha") as board:
        board.create_tasks([{"id": "T001", "title": "contested", "status": "ready"}])
    procs = [
        _spawn(folder, host, "claim", "T001", f"agent-{host}-{i}")
        for i in range(6)
        for folder, host in ((alpha, "alpha"), (beta, "beta"))
    ]
    time.sleep(1.0)  # let them connect and wait at the barrier
    (tmp_path / "go").touch()
    results = [p.communicate(timeout=120)[0].strip() for p in procs]
    won = [r for r in results if r.startswith("won")]
    assert len(won) == 1 and results.count("lost") == 11, results
    with _open(alpha, "alpha") as a, _open(beta, "beta") as b:
        grants = [e for e in a.events() if e.op == "lease.grant"]
        assert len(grants) == 1
        assert a.snapshot().tasks["T001"].lease == b.snapshot().tasks["T001"].lease
        assert a.validate().events == b.validate().events == a.snapshot().seq


@pytest.mark.slow
def test_two_writers_on_two_hosts_lose_nothing_and_share_one_chain(
    tmp_path: Path, pg_url: str
) -> None:
    alpha, beta = _hosts(tmp_path, pg_url)
    procs = [_spawn(alpha, "alpha", "notes", "150", "a"), _spawn(beta, "beta", "notes", "150", "b")]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    seqs = sorted(int(s) for out in outs for s in out.split())
    with _open(beta, "beta") as board:
        assert board.validate().events == len(seqs) == 300
        assert seqs == list(range(1, 301))  # every commit its own seq, none skipped
        texts = [n.text for n in board.snapshot().notes]
        for name in ("a", "b"):
            assert [t for t in texts if t.startswith(name + " ")] == [
                f"{name} {i}" for i in range(150)
            ]


@pytest.mark.slow
def test_kill_9_mid_transaction_leaves_no_half_event_and_frees_the_lock(
    tmp_path: Path, pg_url: str
) -> None:
    alpha, beta = _hosts(tmp_path, pg_url)
    with _open(alpha, "alpha") as board:
        board.add_note("before")
    holder = _spawn(beta, "beta", "hold")
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"  # head row locked, a row inserted
    writer = _spawn(alpha, "alpha", "notes", "3", "w")  # queues behind the lock
    time.sleep(0.3)
    assert writer.poll() is None
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    out, _ = writer.communicate(timeout=60)
    assert out.split() == ["2", "3", "4"]  # the lock passed on; seq 2 was never half-taken
    with _open(alpha, "alpha") as board:
        assert board.validate().events == 4
        assert [e.id for e in board.events()][1:] != ["beta:half"]
        assert all(not e.id.endswith(":half") for e in board.events())


@pytest.mark.slow
def test_kill_9_mid_claims_loses_no_acknowledged_event(tmp_path: Path, pg_url: str) -> None:
    alpha, _ = _hosts(tmp_path, pg_url)
    proc = _spawn(alpha, "alpha", "notes", "100000", "k")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait()
    acknowledged = [int(s) for s in (first + rest).split()]
    with _open(alpha, "alpha") as board:
        count = board.validate().events
        assert count >= max(acknowledged)
        notes = [n.text for n in board.snapshot().notes]
        assert notes == [f"k {i}" for i in range(len(notes))]
        board.add_note("after the crash")
        assert board.validate().events == count + 1


def test_a_stale_fence_from_another_host_is_refused(tmp_path: Path, pg_url: str) -> None:
    alpha, beta = _hosts(tmp_path, pg_url)
    clock = FrozenClock()
    with _open(alpha, "alpha", clock=clock) as a, _open(beta, "beta", clock=clock) as b:
        a.create_tasks([{"id": "T001", "title": "t", "status": "ready"}])
        old = b.claim("T001", "agent-b", "beta", 60)
        clock.advance(61)
        new = a.claim("T001", "agent-a", "alpha", 60)  # alpha expires beta's lease first
        assert new.fence > old.fence
        with pytest.raises(StaleFence):
            b.submit("T001", old.fence, [], {"loss": 1.0})
        assert b.snapshot().tasks["T001"].metrics == {}


class _Skewed:
    def __init__(self, seconds: float) -> None:
        self.skew = timedelta(seconds=seconds)

    def now(self):  # type: ignore[no-untyped-def]
        from datetime import UTC, datetime

        return datetime.now(UTC) + self.skew


def test_skewed_host_clocks_expire_leases_by_the_databases_clock(
    tmp_path: Path, pg_url: str
) -> None:
    alpha, beta = _hosts(tmp_path, pg_url)
    ahead, behind = StoreClock(_Skewed(+3600)), StoreClock(_Skewed(-3600))
    with _open(alpha, "alpha", clock=behind) as a, _open(beta, "beta", clock=ahead) as b:
        a.create_tasks([{"id": "T001", "title": "t", "status": "ready"}])
        lease = a.claim("T001", "agent-a", "alpha", 600)
        b.add_note("beta writes an hour 'later'")  # would expire the lease by beta's clock
        assert b.snapshot().tasks["T001"].lease == lease
        stamps = [e.ts for e in b.events()]
        assert stamps == sorted(stamps)  # one clock for every host's events
        a.heartbeat("T001", lease.fence)


def _superuser(url: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET session_replication_role = replica")  # bypass the guarding triggers
    return conn


def test_a_store_rolled_back_to_an_older_state_is_refused(tmp_path: Path, pg_url: str) -> None:
    alpha, beta = _hosts(tmp_path, pg_url)
    with _open(alpha, "alpha") as a:
        for i in range(3):
            a.add_note(f"n{i}")
    with _open(beta, "beta") as b:
        assert b.snapshot().seq == 3
    with _superuser(pg_url) as conn:  # a restore of a backup taken after seq 2
        row = conn.execute("SELECT hash FROM sb_events WHERE seq = 2").fetchone()
        assert row is not None
        conn.execute("DELETE FROM sb_events WHERE seq = 3")
        conn.execute("UPDATE sb_head SET seq = 2, hash = %s", [row[0]])
    for folder, host in ((alpha, "alpha"), (beta, "beta")):
        with pytest.raises(StoreRolledBack, match="rolled back"):
            _open(folder, host)
    # a person who wants the older state on purpose adopts it, on each host
    board = PgBoard.adopt(alpha, **_kwargs(pg_url, "alpha"))
    assert board.validate().events == 2
    board.close()


def _kwargs(url: str, host: str) -> dict[str, object]:
    from sprintboard.board.pg.store import PgStore

    return {"store": PgStore(url), "host": host}


def test_an_edited_event_row_is_found_by_validate_and_refused(tmp_path: Path, pg_url: str) -> None:
    alpha, _ = _hosts(tmp_path, pg_url)
    with _open(alpha, "alpha") as a:
        a.create_tasks([{"id": "T001", "title": "honest", "status": "ready"}])
        a.add_note("later")
    with _superuser(pg_url) as conn:
        conn.execute("UPDATE sb_events SET line = replace(line, 'honest', 'forged') WHERE seq = 1")
    with pytest.raises(StoreCorrupt, match="event 1: the line does not hash"):
        _open(alpha, "alpha")


def test_a_host_pointed_at_another_board_is_refused(tmp_path: Path, pg_url: str) -> None:
    alpha, _ = _hosts(tmp_path, pg_url)
    with _open(alpha, "alpha") as a:
        a.add_note("one")
    with _superuser(pg_url) as conn:  # the database was replaced by another board's
        conn.execute("UPDATE sb_meta SET value = 'another' WHERE key = 'board_id'")
    with pytest.raises(StoreRolledBack, match="another database"):
        _open(alpha, "alpha")


def test_the_server_refuses_rows_out_of_chain_edits_and_rewound_fences(pg_url: str) -> None:
    from sprintboard.board.pg.store import PgStore

    PgStore(pg_url).close()  # the schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        insert = "INSERT INTO sb_events (seq, id, line, hash, prev, grant_fence) VALUES "
        conn.execute(insert + "(1, 'a:1', '{}', 'h1', NULL, 5)")
        for bad in (
            "(3, 'a:3', '{}', 'h3', 'h1', NULL)",  # skips seq 2
            "(2, 'a:2', '{}', 'h2', 'hX', NULL)",  # prev is not the head's hash
            "(2, 'a:2', '{}', 'h2', 'h1', 5)",  # a fence not above the counter
            "(2, 'a:1', '{}', 'h2', 'h1', NULL)",  # a known id
        ):
            with pytest.raises(psycopg.Error):
                conn.execute(insert + bad)
        for edit in (
            "UPDATE sb_events SET line = 'x'",
            "DELETE FROM sb_events",
            "TRUNCATE sb_events",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(edit)
        assert conn.execute("SELECT seq, hash, fence FROM sb_head").fetchone() == (1, "h1", 5)
