"""The signed envelope: one A2A message file, as it lies in an inbox.

```json
{"v": 1, "id": "beta-01J...", "sender": "beta", "recipient": "alpha", "kind": "result",
 "ts": "...Z", "expires": "...Z", "task": "T002", "fence": 3, "reply_to": null,
 "payload_sha256": "<hex>", "payload": {"task": {...A2A v1 ProtoJSON...}}, "sig": "<hex>"}
```

The signature is HMAC-SHA256, with the key of the (sender, recipient) pair, over the
canonical JSON of every field but `payload` and `sig`; `payload_sha256` ties the payload
in. Canonical JSON is orjson with sorted keys, so both sides hash the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import orjson

from sprintboard.board.clock import format_ts, parse_ts
from sprintboard.errors import MessageRejected

__all__ = [
    "ENVELOPE_VERSION",
    "KINDS",
    "MAX_MESSAGE_BYTES",
    "Envelope",
    "Kind",
    "canonical",
    "check_host",
    "decode",
    "encode",
    "file_name",
    "payload_hash",
    "seal",
    "verify",
]

ENVELOPE_VERSION = 1
MAX_MESSAGE_BYTES = 1 << 20
"""Messages above 1 MiB are refused unread; files travel as blobs, not inline."""

Kind = Literal[
    "assignment",
    "accept",
    "decline",
    "heartbeat",
    "progress",
    "result",
    "handoff",
    "cancel",
    "request",
    "reply",
]
KINDS: tuple[Kind, ...] = get_args(Kind)

_HOST = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_TASK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_FIELDS = (
    "v",
    "id",
    "sender",
    "recipient",
    "kind",
    "ts",
    "expires",
    "task",
    "fence",
    "reply_to",
    "payload_sha256",
    "payload",
    "sig",
)


def check_host(name: str) -> str:
    """Return `name` if it is a safe host name (it becomes a directory name), else raise.

    Raises:
        ValueError: not lowercase letters, digits, `-` or `_` (1-63 characters).
    """
    if not isinstance(name, str) or not _HOST.fullmatch(name):
        raise ValueError(f"bad host name {name!r}: use a-z, 0-9, '-', '_' (max 63)")
    return name


def canonical(value: Any) -> bytes:
    """The bytes that are hashed and signed: compact JSON with sorted keys."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def payload_hash(payload: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical payload."""
    return hashlib.sha256(canonical(payload)).hexdigest()


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message between two hosts; `payload` is an A2A `StreamResponse` in ProtoJSON."""

    id: str
    sender: str
    recipient: str
    kind: Kind
    ts: str
    expires: str
    payload: dict[str, Any]
    task: str | None = None
    fence: int | None = None
    reply_to: str | None = None
    payload_sha256: str = ""
    sig: str = ""
    v: int = ENVELOPE_VERSION

    def header(self) -> dict[str, Any]:
        """Everything that is signed (the payload counts through its hash)."""
        out = asdict(self)
        del out["payload"], out["sig"]
        return out

    @property
    def expires_at(self) -> datetime:
        return parse_ts(self.expires)


def _mac(key: bytes, env: Envelope) -> str:
    return hmac.new(key, canonical(env.header()), hashlib.sha256).hexdigest()


def seal(env: Envelope, key: bytes) -> Envelope:
    """Fill in the payload hash and the signature."""
    hashed = replace(env, payload_sha256=payload_hash(env.payload), sig="")
    return replace(hashed, sig=_mac(key, hashed))


def encode(env: Envelope) -> bytes:
    """The file bytes of a sealed envelope."""
    return orjson.dumps(asdict(env)) + b"\n"


def file_name(env: Envelope) -> str:
    """The inbox file name: the message id (already a safe name) plus `.json`."""
    return f"{env.id}.json"


def decode(data: bytes, *, label: str = "?") -> Envelope:
    """Parse envelope bytes; checks shape and names, not the signature.

    Raises:
        MessageRejected: oversized, not JSON, missing or unknown fields, bad names.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageRejected(label, f"oversized: {len(data)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MessageRejected(label, f"malformed: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise MessageRejected(label, "malformed: not a JSON object")
    label = str(doc.get("id", label))[:80]
    unknown = sorted(set(doc) - set(_FIELDS))
    missing = sorted({"id", "sender", "recipient", "kind", "ts", "expires", "payload"} - set(doc))
    if unknown or missing:
        raise MessageRejected(label, f"malformed: unknown fields {unknown}, missing {missing}")
    try:
        env = Envelope(**doc)
        _check_shape(env)
    except (TypeError, ValueError) as exc:
        raise MessageRejected(label, f"malformed: {exc}") from None
    return env


def _check_shape(env: Envelope) -> None:
    if env.v != ENVELOPE_VERSION:
        raise ValueError(f"envelope version {env.v!r}, expected {ENVELOPE_VERSION}")
    if not isinstance(env.id, str) or not _ID.fullmatch(env.id):
        raise ValueError(f"bad message id {env.id!r}")
    check_host(env.sender)
    check_host(env.recipient)
    if env.kind not in KINDS:
        raise ValueError(f"unknown kind {env.kind!r}")
    if env.task is not None and (not isinstance(env.task, str) or not _TASK.fullmatch(env.task)):
        raise ValueError(f"bad task id {env.task!r}")
    if env.fence is not None and (isinstance(env.fence, bool) or not isinstance(env.fence, int)):
        raise ValueError(f"bad fence {env.fence!r}")
    if env.reply_to is not None and (
        not isinstance(env.reply_to, str) or not _ID.fullmatch(env.reply_to)
    ):
        raise ValueError(f"bad reply_to {env.reply_to!r}")
    if not isinstance(env.payload, dict):
        raise ValueError("payload is not an object")
    parse_ts(env.ts), parse_ts(env.expires)


def verify(
    env: Envelope,
    key: bytes | None,
    *,
    me: str,
    now: datetime,
    max_skew: float,
) -> None:
    """Check recipient, signature, payload hash and time window.

    Raises:
        MessageRejected: wrong recipient, unknown sender (no key), bad signature or
            payload hash, expired, or dated in the future beyond `max_skew`.
    """
    if env.recipient != me:
        raise MessageRejected(env.id, f"wrong recipient: for {env.recipient!r}, this is {me!r}")
    if key is None:
        raise MessageRejected(
            env.id,
            f"unknown sender {env.sender!r}: no key for the pair {env.sender}/{me}; "
            "run `sprintboard a2a pair`",
        )
    if not hmac.compare_digest(_mac(key, env), env.sig):
        raise MessageRejected(env.id, f"bad signature (sender claims {env.sender!r})")
    if not hmac.compare_digest(payload_hash(env.payload), env.payload_sha256):
        raise MessageRejected(env.id, "payload hash does not match (payload altered)")
    skew = timedelta(seconds=max_skew)
    if now > env.expires_at + skew:
        raise MessageRejected(env.id, f"expired at {env.expires} (now {format_ts(now)})")
    if parse_ts(env.ts) > now + skew:
        raise MessageRejected(env.id, f"dated in the future ({env.ts}; now {format_ts(now)})")
