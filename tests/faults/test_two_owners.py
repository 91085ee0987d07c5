"""Fault 5: two owners by mistake (a misconfigured second host claims ownership).

Two ways it happens, both refused: beta opens the board although `sprintboard.toml` names
alpha (`NotOwner`, and beta's workspace never gets a journal); or beta's copy of a synced
workspace is told it owns the board and writes, and the synced journal comes back to alpha
(`SecondOwner` when beta's lines extend alpha's, `JournalRolledBack` when both wrote).
Either way alpha writes nothing on top, so there are never two journals merged into one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sprintboard.a2a.node import open_remote_board
from sprintboard.errors import JournalRolledBack, NotOwner, SecondOwner
from sprintboard.workspace import open_board

BOARD_FILES = ("sprints/events.jsonl", "sprints/SPRINT_QUEUE.json")


def _sync(src: Path, dst: Path) -> None:
    """What a synced folder does: the newer board files replace the other side's."""
    for name in BOARD_FILES:
        shutil.copy2(src / name, dst / name)


def _claim_ownership(ws: Path, host: str) -> None:
    cfg = ws / "sprintboard.toml"
    text = cfg.read_text(encoding="utf-8").replace('owner = "alpha"', f'owner = "{host}"')
    assert text != cfg.read_text(encoding="utf-8")
    cfg.write_text(text, encoding="utf-8")


def test_a_host_that_is_not_the_owner_is_refused_and_writes_no_journal(hosts: Any) -> None:
    alpha = open_board(hosts.alpha_ws, host="alpha")
    alpha.create_tasks([{"id": "T1", "title": "t", "status": "ready", "caps": ["mlx"]}])
    with pytest.raises(NotOwner) as refused:
        open_board(hosts.beta_ws, host="beta")
    assert "'beta' is not the board owner ('alpha'" in str(refused.value)
    assert "A2A message" in str(refused.value)  # says what to do instead
    # beta's agents get the remote client: every change goes to alpha as a message
    remote = open_remote_board(hosts.beta_ws, "beta", keys=hosts.beta_keys, timeout=1)
    assert type(remote).__name__ == "RemoteBoard"
    assert not (hosts.beta_ws / "sprints" / "events.jsonl").exists()


def test_second_owner_in_a_synced_copy_is_detected_and_refused(hosts: Any) -> None:
    alpha_ws, beta_ws = hosts.alpha_ws, hosts.beta_ws
    alpha = open_board(alpha_ws, host="alpha")
    alpha.start_sprint("S1")
    alpha.create_tasks([{"id": "T1", "title": "t", "status": "ready"}])
    _sync(alpha_ws, beta_ws)

    # beta is misconfigured: its copy of sprintboard.toml says beta owns the board.
    _claim_ownership(beta_ws, "beta")
    # beta's machine has a head of its own (seq 0, from `init`): alpha's lines are refused.
    with pytest.raises(SecondOwner, match="host 'alpha' acting as board owner"):
        open_board(beta_ws, host="beta")
    # A fresh copy has no `.sprintboard/` (never synced), so beta opens and writes...
    (beta_ws / ".sprintboard" / "head.json").unlink()
    impostor = open_board(beta_ws, host="beta")
    impostor.claim("T1", "builder-beta", "beta", 60)
    impostor.add_decision("beta thinks it owns the board")
    _sync(beta_ws, alpha_ws)  # ...and the synced folder brings beta's journal to alpha
    before = (alpha_ws / "sprints" / "events.jsonl").read_bytes()

    # the running owner process refuses at its next read or write...
    with pytest.raises(SecondOwner) as running:
        alpha.add_note("alpha carries on")
    # ...and so does a restarted one
    with pytest.raises(SecondOwner) as fresh:
        open_board(alpha_ws, host="alpha")
    for exc in (running.value, fresh.value):
        text = str(exc)
        assert "events.jsonl:3:" in text and "'beta'" in text and "two owners" in text
        assert exc.event_id.startswith("beta:")
        assert (
            f"event {exc.event_id} was written by host 'beta' acting as board owner, but "
            "'alpha' owns this board" in text
        )
        assert "sprintboard validate --adopt" in text
        assert isinstance(exc, NotOwner)
    assert (alpha_ws / "sprints" / "events.jsonl").read_bytes() == before  # nothing on top


def test_both_owners_wrote_then_synced_is_refused_on_both_sides(hosts: Any) -> None:
    alpha_ws, beta_ws = hosts.alpha_ws, hosts.beta_ws
    alpha = open_board(alpha_ws, host="alpha")
    alpha.add_note("shared start")
    _sync(alpha_ws, beta_ws)
    _claim_ownership(beta_ws, "beta")
    (beta_ws / ".sprintboard" / "head.json").unlink()  # a fresh copy: no local head
    impostor = open_board(beta_ws, host="beta")
    alpha.add_note("alpha's line 2")
    impostor.add_note("beta's line 2")
    alpha_journal = (alpha_ws / "sprints" / "events.jsonl").read_bytes()
    beta_journal = (beta_ws / "sprints" / "events.jsonl").read_bytes()
    assert alpha_journal != beta_journal  # two histories exist for a moment...

    _sync(beta_ws, alpha_ws)  # ...and the sync lets one overwrite the other
    with pytest.raises(JournalRolledBack, match="validate --adopt"):
        alpha.add_note("alpha carries on")
    with pytest.raises(JournalRolledBack):
        open_board(alpha_ws, host="alpha")
    # the other direction: alpha's file reaches beta's copy; beta refuses it too
    (beta_ws / "sprints" / "events.jsonl").write_bytes(alpha_journal)
    with pytest.raises(JournalRolledBack):
        impostor.add_note("beta carries on")
    # nobody merged the two: each file is exactly one writer's history
    assert (alpha_ws / "sprints" / "events.jsonl").read_bytes() == beta_journal
    assert (beta_ws / "sprints" / "events.jsonl").read_bytes() == alpha_journal
