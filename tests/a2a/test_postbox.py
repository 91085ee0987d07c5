"""The post office on its own: what a sent message looks like, what the ledger says, and how
each handler outcome and failure ends (archive, ledger line, quarantine, or a retry)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sprintboard.a2a import messages
from sprintboard.a2a.envelope import decode, file_name, verify
from sprintboard.a2a.keys import KeyRing, keygen
from sprintboard.a2a.ledger import Ledger, LedgerLine
from sprintboard.a2a.postbox import Outcome, Postbox, Received
from sprintboard.a2a.seen import SeenIds
from sprintboard.a2a.transport_dir import DirTransport
from sprintboard.board.clock import CounterIds, FrozenClock, crockford26
from sprintboard.errors import BoardError, MessageRejected

START = "2026-01-01T00:00:00.000Z"


class Pair:
    """alpha and beta, paired, over one shared directory, on one frozen clock."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / ".a2a"
        keys = tmp / "keys"
        keygen(keys, "alpha", "beta")
        self.clock = FrozenClock()
        self.alpha = self.box("alpha", keys, tmp)
        self.beta = self.box("beta", keys, tmp)

    def box(self, host: str, keys: Path, tmp: Path) -> Postbox:
        return Postbox(
            host,
            DirTransport(self.dir),
            KeyRing(keys),
            seen=SeenIds(tmp / f"seen-{host}.log"),
            ledger=Ledger(self.dir, host),
            clock=self.clock,
            ids=CounterIds(),
            ttl=60,
            max_skew=30,
        )

    def heartbeat(self, task: str = "T2", **kw: Any) -> Any:
        return self.beta.send(
            "alpha", "heartbeat", lambda m: messages.heartbeat(m, task, "S1"), task=task, **kw
        )

    def inbox(self, folder: str) -> list[str]:
        path = self.dir / "alpha" / "inbox" / folder
        return sorted(os.listdir(path)) if path.exists() else []

    def quarantined(self) -> list[tuple[str, str]]:
        return self.alpha.transport.inbox("alpha").quarantined()  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return Pair(tmp_path)


def test_a_sent_message_is_sealed_for_its_recipient_and_logged(pair: Pair) -> None:
    env = pair.heartbeat(fence=3, reply_to="alpha-7")
    assert (env.id, env.sender, env.recipient, env.kind) == (
        "beta-00000000000000000000000001",
        "beta",
        "alpha",
        "heartbeat",
    )
    assert (env.ts, env.expires, env.task, env.fence, env.reply_to) == (
        START,
        "2026-01-01T00:01:00.000Z",
        "T2",
        3,
        "alpha-7",
    )
    data = (pair.dir / "alpha" / "inbox" / "new" / file_name(env)).read_bytes()
    verify(
        decode(data),
        pair.alpha.keys.key("beta", "alpha"),
        me="alpha",
        now=pair.clock.now(),
        max_skew=0,
    )
    assert Ledger(pair.dir, "beta").lines() == [
        LedgerLine(START, "beta", "heartbeat", "alpha", "sent", "T2")
    ]
    answer = pair.alpha.send(
        "beta", "reply", lambda m: messages.reply(m, True, 1), message_id="a-1"
    )
    assert answer.id == "a-1" and answer.task is None
    assert Ledger(pair.dir, "alpha").lines()[-1] == LedgerLine(
        START, "alpha", "answer", "beta", "sent", "a-1"
    )


def test_sealing_for_a_host_without_a_key_is_refused(pair: Pair) -> None:
    with pytest.raises(MessageRejected) as err:
        pair.beta.seal(
            "gamma", "heartbeat", lambda m: messages.heartbeat(m, "T2", "S1"), message_id="b-9"
        )
    assert (err.value.message_id, err.value.reason) == (
        "b-9",
        "no key for beta/gamma; run `sprintboard a2a keygen`/`pair`",
    )


def test_a_batch_is_sent_per_recipient_in_one_go(pair: Pair, tmp_path: Path) -> None:
    keygen(tmp_path / "keys", "beta", "gamma")
    gamma = pair.box("gamma", tmp_path / "keys", tmp_path)
    envs = [
        pair.beta.seal(to, "heartbeat", lambda m, t=t: messages.heartbeat(m, t, "S"), task=t)
        for to, t in (("alpha", "T1"), ("gamma", "T2"), ("alpha", "T3"))
    ]
    pair.beta.post(envs)
    assert pair.inbox("new") == sorted(file_name(e) for e in (envs[0], envs[2]))
    assert gamma.transport.inbox("gamma").pending() == [file_name(envs[1])]
    assert [(x.action, x.target, x.ref) for x in Ledger(pair.dir, "beta").lines()] == [
        ("heartbeat", "alpha", "T1"),
        ("heartbeat", "gamma", "T2"),
        ("heartbeat", "alpha", "T3"),
    ]


def test_a_handled_message_is_archived_remembered_and_logged(pair: Pair) -> None:
    env = pair.heartbeat()
    pair.clock.advance(5)
    got: list[Received] = []

    def handler(received: Received) -> Outcome:
        got.append(received)
        return Outcome("accept", "x" * 400)

    assert pair.alpha.process(handler) == 1
    assert [r.env for r in got] == [env] and got[0].parsed is not None
    assert pair.inbox("new") == pair.inbox("cur") == []
    assert os.listdir(pair.dir / "alpha" / "archive") == [file_name(env)]
    assert env.id in SeenIds(pair.alpha.seen.path)  # durable before the file left cur/
    (line,) = Ledger(pair.dir, "alpha").lines()
    assert line == LedgerLine(
        "2026-01-01T00:00:05.000Z", "alpha", "accept", "beta", "x" * 300, "T2"
    )


def test_a_handler_may_answer_nothing(pair: Pair) -> None:
    pair.heartbeat(task=None)
    assert pair.alpha.process(lambda r: None) == 1
    assert Ledger(pair.dir, "alpha").lines() == []
    assert len(os.listdir(pair.dir / "alpha" / "archive")) == 1


def test_each_way_a_handler_can_fail(pair: Pair) -> None:
    ok, refused, poison, rejected = (pair.heartbeat(task=t) for t in ("T1", "T2", "T3", "T4"))

    def handler(received: Received) -> Outcome:
        task = received.env.task
        if task == "T2":
            raise BoardError("T2: not leased")
        if task == "T3":
            raise RuntimeError("boom")
        if task == "T4":
            raise MessageRejected(received.env.id, "forged write")
        return Outcome("accept")

    assert pair.alpha.process(handler) == 2  # the refusal counts as handled: it was answered
    assert pair.quarantined() == [
        (file_name(poison), "handler error: RuntimeError('boom')"),
        (file_name(rejected), "forged write"),
    ]
    lines = [(x.action, x.context, x.ref) for x in Ledger(pair.dir, "alpha").lines()]
    assert ("refuse", "T2: not leased", "T2") in lines and ("accept", "", "T1") in lines
    assert ("quarantine", "", "forged write", file_name(rejected)) in [
        (x.action, x.target, x.context, x.ref) for x in Ledger(pair.dir, "alpha").lines()
    ]
    assert sorted(os.listdir(pair.dir / "alpha" / "archive")) == sorted(
        [file_name(ok), file_name(refused)]
    )
    assert ok.id in pair.alpha.seen and poison.id not in pair.alpha.seen


def test_disk_trouble_in_a_handler_leaves_the_message_for_the_next_pass(pair: Pair) -> None:
    env = pair.heartbeat()

    def full(received: Received) -> Outcome:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        pair.alpha.process(full)
    assert pair.inbox("cur") == [file_name(env)] and pair.quarantined() == []
    assert pair.alpha.process(lambda r: Outcome("accept")) == 1  # a left-over, handled now
    assert pair.inbox("cur") == []


def test_a_left_over_already_handled_is_archived_not_quarantined(pair: Pair) -> None:
    env = pair.heartbeat()
    inbox = pair.alpha.transport.inbox("alpha")
    assert inbox.claim(file_name(env))  # claimed, then the host died before handling it
    pair.alpha.seen.add(env.id, env.expires_at)
    pair.alpha.seen.flush()  # ...or after remembering it, before archiving
    calls: list[str] = []
    assert pair.alpha.process(lambda r: calls.append(r.env.id) or Outcome("accept")) == 0
    assert calls == [] and pair.quarantined() == []
    assert os.listdir(pair.dir / "alpha" / "archive") == [file_name(env)]


def test_a_message_under_another_name_is_quarantined(pair: Pair) -> None:
    env = pair.heartbeat()
    new = pair.dir / "alpha" / "inbox" / "new"
    os.rename(new / file_name(env), new / "beta-other.json")
    assert pair.alpha.process(lambda r: Outcome("accept")) == 0
    assert pair.quarantined() == [
        ("beta-other.json", "file name 'beta-other.json' does not match the message id")
    ]


def test_limit_takes_left_overs_first(pair: Pair) -> None:
    first, second, third = (pair.heartbeat(task=t) for t in ("T1", "T2", "T3"))
    inbox = pair.alpha.transport.inbox("alpha")
    assert inbox.claim(file_name(third))  # a left-over from a crash
    seen: list[str] = []
    assert pair.alpha.process(lambda r: seen.append(r.env.task or "") or None, limit=2) == 2
    assert seen == ["T3", "T1"]
    assert pair.alpha.process(lambda r: seen.append(r.env.task or "") or None, limit=None) == 1
    assert seen == ["T3", "T1", "T2"]
    assert all(e.id in pair.alpha.seen for e in (first, second, third))


def test_ids_are_kept_until_expiry_plus_skew(pair: Pair) -> None:
    env = pair.heartbeat()
    pair.alpha.process(lambda r: None)
    pair.clock.advance(60 + 30)  # expiry + skew: the last moment a replay still verifies
    assert pair.alpha.seen.prune(pair.clock.now()) == 0 and env.id in pair.alpha.seen
    pair.clock.advance(0.001)
    assert pair.alpha.seen.prune(pair.clock.now()) == 1


def test_a_failure_is_logged_and_its_ledger_line_names_the_file(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    poison = pair.heartbeat(task="T1")
    pair.clock.advance(2)

    def handler(received: Received) -> Outcome:
        raise RuntimeError("boom")

    with caplog.at_level("WARNING", logger="sprintboard.a2a.postbox"):
        assert pair.alpha.process(handler) == 0
    name, reason = file_name(poison), "handler error: RuntimeError('boom')"
    assert [r.getMessage() for r in caplog.records] == [
        f"alpha: handler failed on {name}",
        f"alpha: quarantined {name}: {reason}",
    ]
    assert Ledger(pair.dir, "alpha").lines() == [
        LedgerLine("2026-01-01T00:00:02.000Z", "alpha", "quarantine", "", reason, name)
    ]


def test_one_bad_message_does_not_stop_the_batch_behind_it(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken, unreadable, replayed, good = (pair.heartbeat(task=t) for t in ("T1", "T2", "T3", "T4"))
    pair.alpha.seen.add(replayed.id, replayed.expires_at)
    inbox = type(pair.alpha.transport.inbox("alpha"))
    read = inbox.read

    def flaky(self: Any, name: str) -> bytes:
        if name == file_name(unreadable):
            raise OSError(5, "Input/output error")
        return read(self, name)  # type: ignore[no-any-return]

    monkeypatch.setattr(inbox, "read", flaky)
    other = pair.alpha.transport.inbox("alpha")

    def only(name: str) -> bool:
        if name == file_name(taken):
            assert other.claim(name)  # another reader takes it between listing and claiming
        return True

    handled: list[str | None] = []
    assert pair.alpha.process(lambda r: handled.append(r.env.task) or None, only=only) == 1
    assert handled == ["T4"]
    assert pair.quarantined() == sorted(
        [
            (file_name(unreadable), "unreadable: [Errno 5] Input/output error"),
            (file_name(replayed), f"replayed id {replayed.id} (already handled)"),
        ]
    )
    assert pair.inbox("cur") == [file_name(taken)]  # the other reader's


def test_only_picks_the_files_this_process_takes(pair: Pair) -> None:
    mine, theirs = pair.heartbeat(task="T1"), pair.heartbeat(task="T2")
    assert pair.alpha.process(lambda r: None, only=lambda n: n == file_name(mine)) == 1
    assert mine.id in pair.alpha.seen and theirs.id not in pair.alpha.seen
    assert pair.inbox("new") == [file_name(theirs)]


def test_the_seen_ids_are_pruned_once_every_thousand_handled(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pruned: list[object] = []
    prune = pair.alpha.seen.prune
    monkeypatch.setattr(pair.alpha.seen, "prune", lambda now: pruned.append(now) or prune(now))

    def handle(count: int) -> None:
        envs = [
            pair.beta.seal("alpha", "heartbeat", lambda m: messages.heartbeat(m, "T1", "S"))
            for _ in range(count)
        ]
        pair.beta.post(envs)
        assert pair.alpha.process(lambda r: None) == count

    handle(999)
    pair.clock.advance(1)
    handle(1)  # the thousandth
    assert pruned == [pair.clock.now()]
    handle(999)  # counting starts again at zero
    assert pruned == [pair.clock.now()]
    handle(1)
    assert len(pruned) == 2


def test_the_payload_is_built_for_the_envelopes_id_on_the_boards_clock(
    pair: Pair, tmp_path: Path
) -> None:
    asked: list[str] = []
    env = pair.beta.seal(
        "alpha", "heartbeat", lambda m: asked.append(m) or messages.heartbeat(m, "T2", "S1")
    )
    assert asked == [env.id]
    box = Postbox(
        "gamma",
        DirTransport(pair.dir),
        KeyRing(tmp_path / "keys"),
        seen=SeenIds(tmp_path / "seen-gamma.log"),
        clock=pair.clock,
    )  # no ids given: ULIDs whose time is the postbox's clock
    ms = int(pair.clock.now().timestamp() * 1000)
    minted = box.new_id()
    assert minted.startswith("gamma-") and minted[6:16] == crockford26(ms << 80)[:10]
