"""Fault 2: the hosts' clocks disagree by ten minutes (either way).

Alpha (the owner) and beta each get their own `FrozenClock`, beta's set 600 s ahead or
behind (the default `[a2a] max_skew`). Leases are granted, extended and expired on the
owner's clock only; the journal's order is `seq` and its timestamps are the owner's;
messages within the tolerance are accepted, and a clock further off is refused with a
reason that names the skew, never silently applied.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sprintboard.a2a import messages
from sprintboard.a2a.envelope import Envelope
from sprintboard.a2a.maildir import Maildir
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.postbox import Outcome, Postbox, Received
from sprintboard.board.clock import FrozenClock, format_ts, parse_ts

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TTL = 60


def _answers(beta: Postbox) -> dict[str, Received]:
    got: dict[str, Received] = {}

    def keep(r: Received) -> Outcome:
        got[r.env.reply_to or r.env.id] = r
        return Outcome("answer")

    beta.process(keep)
    return got


def _ask(owner: Any, beta: Postbox, env: Envelope) -> Received:
    beta.post([env])
    assert owner.postbox.process(owner) == 1
    return _answers(beta)[env.id]


def _request(beta: Postbox, op: str, args: dict[str, Any]) -> Envelope:
    return beta.seal("alpha", "request", lambda m: messages.request(m, op, args))


def _note(beta: Postbox, text: str, fence: int) -> Envelope:
    # A remote host writes only about a task it holds, with the lease's fence.
    event = {"op": "note.add", "task": "T1", "fields": {"text": text}, "fence": fence}
    return _request(beta, "apply", {"events": [event]})


@pytest.mark.parametrize("skew", [600, -600], ids=["beta-10min-ahead", "beta-10min-behind"])
def test_leases_expiry_and_order_hold_under_ten_minutes_of_skew(hosts: Any, skew: int) -> None:
    alpha_clock = FrozenClock(T0)
    beta_clock = FrozenClock(T0 + timedelta(seconds=skew))
    owner = open_owner(hosts.alpha_ws, clock=alpha_clock)
    board = owner.board
    beta = open_postbox(hosts.beta_ws, "beta", keys=hosts.beta_keys, clock=beta_clock)
    board.start_sprint("S1")
    board.create_tasks([{"id": "T1", "title": "train", "status": "ready", "caps": ["mlx"]}])

    def tick(seconds: float) -> None:
        alpha_clock.advance(seconds)
        beta_clock.advance(seconds)

    # claim: the lease runs on the owner's clock, whatever beta's says
    args = {"task": "T1", "agent": "builder-beta", "ttl": TTL}
    answer = _ask(owner, beta, _request(beta, "claim", args))
    assert answer.env.kind == "assignment"
    fence = int(answer.env.fence or 0)
    lease = board.snapshot().tasks["T1"].lease
    assert lease is not None and parse_ts(lease.expires) == T0 + timedelta(seconds=TTL)

    # heartbeat 50 s later: extended from the owner's now, not from beta's timestamp
    tick(50)
    hb = beta.seal(
        "alpha", "heartbeat", lambda m: messages.heartbeat(m, "T1", "S1"), task="T1", fence=fence
    )
    assert _ask(owner, beta, hb).env.kind == "reply"
    lease = board.snapshot().tasks["T1"].lease
    assert lease is not None and parse_ts(lease.expires) == T0 + timedelta(seconds=50 + TTL)

    # expiry: not a moment early (beta ahead) and not late (beta behind)
    tick(TTL - 1)
    assert board.expire_leases() == []
    tick(2)
    assert board.expire_leases() == ["T1"]
    assert board.snapshot().tasks["T1"].status == "ready"

    # the dead lease's fence is refused even though beta's clock says it is still young
    stale = beta.seal(
        "alpha", "heartbeat", lambda m: messages.heartbeat(m, "T1", "S1"), task="T1", fence=fence
    )
    beta.post([stale])
    owner.postbox.process(owner)
    assert "refuse" in [ln.action for ln in owner.postbox.ledger.lines()]  # type: ignore[union-attr]
    assert board.snapshot().tasks["T1"].lease is None

    # ordering: beta's note is handled first, alpha's second; seq says so whatever ts says
    again = _ask(owner, beta, _request(beta, "claim", args))
    _ask(owner, beta, _note(beta, "from beta", int(again.env.fence or 0)))
    board.add_note("from alpha")
    assert [n.text for n in board.snapshot().notes] == ["from beta", "from alpha"]
    events = board.events()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    stamps = [parse_ts(e.ts) for e in events]
    assert stamps == sorted(stamps)  # every ts is the owner's clock, so never out of order
    assert all(T0 <= s <= alpha_clock.now() for s in stamps)
    grant = next(e for e in events if e.op == "lease.grant")
    assert grant.fields["expires"] == format_ts(T0 + timedelta(seconds=TTL))


# ahead: one second past max_skew; behind: the message's ttl (3600 s) plus max_skew, plus one
@pytest.mark.parametrize("skew", [601, -(3600 + 601)], ids=["too-far-ahead", "too-far-behind"])
def test_a_clock_beyond_the_tolerance_is_refused_with_the_reason(hosts: Any, skew: int) -> None:
    """Past `max_skew` a message is quarantined with why; the board does not change."""
    alpha_clock = FrozenClock(T0)
    owner = open_owner(hosts.alpha_ws, clock=alpha_clock)
    beta = open_postbox(
        hosts.beta_ws, "beta", keys=hosts.beta_keys, clock=FrozenClock(T0 + timedelta(seconds=skew))
    )
    before = owner.board.snapshot().seq
    env = _note(beta, "from a badly wrong clock", 1)
    beta.post([env])
    assert owner.postbox.process(owner) == 0
    ((name, reason),) = Maildir(hosts.a2a / "alpha").quarantined()
    assert name == f"{env.id}.json"
    assert ("dated in the future" if skew > 0 else "expired at") in reason
    assert "now 2026-11-23T12:00:00.000Z" in reason
    assert owner.board.snapshot().seq == before
    assert Path(hosts.a2a / "alpha" / "quarantine").is_dir()
