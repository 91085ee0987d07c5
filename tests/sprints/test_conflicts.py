"""Git conflict markers are found on every line they are on, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from sprintboard.errors import SprintFileError
from sprintboard.sprints.conflicts import find_conflict_markers, refuse_conflicts

MERGED = """\
{
<<<<<<< HEAD
  "status": "ready",
||||||| base
  "status": "blocked",
=======
  "status": "done",
>>>>>>> origin/main
}
"""


def test_every_marker_line_is_named() -> None:
    assert [m.line for m in find_conflict_markers(MERGED)] == [2, 4, 6, 8]
    with pytest.raises(SprintFileError, match=r"line\(s\) 2, 4, 6, 8") as info:
        refuse_conflicts(MERGED, Path("SPRINT_QUEUE.json"))
    assert info.value.line == 2


def test_markdown_underlines_are_not_markers() -> None:
    text = "Title\n=======\n\ntext with <<<<<<< inside\n"
    assert find_conflict_markers(text) == []
    refuse_conflicts(text, Path("x.md"))


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028"])
def test_markers_are_found_whatever_ends_the_lines(newline: str) -> None:
    """The whole-text pre-check must never hide a marker the line scan would name."""
    text = MERGED.replace("\n", newline)
    assert [m.line for m in find_conflict_markers(text)] == [2, 4, 6, 8]
    assert [m.line for m in find_conflict_markers(f"a{newline}>>>>>>> x{newline}")] == [2]
    assert [m.line for m in find_conflict_markers(f"a{newline}||||||| x{newline}")] == [2]
