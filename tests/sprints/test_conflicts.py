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
