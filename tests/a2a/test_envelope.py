"""Envelopes: signature per host pair, payload hash, expiry with skew, strict shape."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from sprintboard.a2a.envelope import (
    MAX_MESSAGE_BYTES,
    Envelope,
    decode,
    encode,
    payload_hash,
    seal,
    verify,
)
from sprintboard.errors import MessageRejected

KEY = b"k" * 32
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make(**kw: object) -> Envelope:
    base = Envelope(
        id="beta-1",
        sender="beta",
        recipient="alpha",
        kind="heartbeat",
        ts="2026-01-01T00:00:00.000Z",
        expires="2026-01-01T01:00:00.000Z",
        payload={"statusUpdate": {"taskId": "T2"}},
        task="T2",
        fence=3,
    )
    return seal(replace(base, **kw), KEY)  # type: ignore[arg-type]


def check(env: Envelope, key: bytes | None = KEY, now: datetime = NOW, skew: float = 60) -> None:
    verify(env, key, me="alpha", now=now, max_skew=skew)


def test_sealed_envelope_verifies_after_a_byte_round_trip() -> None:
    env = make()
    again = decode(encode(env))
    assert again == env
    check(again)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"fence": 4}, "bad signature"),
        ({"sender": "gamma"}, "bad signature"),
        ({"expires": "2026-01-02T00:00:00.000Z"}, "bad signature"),
        ({"payload": {"statusUpdate": {"taskId": "T9"}}}, "payload hash"),
    ],
)
def test_any_change_after_signing_is_caught(change: dict[str, object], reason: str) -> None:
    with pytest.raises(MessageRejected, match=reason):
        check(replace(make(), **change))  # type: ignore[arg-type]


def test_wrong_key_unknown_sender_and_wrong_recipient() -> None:
    with pytest.raises(MessageRejected, match="bad signature"):
        check(make(), key=b"x" * 32)
    with pytest.raises(MessageRejected, match="unknown sender"):
        check(make(), key=None)
    with pytest.raises(MessageRejected, match="wrong recipient"):
        check(make(recipient="gamma"))


def test_expiry_tolerates_the_skew_and_no_more() -> None:
    env = make()
    check(env, now=env.expires_at + timedelta(seconds=59))
    with pytest.raises(MessageRejected, match="expired"):
        check(env, now=env.expires_at + timedelta(seconds=61))
    with pytest.raises(MessageRejected, match="future"):
        check(env, now=NOW - timedelta(seconds=61))


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"id": "x"}', "missing"),
        (orjson.dumps({**orjson.loads(encode(make())), "evil": 1}), "unknown fields"),
        (orjson.dumps({**orjson.loads(encode(make())), "recipient": "../../etc"}), "bad host"),
        (orjson.dumps({**orjson.loads(encode(make())), "id": "../x"}), "bad message id"),
        (orjson.dumps({**orjson.loads(encode(make())), "kind": "rm -rf"}), "unknown kind"),
        (b" " * (MAX_MESSAGE_BYTES + 1), "oversized"),
    ],
)
def test_malformed_envelopes_are_refused(doc: bytes, reason: str) -> None:
    with pytest.raises(MessageRejected, match=reason):
        decode(doc)


def test_the_signature_covers_the_payload_hash() -> None:
    """A forger who swaps the payload and recomputes its hash still fails: the hash is signed."""
    env = make()
    swapped = {"statusUpdate": {"taskId": "T2", "status": {"state": "TASK_STATE_COMPLETED"}}}
    forged = replace(env, payload=swapped, payload_sha256=payload_hash(swapped))
    with pytest.raises(MessageRejected, match="bad signature"):
        check(forged)
    with pytest.raises(MessageRejected, match="bad signature"):
        check(decode(encode(forged)))
