"""The fast test in front of each task rule (board/values.py `_PLAIN`) passes only values
its worded rule accepts: a value the test lets through unchecked would reach the journal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sprintboard.board.codec import task_to_dict
from sprintboard.board.models import Task
from sprintboard.board.values import _PLAIN, _TASK_RULES, check_task
from sprintboard.errors import InvalidValue

# Characters each rule treats apart: separators, controls (C0, DEL, C1), other spaces, line
# and paragraph separators, bidi overrides, a lone surrogate, and plain ones.
EDGES = (
    "aZ09 _.:-@+/,"
    "\t\n\r\x00\x08\x0b\x0c\x1c\x1f\x7f\x85\x9f\xa0"
    "\u061c\u1680\u200b\u200e\u2028\u2029\u202e\u2066\u2069\u3000\ud800\udfff\ufeff"
    "éß😀"
)
_text = st.text(alphabet=st.sampled_from(EDGES), max_size=12)
_long = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", " ", "é", "\n"]),
    st.sampled_from([63, 64, 65, 99, 100, 101, 128, 129, 499, 500, 501, 999, 1000, 1001]),
)
_number = st.one_of(
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([-1, 0, 1, 2, 99, 100, 10**6, 10**6 + 1, 10**7, 10**7 + 1, 2**53, 2**53 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_scalar = st.one_of(st.none(), _number, _text, _long)
_estimate = st.dictionaries(
    st.sampled_from(["low", "high", "x"]), st.one_of(_number, st.none(), _text), max_size=3
)
VALUES = st.one_of(
    _scalar,
    _estimate,
    st.lists(_scalar, max_size=4),
    st.lists(_text, max_size=4).map(tuple),
    st.dictionaries(_text, _scalar, max_size=3),
)


def _accepted(key: str, value: Any) -> bool:
    try:
        _TASK_RULES[key](value, key, None)
    except InvalidValue:
        return False
    return True


def test_every_rule_has_a_fast_test() -> None:
    assert _PLAIN.keys() == _TASK_RULES.keys()


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(_TASK_RULES)), value=VALUES)
def test_what_the_fast_test_passes_its_rule_accepts(key: str, value: Any) -> None:
    if _PLAIN[key](value):
        assert _accepted(key, value), (key, value)


BOUNDARIES = [
    *[n + d for n in (0, 99, 100, 500, 10**6, 10**7, 2**53) for d in (-1, 0, 1)],
    True,
    False,
    0.0,
    3.0,
    -0.0,
    float("nan"),
    "",
    " ",
    "a",
    "a ",
    " a",
    "a  b",
    "a b",
    *["a" * n for n in (63, 64, 65, 100, 101, 128, 129, 500, 501, 1000, 1001, 20_000, 20_001)],
    "2026-12-07",
    "2026-12-07T10:00:00Z",
    "2026-12-07T10:00",
    "2026-12-07 10:00:00+01:00",
    "2026-12-07T10:00:00.1234567890Z",
    "2026-12-7",
    "human:ana",
    "b@alpha",
    "T1",
    "T1 ",
    [],
    (),
    {},
    [[]],
    [None],
    ["a"] * 10_001,
    [""],
    {"a": 1},
    {"low": 1, "high": 2},
    {"low": 2, "high": 1},
    {"low": -1, "high": 2},
    {"low": 0, "high": 10**7},
    {"low": 0, "high": 10**7 + 1},
    {"low": True, "high": 2},
    {"low": 1.0, "high": 2},
    {"low": 1},
    {"low": 1, "high": 2, "x": 3},
]


@pytest.mark.parametrize("key", sorted(_TASK_RULES))
def test_every_boundary_value(key: str) -> None:
    for value in BOUNDARIES:
        if _PLAIN[key](value):
            assert _accepted(key, value), (key, value)


@pytest.mark.parametrize("key", sorted(k for k in _TASK_RULES if k not in ("extra",)))
def test_every_character_alone_and_between_letters(key: str) -> None:
    """Each code point up to U+3100, the surrogates and the rest of EDGES, as the value, in a
    list (list rules) and between letters."""
    points = [*range(0x3100), *range(0xD800, 0xE000, 7), *map(ord, EDGES)]
    for point in points:
        ch = chr(point)
        for value in (ch, f"a{ch}b", f"a {ch}", [ch], [f"a{ch}b"], None):
            if _PLAIN[key](value):
                assert _accepted(key, value), (key, hex(point), value)


def test_the_usual_task_is_plain_and_a_bad_one_still_gets_its_words() -> None:
    fields = task_to_dict(Task("T1", "audit rows", "ready", estimate=None, origin="q.json:3"))
    assert all(_PLAIN[key](value) for key, value in fields.items())
    check_task(fields)
    for key, bad, words in (
        ("title", "two  spaces", "one line without outer or repeated spaces"),
        ("title", "", "must not be empty"),
        ("priority", True, "whole number"),
        ("dependencies", ["T 2"], "use 1-128"),
        ("estimate", {"low": 9, "high": 3}, "low must not exceed high"),
        ("origin", "q.json\n:3", "must be one line"),
    ):
        with pytest.raises(InvalidValue, match=words) as exc:
            check_task({**fields, key: bad})
        assert exc.value.task == "T1"
