"""One row checked against its file's format: every reason in the words people read, and the
turns (and keys) every tool compares."""

from __future__ import annotations

from typing import Any

import pytest

from sprintboard.tools.chat_rows import (
    Format,
    Problem,
    Turns,
    canonical_key,
    check_row,
    conversation_key,
    detect_format,
    joined_text,
)

Q = {"role": "user", "content": "q"}
A = {"role": "assistant", "content": "a"}
CALL = {"role": "assistant", "content": None, "tool_calls": [{"name": "f"}]}


def _chat(*msgs: Any, **extra: Any) -> dict[str, Any]:
    return {"messages": list(msgs), **extra}


# (row, the file's format) -> (turns, problems)
ROWS: list[tuple[Any, Format, Turns | None, list[Problem]]] = [
    ([Q], "messages", None, [("not_object", "row is a JSON list, not an object")]),
    (_chat(Q, A), "messages", [("user", "q"), ("assistant", "a")], []),
    (
        _chat(Q, A, tools=[]),
        "messages",
        [("user", "q"), ("assistant", "a")],
        [],
    ),
    (
        _chat(Q, A, meta=1),
        "messages",
        [("user", "q"), ("assistant", "a")],
        [("extra_keys", "extra keys ['meta']")],
    ),
    ({"messages": "q"}, "messages", None, [("wrong_type", "messages is str, not a list")]),
    (_chat(1), "messages", None, [("wrong_type", "messages[0] is int, not an object")]),
    (_chat(Q, A, 3), "messages", None, [("wrong_type", "messages[2] is int, not an object")]),
    (_chat({"content": "q"}), "messages", None, [("missing_role", "messages[0] has no role")]),
    (_chat({"role": 5}), "messages", None, [("wrong_type", "messages[0].role is int")]),
    (_chat(Q, {"role": ["user"]}), "messages", None, [("wrong_type", "messages[1].role is list")]),
    (_chat(Q, {"role": "bot"}), "messages", None, [("unknown_role", "messages[1].role is 'bot'")]),
    (
        _chat({"role": "user", "content": 5}),
        "messages",
        None,
        [("wrong_type", "messages[0].content is int")],
    ),
    (
        _chat({"role": "user", "content": None}),
        "messages",
        None,
        [("wrong_type", "messages[0].content is NoneType")],
    ),
    (
        _chat({"role": "user", "content": 5, "tool_calls": [{}]}),
        "messages",
        None,
        [("wrong_type", "messages[0].content is int")],
    ),
    (
        _chat(Q, {**CALL, "role": "user"}, A),
        "messages",
        None,
        [("wrong_type", "messages[1].content is NoneType")],
    ),
    # a tool-calling assistant turn may carry no text
    (_chat(Q, CALL), "messages", [("user", "q"), ("assistant", "")], []),
    (_chat(Q, {**CALL, "content": " "}), "messages", [("user", "q"), ("assistant", " ")], []),
    (
        _chat(Q, {**A, "content": ""}),
        "messages",
        [("user", "q"), ("assistant", "")],
        [("empty_assistant", "messages[1] (assistant) has empty content")],
    ),
    (
        _chat({**Q, "content": " \n"}, A),
        "messages",
        [("user", " \n"), ("assistant", "a")],
        [("empty_content", "messages[0] (user) has empty content")],
    ),
    (
        _chat(A, Q, Q),
        "messages",
        [("assistant", "a"), ("user", "q"), ("user", "q")],
        [
            ("alternation", "messages[0] is 'assistant' first"),
            ("alternation", "messages[2] is 'user' after 'user'"),
        ],
    ),
    (_chat(Q), "messages", [("user", "q")], [("no_assistant", "no assistant turn to train on")]),
    (
        {"text": "t"},
        "messages",
        None,
        [("format_mismatch", "row is 'text' but the file is 'messages'")],
    ),
    (
        {"prompt": "p", "completion": "c"},
        "prompt_completion",
        [("user", "p"), ("assistant", "c")],
        [],
    ),
    (
        {"prompt": "", "completion": " "},
        "prompt_completion",
        [("user", ""), ("assistant", " ")],
        [("empty_assistant", "completion is empty"), ("empty_content", "prompt is empty")],
    ),
    (
        {"prompt": 1, "completion": None},
        "prompt_completion",
        [("user", ""), ("assistant", "")],
        [("wrong_type", "prompt is int, not a string"), ("missing_key", "no 'completion' key")],
    ),
    (
        {"prompt": "p"},
        "prompt_completion",
        None,
        [("unknown_format", "keys ['prompt'] match no known format")],
    ),
    (
        {"completion": "c", "x": 1},
        "prompt_completion",
        None,
        [("unknown_format", "keys ['completion', 'x'] match no known format")],
    ),
    (
        {"prompt": "p", "completion": "c", "x": 1},
        "prompt_completion",
        [("user", "p"), ("assistant", "c")],
        [("extra_keys", "extra keys ['x']")],
    ),
    (
        {"instruction": "i", "input": "x", "output": "o"},
        "instruction",
        [("user", "i\n\nx"), ("assistant", "o")],
        [],
    ),
    (
        {"instruction": "i", "input": " ", "output": "o"},
        "instruction",
        [("user", "i"), ("assistant", "o")],
        [],
    ),
    (
        {"instruction": " ", "output": ""},
        "instruction",
        [("user", " "), ("assistant", "")],
        [("empty_assistant", "output is empty"), ("empty_content", "instruction is empty")],
    ),
    (
        {"instruction": None, "input": 3, "output": 4},
        "instruction",
        [("user", ""), ("assistant", "")],
        [
            ("missing_key", "no 'instruction' key"),
            ("wrong_type", "input is int, not a string"),
            ("wrong_type", "output is int, not a string"),
        ],
    ),
    (
        {"instruction": "i"},
        "instruction",
        None,
        [("unknown_format", "keys ['instruction'] match no known format")],
    ),  # fmt: skip
    (
        {"output": "o"},
        "instruction",
        None,
        [("unknown_format", "keys ['output'] match no known format")],
    ),  # fmt: skip
    ({"text": "t"}, "text", [("text", "t")], []),
    ({"text": " "}, "text", [("text", " ")], [("empty_content", "text is empty")]),
    ({"text": 2}, "text", [("text", "")], [("wrong_type", "text is int, not a string")]),
    ({"text": None}, "text", [("text", "")], [("missing_key", "no 'text' key")]),
]


@pytest.mark.parametrize(("row", "fmt", "turns", "problems"), ROWS)
def test_a_row_gives_its_turns_and_every_problem(
    row: Any, fmt: Format, turns: Turns | None, problems: list[Problem]
) -> None:
    found: list[Problem] = []
    assert (check_row(row, fmt, found), found) == (turns, problems)


@pytest.mark.parametrize(
    ("row", "fmt"),
    [
        ({"messages": []}, "messages"),
        ({"prompt": "p", "completion": "c", "text": "t"}, "prompt_completion"),
        ({"instruction": "i", "output": "o", "text": "t"}, "instruction"),
        ({"text": "t", "prompt": "p"}, "text"),
        ({"prompt": "p"}, None),
        ({"instruction": "i", "input": "x"}, None),
        ([1], None),
    ],
)
def test_the_format_needs_all_of_its_keys(row: Any, fmt: Format | None) -> None:
    assert detect_format(row) == fmt


def test_keys_are_roles_and_contents_stripped_or_folded() -> None:
    roles, contents = ["user", "assistant"], [" a  b\n", "c\t d"]
    assert conversation_key(roles, contents) == b'[["user","assistant"],["a  b","c\\t d"]]'
    folded = b'[["user","assistant"],["a b","c d"]]'
    assert conversation_key(roles, contents, normalize_whitespace=True) == folded
    turns = list(zip(roles, contents, strict=True))
    assert canonical_key(turns) == conversation_key(roles, contents)
    assert canonical_key(turns, normalize_whitespace=True) == folded


def test_near_duplicate_text_is_the_contents_one_per_line() -> None:
    assert joined_text([("user", "a b"), ("assistant", "c")]) == "a b\nc"
