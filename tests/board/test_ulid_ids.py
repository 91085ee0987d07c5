"""Event ids: ULID text from base32 in C must be the digits the Crockford loop gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sprintboard.board.clock import FrozenClock, UlidIds, crockford26

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _by_digits(value: int) -> str:
    """The reference: 26 digits of 5 bits, least significant first, reversed."""
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def test_crockford26_is_the_digit_loop() -> None:
    rng = random.Random(23)
    edges = [0, 1, 31, 32, (1 << 128) - 1, (1 << 130) - 1, 1 << 129, 1 << 80]
    for value in edges + [rng.getrandbits(128) for _ in range(2000)]:
        assert crockford26(value) == _by_digits(value), value


def test_ulid_ids_sort_by_time_and_carry_the_millisecond() -> None:
    clock = FrozenClock(datetime(2026, 12, 7, 13, 0, tzinfo=UTC))
    ids = UlidIds(clock)
    first = ids.new_id()
    clock.advance(0.002)
    second = ids.new_id()
    assert len(first) == len(second) == 26 and first < second
    ms = int(clock.now().timestamp() * 1000)
    assert crockford26(ms << 80)[:10] == second[:10]
