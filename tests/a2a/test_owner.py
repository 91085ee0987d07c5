"""The owner turns messages into fenced board calls, each at most once per message id."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.a2a import messages
from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.envelope import Envelope, file_name
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.postbox import Outcome, Received
from sprintboard.board.clock import FrozenClock


@pytest.fixture
def side(cluster: Any) -> Any:
    class Side:
        ws: Path = cluster.alpha_ws
        a2a: Path = cluster.alpha_a2a
        clock = FrozenClock()
        owner = open_owner(ws, clock=clock)
        board = owner.board
        beta = open_postbox(ws, "beta", keys=cluster.beta_keys, clock=clock)
        blobs = BlobStore(cluster.alpha_a2a / "blobs")

        def answers(self) -> dict[str, Received]:
            got: dict[str, Received] = {}

            def keep(r: Received) -> Outcome:
                got[r.env.reply_to or r.env.id] = r
                return Outcome("answer")

            self.beta.process(keep)
            return got

    s = Side()
    s.board.create_tasks([{"id": "T2", "title": "t", "status": "ready", "caps": ["mlx"]}])
    return s


def _result(side: Any, fence: int, text: bytes) -> Envelope:
    src = side.ws / "out.bin"
    src.write_bytes(text)
    art = side.blobs.put(src, name="adapter.bin")
    return side.beta.seal(
        "alpha",
        "result",
        lambda m: messages.result(m, "T2", "S1", [art], {"loss": 0.5}),
        task="T2",
        fence=fence,
    )


def _claim(side: Any) -> int:
    req = side.beta.seal(
        "alpha",
        "request",
        lambda m: messages.request(m, "claim", {"task": "T2", "agent": "builder-beta", "ttl": 60}),
    )
    side.beta.post([req])
    side.owner.postbox.process(side.owner)
    answer = side.answers()[req.id]
    assert answer.env.kind == "assignment"
    return int(answer.env.fence or 0)


def test_claim_result_and_a_crash_replay_commit_once(side: Any) -> None:
    fence = _claim(side)
    env = _result(side, fence, b"weights")
    side.beta.post([env])
    side.owner.postbox.process(side.owner)
    task = side.board.snapshot().tasks["T2"]
    assert task.status == "awaiting_test" and task.metrics == {"loss": 0.5}
    assert (side.ws / "runs/T2/1/adapter.bin").read_bytes() == b"weights"
    journal = (side.ws / "sprints/events.jsonl").read_bytes()
    # a crash after handling but before the id was durable: the file is back in cur/
    archived = side.a2a / "alpha/archive" / file_name(env)
    shutil.copy(archived, side.a2a / "alpha/inbox/cur" / file_name(env))
    fresh = open_owner(side.ws, clock=side.clock)
    fresh.postbox.seen._ids.pop(env.id)  # as if the fsync of the id never happened
    assert fresh.postbox.process(fresh) == 1
    assert (side.ws / "sprints/events.jsonl").read_bytes() == journal  # nothing new
    assert not os.listdir(side.a2a / "alpha/inbox/cur")


def test_stale_fence_is_refused_and_nothing_is_promoted(side: Any) -> None:
    fence = _claim(side)
    side.clock.advance(61)
    assert side.board.expire_leases() == ["T2"]
    newer = _claim(side)
    assert newer == fence + 1
    env = _result(side, fence, b"late")
    side.beta.post([env])
    side.owner.postbox.process(side.owner)
    answer = side.answers()[env.id]
    assert answer.parsed.data["ok"] is False
    assert answer.parsed.data["value"]["type"] == "StaleFence"
    task = side.board.snapshot().tasks["T2"]
    assert task.status == "in_progress" and task.metrics == {} and task.artifacts == []
    assert not (side.ws / "runs").exists()


def test_heartbeat_decline_and_remote_apply_limits(side: Any) -> None:
    fence = _claim(side)
    hb = side.beta.seal(
        "alpha", "heartbeat", lambda m: messages.heartbeat(m, "T2", "S1"), task="T2", fence=fence
    )
    bad = side.beta.seal(
        "alpha",
        "request",
        lambda m: messages.request(
            m, "apply", {"events": [{"op": "task.move", "task": "T2", "fields": {"to": "done"}}]}
        ),
    )
    note = side.beta.seal(
        "alpha",
        "request",
        lambda m: messages.request(
            m,
            "apply",
            {
                "events": [
                    {
                        "op": "note.add",
                        "task": "T2",
                        "fields": {"text": "hi"},
                        "actor": "builder-beta@alpha",
                        "fence": fence,
                    }
                ]
            },
        ),
    )
    side.clock.advance(30)
    side.beta.post([hb, bad, note])
    side.owner.postbox.process(side.owner)
    got = side.answers()
    assert got[hb.id].parsed.data["value"]["expires"].endswith("00:01:30.000Z")
    assert got[bad.id].parsed.data["ok"] is False
    assert side.board.snapshot().tasks["T2"].status == "in_progress"
    (event,) = got[note.id].parsed.data["value"]
    assert event["actor"] == "builder-beta@beta"  # a host speaks only for itself
    decline = side.beta.seal(
        "alpha",
        "decline",
        lambda m: messages.decline(m, "T2", "S1", "busy"),
        task="T2",
        fence=fence,
    )
    side.beta.post([decline])
    side.owner.postbox.process(side.owner)
    assert side.board.snapshot().tasks["T2"].status == "ready"


def test_the_owner_pushes_assignments_to_a_host(side: Any) -> None:
    lease = side.owner.assign("T2", "builder-beta", "beta", ttl=60)
    (pushed,) = side.answers().values()
    assert pushed.env.kind == "assignment" and pushed.env.fence == lease.fence
    assert pushed.parsed.meta["task"]["id"] == "T2"
    ledger = (side.a2a / "ledger/alpha.jsonl").read_bytes().splitlines()
    assert orjson.loads(ledger[-1])["action"] == "assignment"


def test_handoff_gives_the_task_back_and_progress_is_only_logged(side: Any) -> None:
    fence = _claim(side)
    journal = (side.ws / "sprints/events.jsonl").read_bytes()
    note = side.beta.seal(
        "alpha", "progress", lambda m: messages.progress(m, "T2", "S1", "epoch 2/3"), task="T2"
    )
    side.beta.post([note])
    side.owner.postbox.process(side.owner)
    assert (side.ws / "sprints/events.jsonl").read_bytes() == journal
    off = side.beta.seal(
        "alpha",
        "handoff",
        lambda m: messages.handoff(m, "T2", "gamma", "going offline"),
        task="T2",
        fence=fence,
    )
    side.beta.post([off])
    side.owner.postbox.process(side.owner)
    assert side.board.snapshot().tasks["T2"].status == "ready"
    actions = [x.action for x in side.owner.postbox.ledger.lines()]
    assert actions[-2:] == ["progress", "handoff"]


def test_a_poison_message_is_quarantined_and_the_queue_goes_on(side: Any) -> None:
    calls: list[str] = []

    def handler(got: Received) -> Outcome:
        calls.append(got.env.kind)
        if got.env.kind == "progress":
            raise KeyError("bug in a handler")
        return Outcome("accept")

    first = side.beta.seal(
        "alpha", "progress", lambda m: messages.progress(m, "T2", "S", "x"), task="T2"
    )
    second = side.beta.seal(
        "alpha", "accept", lambda m: messages.accept(m, "T2", "S", "b"), task="T2"
    )
    side.beta.post([first, second])
    assert side.owner.postbox.process(handler) == 1
    assert sorted(calls) == ["accept", "progress"]
    (reason,) = [r for _, r in side.owner.postbox.transport.inbox("alpha").quarantined()]
    assert reason.startswith("handler error: KeyError")


def _request(side: Any, op: str, args: dict[str, Any]) -> Envelope:
    env = side.beta.seal("alpha", "request", lambda m: messages.request(m, op, args))
    side.beta.post([env])
    return env


def test_hostile_values_from_a_peer_are_refused_in_one_line(
    side: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16: no traceback in the daemon log, nothing written, the sender hears why."""
    caplog.set_level(logging.WARNING)
    journal = (side.ws / "sprints/events.jsonl").read_bytes()
    sent = [
        _request(side, "claim", {"task": "T2", "agent": "builder-beta", "ttl": "abc"}),
        _request(side, "claim", {"task": "T2", "agent": "builder-beta", "ttl": 1e12}),
        _request(side, "claim", {"task": "T2", "agent": "builder-beta", "ttl": -60}),
        _request(
            side,
            "apply",
            {"events": [{"op": "note.add", "task": "T2", "fields": {"text": "x"}, "fence": "zz"}]},
        ),
        _request(
            side, "apply", {"events": [{"op": "note.add", "task": "T404", "fields": {"text": "x"}}]}
        ),
        _request(side, "apply", {"events": [{"op": "note.add", "task": "T2", "fields": "text"}]}),
        _request(
            side,
            "apply",
            {"events": [{"op": "metric.set", "task": "T2", "fields": {"name": "l", "value": "x"}}]},
        ),
    ]
    side.owner.postbox.process(side.owner)
    got = side.answers()
    for env in sent:
        data = got[env.id].parsed.data
        assert data["ok"] is False and "\n" not in data["error"], data
    assert "ttl" in got[sent[0].id].parsed.data["error"]
    assert "no such task" in got[sent[4].id].parsed.data["error"]
    assert (side.ws / "sprints/events.jsonl").read_bytes() == journal
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_result_with_a_non_numeric_metric_records_nothing(
    side: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    fence = _claim(side)
    journal = (side.ws / "sprints/events.jsonl").read_bytes()

    def payload(mid: str) -> dict[str, Any]:
        doc = messages.result(mid, "T2", "S1", [], {"loss": 0.5})
        doc["task"]["metadata"]["sprintboard"]["metrics"] = {"loss": "abc", "rows": "NaN"}
        return doc

    env = side.beta.seal("alpha", "result", payload, task="T2", fence=fence)
    side.beta.post([env])
    side.owner.postbox.process(side.owner)
    answer = side.answers()[env.id].parsed.data
    assert answer["ok"] is False and "must be a" in answer["error"]
    assert (side.ws / "sprints/events.jsonl").read_bytes() == journal
    assert not [r for r in caplog.records if r.exc_info]


def _ask(side: Any, op: str, args: dict[str, Any], fence: int | None = None) -> Received:
    env = side.beta.seal(
        "alpha", "request", lambda m: messages.request(m, op, args), task="T2", fence=fence
    )
    side.beta.post([env])
    side.owner.postbox.process(side.owner)
    return side.answers()[env.id]


def test_claim_next_from_a_host_takes_what_the_one_ranking_gives_that_host(side: Any) -> None:
    side.board.create_tasks(
        [
            {"id": "T3", "title": "no mlx needed", "status": "ready", "priority": 1},
            {"id": "T4", "title": "for alpha", "status": "ready", "priority": 0},
        ]
    )
    side.board.assign("T4", "builder-alpha")  # assigned elsewhere: not offered to beta
    args = {"agent": "builder-beta", "role": None, "caps": None, "ttl": 60, "by_worker": False}
    got = _ask(side, "claim_next", args)
    assert got.env.kind == "assignment" and got.parsed.meta["task"]["id"] == "T3"
    got = _ask(side, "claim_next", args)  # builder-beta has WIP 2 in the generated config
    assert got.env.kind == "assignment" and got.parsed.meta["task"]["id"] == "T2"
    nothing = _ask(side, "claim_next", args)
    assert nothing.env.kind == "reply" and nothing.parsed.data["ok"] is True
    assert nothing.parsed.data["value"] is None
    wrong = _ask(side, "claim_next", {**args, "agent": "builder-alpha"})
    assert wrong.parsed.data["ok"] is False
    assert "builder-alpha runs on alpha in sprintboard.toml" in wrong.parsed.data["error"]


def test_a_host_blocks_only_its_own_leased_task_with_the_fence(side: Any) -> None:
    fence = _claim(side)
    move = {"task": "T2", "to": "blocked", "reason": "no GPU memory", "expected": "in_progress"}
    done = _ask(side, "move", {**move, "to": "done"}, fence)
    assert done.parsed.data["ok"] is False and "only to blocked" in done.parsed.data["error"]
    stale = _ask(side, "move", move, fence + 1)
    assert stale.parsed.data["ok"] is False and "is not the lease's" in stale.parsed.data["error"]
    assert side.board.snapshot().tasks["T2"].status == "in_progress"
    got = _ask(side, "move", move, fence)
    assert got.parsed.data["ok"] is True
    task = side.board.snapshot().tasks["T2"]
    assert (task.status, task.blocked_reason, task.lease) == ("blocked", "no GPU memory", None)
    (event,) = [e for e in side.board.events() if e.op == "task.move"]
    assert event.actor == "builder-beta@beta" and event.fence == fence
    quarantined = [r for _, r in side.owner.postbox.transport.inbox("alpha").quarantined()]
    assert len(quarantined) == 2
