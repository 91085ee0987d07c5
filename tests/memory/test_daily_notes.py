"""Daily notes read and appended on their own: markers, people's headings and blockers, the
newest standup, and appends that never touch what is there."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from sprintboard.errors import MemoryFileError
from sprintboard.memory.daily_notes import (
    END_MARKER,
    NoteBlocker,
    StandupMarker,
    append_text,
    daily_note_path,
    latest_standup,
    note_dates,
    read_daily_note,
    read_text,
    standup_marker,
)

NOTE = """\
# 2026-11-23

Free text first, under no heading: T1 is blocked (not a blocker: no heading yet).

## Blockers
- T1 waits on T2.
- [x] T3 was blocked (done)
- ~~T4 blocked~~
- [ ] T5: needs a GPU
* T6, T7 and T99 (T99 unknown)
- nothing known here

## Evening Review
- T8 is blocked by legal
- T9 is going well
### Sub heading
- T10 block on data

<!-- sprintboard:standup date=2026-11-23 seq=42 since=17 -->
## Standup 2026-11-23
### Blocked
- T11 blocked: ignored, it is ours
<!-- sprintboard:standup-end -->

## Notes ##
- T12 blocked, but not under a blocker heading
"""

KNOWN = [f"T{i}" for i in range(1, 13)]


def test_a_note_gives_its_markers_headings_and_open_blockers(tmp_path: Path) -> None:
    path = tmp_path / "2026-11-23.md"
    path.write_text(NOTE, encoding="utf-8")
    note = read_daily_note(path, KNOWN)
    assert note.markers == [StandupMarker(path, 19, "2026-11-23", 42, 17)]
    assert note.sections == ["2026-11-23", "Blockers", "Evening Review", "Sub heading", "Notes"]
    assert note.blockers == [
        NoteBlocker(path, 6, "Blockers", "T1 waits on T2.", ("T1", "T2")),
        NoteBlocker(path, 9, "Blockers", "T5: needs a GPU", ("T5",)),
        NoteBlocker(path, 10, "Blockers", "T6, T7 and T99 (T99 unknown)", ("T6", "T7")),
        NoteBlocker(path, 14, "Evening Review", "T8 is blocked by legal", ("T8",)),
        NoteBlocker(path, 17, "Sub heading", "T10 block on data", ("T10",)),
    ]
    assert read_daily_note(path).blockers == []  # no known tasks: nothing can be named


def test_a_heading_at_the_same_or_a_higher_level_closes_the_one_above(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_text(
        "## Blocked work\n### Details\n- T1 one\n## Plans\n- T2 two\n#### Deep\n- T3 blocked\n",
        encoding="utf-8",
    )
    note = read_daily_note(path, ["T1", "T2", "T3"])
    assert [(b.line, b.section, b.tasks) for b in note.blockers] == [(3, "Details", ("T1",))]


def test_an_unterminated_standup_hides_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_text(
        "## Blockers\n" + standup_marker("2026-01-02", 5, 0) + "\n- T1 blocked\n", encoding="utf-8"
    )
    note = read_daily_note(path, ["T1"])
    assert (note.blockers, [m.seq for m in note.markers]) == ([], [5])


def test_marker_lines_and_note_paths() -> None:
    assert standup_marker("2026-11-23", 42, 17) == (
        "<!-- sprintboard:standup date=2026-11-23 seq=42 since=17 -->"
    )
    assert daily_note_path(Path("memory"), date(2026, 1, 2)) == Path("memory/2026-01-02.md")


def test_note_dates_are_the_daily_note_files_oldest_first(tmp_path: Path) -> None:
    assert note_dates(tmp_path / "missing") == []
    for name in ("2026-11-23.md", "2026-01-05.md", "notes.md", "2026-11-23.txt", "x2026-01-01.md"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "2026-02-02.md").mkdir()
    assert note_dates(tmp_path) == ["2026-01-05", "2026-11-23"]


def test_read_text_takes_a_bom_and_names_the_first_bad_byte(tmp_path: Path) -> None:
    assert read_text(tmp_path / "none.md") == ""
    path = tmp_path / "n.md"
    path.write_bytes("\ufeffcafé".encode())
    assert read_text(path) == "café"
    path.write_bytes(b"ok\nline two\nbad \xe9 byte\n")
    with pytest.raises(MemoryFileError) as err:
        read_text(path)
    assert str(err.value).startswith(f"{path}:3: not UTF-8 (byte 0xe9 at offset 16)")


def _standup(day: str, seq: int, body: str) -> str:
    return f"{standup_marker(day, seq, 0)}\n{body}\n{END_MARKER}\n"


def test_latest_standup_is_the_last_block_of_the_newest_note_that_has_one(
    tmp_path: Path,
) -> None:
    assert latest_standup(tmp_path) is None
    (tmp_path / "2026-01-01.md").write_text(
        _standup("2026-01-01", 1, "old") + _standup("2026-01-01", 2, "newer") + "after\n",
        encoding="utf-8",
    )
    (tmp_path / "2026-01-02.md").write_text("people only\n", encoding="utf-8")
    assert latest_standup(tmp_path) == _standup("2026-01-01", 2, "newer")
    (tmp_path / "2026-01-03.md").write_text(
        f"x\n{standup_marker('2026-01-03', 3, 2)}\ncut short", encoding="utf-8"
    )
    assert latest_standup(tmp_path) == f"{standup_marker('2026-01-03', 3, 2)}\ncut short\n"


def test_append_starts_a_new_note_with_its_title(tmp_path: Path) -> None:
    path = tmp_path / "memory" / "2026-01-01.md"
    append_text(path, "body\n", title="2026-01-01")
    assert path.read_text(encoding="utf-8") == "# 2026-01-01\n\nbody\n"
    other = tmp_path / "memory" / "untitled.md"
    append_text(other, "body\n")
    assert other.read_text(encoding="utf-8") == "body\n"


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (b"last line", b"last line\n\nnew\n"),
        (b"last line\n", b"last line\n\nnew\n"),
        (b"last line\n\n", b"last line\n\nnew\n"),
        (b"a\r\nb", b"a\r\nb\r\n\r\nnew\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n\r\nnew\r\n"),
        (b"a\r\nb\r\n\r\n", b"a\r\nb\r\n\r\nnew\r\n"),
    ],
)
def test_append_keeps_every_byte_and_the_line_endings(
    tmp_path: Path, existing: bytes, expected: bytes
) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(existing)
    append_text(path, "new\n", title="ignored for an existing note")
    assert path.read_bytes() == expected


def test_append_refuses_a_note_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(MemoryFileError):
        append_text(path, "new\n")
    assert path.read_bytes() == b"\xff\xfe"


def test_blocker_lines_need_no_bullet_and_only_a_whole_strike_resolves_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "n.md"
    path.write_text(
        "## Blockers\n"
        "T1 waits on the GPU\n"
        "- ~~T2 blocked~~.\n"
        "- ~~T3~~ fixed, but T4 still blocked\n"
        "- ~~T5 blocked~~ T6\n",
        encoding="utf-8",
    )
    note = read_daily_note(path, [f"T{i}" for i in range(1, 7)])
    assert note.path == path
    assert [(b.line, b.text, b.tasks) for b in note.blockers] == [
        (2, "T1 waits on the GPU", ("T1",)),
        (4, "~~T3~~ fixed, but T4 still blocked", ("T3", "T4")),
        (5, "~~T5 blocked~~ T6", ("T5", "T6")),
    ]


def test_append_writes_the_notes_line_endings_whatever_the_text_has(tmp_path: Path) -> None:
    lf, crlf = tmp_path / "lf.md", tmp_path / "crlf.md"
    lf.write_bytes(b"a\n")
    crlf.write_bytes(b"a\r\n")
    for path in (lf, crlf):
        append_text(path, "b\r\nc\n")
    assert lf.read_bytes() == b"a\n\nb\nc\n"
    assert crlf.read_bytes() == b"a\r\n\r\nb\r\nc\r\n"


def test_append_makes_missing_folders_and_a_file_others_may_read(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "memory" / "2026-01-01.md"
    old = os.umask(0o022)
    try:
        append_text(path, "body\n")
    finally:
        os.umask(old)
    assert path.read_text(encoding="utf-8") == "body\n"
    assert path.stat().st_mode & 0o777 == 0o644
