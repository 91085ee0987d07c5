"""Envelopes: signature per host pair, payload hash, expiry with skew, strict shape."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from sprintboard.a2a.envelope import (
    MAX_MESSAGE_BYTES,
    Envelope,
    canonical,
    check_host,
    decode,
    encode,
    file_name,
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


def _doc(**change: object) -> bytes:
    return orjson.dumps({**orjson.loads(encode(make())), **change})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": 2}, "malformed: envelope version 2, expected 1"),
        ({"id": 7}, "malformed: bad message id 7"),
        ({"id": "-starts-badly"}, "malformed: bad message id '-starts-badly'"),
        ({"id": "x" * 129}, "malformed: bad message id"),
        ({"sender": "Beta"}, "malformed: bad host name 'Beta'"),
        ({"recipient": "a" * 64}, "malformed: bad host name"),
        ({"task": "../T1"}, "malformed: bad task id '../T1'"),
        ({"task": 5}, "malformed: bad task id 5"),
        ({"fence": True}, "malformed: bad fence True"),
        ({"fence": "3"}, "malformed: bad fence '3'"),
        ({"reply_to": "a/b"}, "malformed: bad reply_to 'a/b'"),
        ({"reply_to": 9}, "malformed: bad reply_to 9"),
        ({"payload": [1]}, "malformed: payload is not an object"),
        ({"ts": "yesterday"}, "malformed: Invalid isoformat string: 'yesterday'"),
        ({"expires": "soon"}, "malformed: Invalid isoformat string: 'soon'"),
    ],
)
def test_each_field_is_checked_when_decoded(change: dict[str, object], reason: str) -> None:
    with pytest.raises(MessageRejected) as err:
        decode(_doc(**change), label="inbox/x.json")
    assert err.value.reason.startswith(reason)
    label = change.get("id", "beta-1")
    assert err.value.message_id == str(label)[:80]


def test_good_optional_fields_decode() -> None:
    env = decode(_doc(task="T1.a:b-c_d", fence=0, reply_to="alpha-01J.x_y"))
    assert (env.task, env.fence, env.reply_to) == ("T1.a:b-c_d", 0, "alpha-01J.x_y")
    env = decode(_doc(task=None, fence=None, reply_to=None))
    assert (env.task, env.fence, env.reply_to) == (None, None, None)


def test_a_refusal_names_the_message_or_the_file() -> None:
    with pytest.raises(MessageRejected) as err:
        decode(b"[]", label="inbox/new/x.json")
    assert (err.value.message_id, err.value.reason) == (
        "inbox/new/x.json",
        "malformed: not a JSON object",
    )
    with pytest.raises(MessageRejected) as err:
        decode(b"{", label="inbox/new/y.json")
    assert err.value.message_id == "inbox/new/y.json"
    assert err.value.reason.startswith("malformed: not JSON (")
    with pytest.raises(MessageRejected) as err:
        decode(b'{"id": "beta-9", "sender": "beta", "zzz": 1, "aaa": 2}')
    assert (err.value.message_id, err.value.reason) == (
        "beta-9",
        "malformed: unknown fields ['aaa', 'zzz'], missing ['expires', 'kind', 'payload', "
        "'recipient', 'ts']",
    )
    with pytest.raises(MessageRejected) as err:  # no id in the file: its label names it
        decode(b'{"sender": "beta"}', label="inbox/new/z.json")
    assert err.value.message_id == "inbox/new/z.json"
    with pytest.raises(MessageRejected) as err:
        decode(b"[]")
    assert err.value.message_id == "?"
    big = b" " * (MAX_MESSAGE_BYTES + 1)
    with pytest.raises(MessageRejected) as err:
        decode(big, label="big.json")
    assert (err.value.message_id, err.value.reason) == (
        "big.json",
        f"oversized: {MAX_MESSAGE_BYTES + 1} bytes > {MAX_MESSAGE_BYTES}",
    )
    decode(b" " * (MAX_MESSAGE_BYTES - len(encode(make()))) + encode(make()))  # at the limit


def test_verify_says_which_check_failed() -> None:
    env = make()
    cases = [
        (replace(env, recipient="gamma"), KEY, "wrong recipient: for 'gamma', this is 'alpha'"),
        (env, None, "unknown sender 'beta': no key for the pair beta/alpha; run `sprintboard "
                    "a2a pair`"),
        (env, b"x" * 32, "bad signature (sender claims 'beta')"),
        (replace(env, payload={"a": 1}), KEY, "payload hash does not match (payload altered)"),
    ]  # fmt: skip
    for envelope, key, reason in cases:
        with pytest.raises(MessageRejected) as err:
            check(envelope, key=key)
        assert (err.value.message_id, err.value.reason) == ("beta-1", reason)
    late = env.expires_at + timedelta(seconds=61)
    with pytest.raises(MessageRejected) as err:
        check(env, now=late)
    assert (err.value.message_id, err.value.reason) == (
        "beta-1",
        "expired at 2026-01-01T01:00:00.000Z (now 2026-01-01T01:01:01.000Z)",
    )
    with pytest.raises(MessageRejected) as err:
        check(env, now=NOW - timedelta(seconds=61))
    assert (err.value.message_id, err.value.reason) == (
        "beta-1",
        "dated in the future (2026-01-01T00:00:00.000Z; now 2025-12-31T23:58:59.000Z)",
    )
    check(env, now=NOW - timedelta(seconds=60))  # exactly the skew: still fine
    check(env, now=env.expires_at + timedelta(seconds=60))


def test_the_file_name_and_bytes_of_an_envelope() -> None:
    env = make()
    assert file_name(env) == "beta-1.json"
    data = encode(env)
    assert data.endswith(b"}\n") and data.count(b"\n") == 1
    assert orjson.loads(data)["sig"] == env.sig and len(env.sig) == 64
    assert env.payload_sha256 == hashlib.sha256(canonical(env.payload)).hexdigest()
    assert canonical({"b": 1, "a": [2, {"d": 3, "c": 4}]}) == b'{"a":[2,{"c":4,"d":3}],"b":1}'


@pytest.mark.parametrize("name", ["alpha", "a", "h0st_1-x", "9" * 63])
def test_host_names_that_are_safe_directory_names(name: str) -> None:
    assert check_host(name) == name


@pytest.mark.parametrize("name", ["", "Alpha", "-a", "_a", "a/b", "a.b", "a" * 64, 5, None])
def test_host_names_that_are_refused(name: object) -> None:
    with pytest.raises(ValueError, match="bad host name .*: use a-z, 0-9, '-', '_' .max 63."):
        check_host(name)  # type: ignore[arg-type]
