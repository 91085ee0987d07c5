"""The Journal class on its own: the bytes of `events.jsonl` in, lines, heads and offsets out.

The board tests reach these paths through LocalBoard; here each edge is pinned directly:
where a torn tail starts, the line a head names (lines longer than the read window too),
what a set-aside keeps, and which heads count as unreadable.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from sprintboard.board.journal import Head, Journal, encode_event, line_hash
from sprintboard.board.models import Event
from sprintboard.errors import JournalCorrupt, JournalRolledBack


def _event(seq: int, prev: str | None, text: str = "n") -> bytes:
    return encode_event(
        Event(
            seq=seq,
            id=f"alpha:{seq}",
            ts="2026-01-01T00:00:00.000Z",
            actor="human:ana",
            op="note.add",
            task=None,
            fields={"text": text},
            fence=None,
            prev=prev,
        )
    )


def _lines(*texts: str) -> list[bytes]:
    out: list[bytes] = []
    prev = None
    for seq, text in enumerate(texts, start=1):
        out.append(_event(seq, prev, text))
        prev = line_hash(out[-1])
    return out


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "sprints" / "events.jsonl", tmp_path / "head.json")


def _write(journal: Journal, lines: list[bytes], tail: bytes = b"") -> bytes:
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(line + b"\n" for line in lines) + tail
    journal.path.write_bytes(data)
    return data


def test_a_torn_tail_starts_where_the_last_newline_ends(journal: Journal) -> None:
    lines = _lines("a", "b")
    data = _write(journal, lines, tail=b'{"v":1,"seq":3')
    whole = len(lines[0]) + len(lines[1]) + 2
    read = journal.read()
    assert [line.event.seq for line in read.lines] == [1, 2]
    assert [line.end for line in read.lines] == [len(lines[0]) + 1, whole]
    assert (read.torn, read.torn_at) == (b'{"v":1,"seq":3', whole)
    assert read.lines[1].raw == lines[1] and read.lines[1].hash == line_hash(lines[1])
    later = journal.read(len(lines[0]) + 1, seq=1, prev=line_hash(lines[0]))
    assert [line.event.seq for line in later.lines] == [2]
    assert (later.torn, later.torn_at) == (b'{"v":1,"seq":3', whole)
    _write(journal, lines)
    clean = journal.read()
    assert (clean.torn, clean.torn_at) == (b"", whole)
    assert journal.read(whole, seq=2, prev=line_hash(lines[1])).torn_at == whole
    assert len(data) == whole + len(b'{"v":1,"seq":3')


def test_a_missing_journal_reads_as_nothing_from_any_offset(journal: Journal) -> None:
    read = journal.read(17, seq=3)
    assert (read.lines, read.torn, read.torn_at) == ([], b"", 17)
    assert journal.size() == 0 and journal.event_ids() == set()


def test_set_aside_keeps_the_torn_bytes_and_cuts_the_journal_there(
    journal: Journal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = _lines("a")
    _write(journal, lines, tail=b'{"v":1,"se')
    torn_at = len(lines[0]) + 1
    into = tmp_path / "deep" / "torn"  # its parents are made too
    kept = journal.set_aside(b'{"v":1,"se', torn_at, into)
    assert kept == into / f"events.torn-at-{torn_at}.bin"
    assert kept.read_bytes() == b'{"v":1,"se'
    assert journal.path.read_bytes() == lines[0] + b"\n"
    assert caplog.messages == [
        f"{journal.path}: a torn last line (10 bytes, crash mid-append) was set aside in {kept}"
    ]
    again = journal.set_aside(b"x", torn_at - 1, into)  # the folder is there already
    assert again.name == f"events.torn-at-{torn_at - 1}.bin"


@pytest.mark.parametrize("length", [10, 4095, 4096, 5000, 20_000, 70_000])
def test_the_head_line_is_found_whatever_its_length(journal: Journal, length: int) -> None:
    """The last line is read backwards in windows of 4 KiB, 16 KiB, 64 KiB...; a line that
    starts the file has no newline before it."""
    for first in (True, False):
        texts = ["x" * length] if first else ["short", "x" * length]
        lines = _lines(*texts)
        data = _write(journal, lines)
        assert journal.hash_of_line_ending_at(len(data)) == line_hash(lines[-1])
        if not first:
            assert journal.hash_of_line_ending_at(len(lines[0]) + 1) == line_hash(lines[0])
    lines = _lines("x" * length, "y", "z")  # a line ending far from the file's start or end
    _write(journal, lines)
    end = len(lines[0]) + len(lines[1]) + 2
    assert journal.hash_of_line_ending_at(end) == line_hash(lines[1])


def test_a_head_offset_that_ends_no_line_finds_no_line(journal: Journal) -> None:
    lines = _lines("a", "b")
    data = _write(journal, lines)
    assert journal.hash_of_line_ending_at(0) is None
    assert journal.hash_of_line_ending_at(-1) is None
    assert journal.hash_of_line_ending_at(len(data) - 1) is None  # mid-line
    assert journal.hash_of_line_ending_at(len(data) + 1) is None  # past the end
    assert journal.hash_of_line_ending_at(1) is None


def test_a_head_the_journal_no_longer_has_is_a_rollback(journal: Journal) -> None:
    lines = _lines("a", "b")
    data = _write(journal, lines)
    journal.check_head(Head(0, "", 0))  # an empty board has nothing to check
    journal.check_head(Head(2, line_hash(lines[1]), len(data)))
    with pytest.raises(JournalRolledBack) as err:
        journal.check_head(Head(2, "f" * 16, len(data)))
    assert (err.value.path, err.value.expected, err.value.found) == (
        journal.path,
        f"seq 2 ({'f' * 16})",
        f"line hash {line_hash(lines[1])}",
    )
    with pytest.raises(JournalRolledBack) as err:
        journal.check_head(Head(2, line_hash(lines[1]), len(data) - 1))
    assert err.value.found == "line hash None"


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"hash": "x", "offset": 3}',
        '{"seq": "2", "hash": "x", "offset": 3}',
        '{"seq": 2, "hash": "x", "offset": "3"}',
        "[1, 2]",
    ],
)
def test_an_unreadable_head_is_none_and_said_so(
    journal: Journal, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    journal.head_path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert journal.load_head() is None
    assert caplog.messages == [
        f"{journal.head_path} is unreadable; verifying the whole journal instead"
    ]


def test_a_head_round_trips_with_the_prefix_and_snapshot_digests(journal: Journal) -> None:
    assert journal.load_head() is None  # none yet: nothing to say
    lines = _lines("a", "b")
    journal.path.parent.mkdir(parents=True)
    end = journal.append(lines, 0)
    assert end == journal.size() == sum(len(x) + 1 for x in lines)
    journal.store_head(Head(2, line_hash(lines[1]), end), snapshot="s" * 8)
    head = journal.load_head()
    assert head is not None
    assert (head.seq, head.hash, head.offset, head.snapshot) == (
        2,
        line_hash(lines[1]),
        end,
        "s" * 8,
    )
    assert head.prefix == Journal(journal.path, journal.head_path).prefix_digest(end)
    assert orjson.loads(journal.head_path.read_bytes())["prefix"] == head.prefix


def test_event_ids_take_the_id_field_of_every_line(journal: Journal) -> None:
    lines = _lines("a", '"id":"not-this"')
    _write(journal, lines, tail=b'{"v":1,"seq":3,"id":"torn-1","ts')
    assert journal.event_ids() == {"alpha:1", "alpha:2", "torn-1"}


def test_the_prefix_check_of_a_recorded_head(journal: Journal) -> None:
    lines = _lines("a", "b")
    data = _write(journal, lines)
    digest = Journal(journal.path, journal.head_path).prefix_digest(len(data))
    journal.check_prefix(Head(2, line_hash(lines[1]), len(data), prefix=digest))
    journal.check_prefix(Head(2, line_hash(lines[1]), len(data)))  # an older head: no prefix
    journal.check_prefix(Head(0, "", 0, prefix="0" * 32))  # nothing before it
    # the lines still chain, yet the bytes differ from what was recorded: rewritten wholesale
    with pytest.raises(JournalRolledBack) as err:
        journal.check_prefix(Head(2, line_hash(lines[1]), len(data), prefix="0" * 32))
    assert (err.value.path, err.value.expected, err.value.found) == (
        journal.path,
        f"seq 2 ({line_hash(lines[1])}) after the lines this host wrote",
        "lines before it rewritten",
    )


def test_only_bytes_this_process_read_in_order_count_as_tracked(journal: Journal) -> None:
    data = _write(journal, _lines("a", "b"))
    journal.read()
    assert journal.tracked_prefix(len(data)) == journal.prefix_digest(len(data), reread=True)
    assert journal.tracked_prefix(len(data) - 1) is None


def test_a_header_of_the_wrong_type_is_named_with_its_value_cut_at_40(journal: Journal) -> None:
    from sprintboard.board.journal import header_problem

    line = orjson.loads(_lines("a")[0])
    assert header_problem(line) is None
    assert header_problem({**line, "actor": ["x" * 50]}) == (
        f"actor is {str(['x' * 50])[:40]!r}, of the wrong type"
    )


def test_an_empty_line_is_damage_not_a_torn_tail(journal: Journal) -> None:
    """Only bytes after the last newline are torn; an empty line before them is refused, or
    a set-aside would cut every line after it."""
    lines = _lines("a", "b")
    journal.path.parent.mkdir(parents=True)
    journal.path.write_bytes(lines[0] + b"\n\n" + lines[1] + b"\n")
    with pytest.raises(JournalCorrupt) as err:
        journal.read()
    assert err.value.line == 2 and err.value.reason.startswith("not valid JSON")
    with pytest.raises(JournalCorrupt) as err:  # read on from just after line 1
        journal.read(len(lines[0]) + 1, seq=1, prev=line_hash(lines[0]))
    assert err.value.line == 2
    journal.path.write_bytes(b"\n" + lines[0] + b"\n")
    with pytest.raises(JournalCorrupt) as err:
        journal.read()
    assert err.value.line == 1


def test_reading_on_extends_the_tracked_prefix_up_to_a_torn_tail(journal: Journal) -> None:
    lines = _lines("a", "b", "c")
    first = _write(journal, lines[:1])
    journal.read()
    whole = _write(journal, lines, tail=b'{"v":1,"se')  # two more lines and a torn one
    end = len(whole) - len(b'{"v":1,"se')
    read = journal.read(len(first), seq=1, prev=line_hash(lines[0]))
    assert read.torn_at == end
    assert journal.tracked_prefix(end) == Journal(journal.path, journal.head_path).prefix_digest(
        end
    )


def test_what_counts_as_a_rewrite_of_the_journal(journal: Journal, tmp_path: Path) -> None:
    """Appends make the file longer; the same size with a new mtime, another inode, or no
    file at all is a rewrite."""
    import os

    assert not journal.rewritten()  # never read: nothing to compare with
    data = _write(journal, _lines("a"))
    journal.read()
    assert not journal.rewritten()
    other = Journal(journal.path, journal.head_path)
    other.append(_lines("a", "b")[1:], len(data))  # another process appends
    assert not journal.rewritten()
    journal.read()
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(journal.path.read_bytes())
    copy.replace(journal.path)  # the same bytes in another file
    assert journal.rewritten()
    journal.read()
    st = journal.path.stat()
    os.utime(journal.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # edited in place
    assert journal.rewritten()
    journal.read()
    journal.path.unlink()
    assert journal.rewritten()


def test_the_prefix_digest_streams_a_journal_past_one_read(journal: Journal) -> None:
    """Hashed in 1 MiB reads: a prefix longer than one read, shorter than the file, and one
    longer than the file (all of it)."""
    import xxhash

    data = _write(journal, _lines(*(c * 300_000 for c in "abcde")))  # 1.5 MB
    for offset in (1 << 20, (1 << 20) + 12_345, len(data) - 7):
        expected = xxhash.xxh3_128(data[:offset]).hexdigest()
        assert Journal(journal.path, journal.head_path).prefix_digest(offset) == expected
    assert journal.prefix_digest(len(data) + 50) == xxhash.xxh3_128(data).hexdigest()


def test_only_the_append_that_creates_the_journal_syncs_its_folder(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sprintboard.board import journal as module

    synced: list[Path] = []
    monkeypatch.setattr(module, "fsync_dir", synced.append)
    journal.path.parent.mkdir(parents=True)
    lines = _lines("a", "b", "c")
    end = journal.append(lines[:1], 0)
    assert synced == [journal.path.parent]
    end = journal.append(lines[1:2], end)
    end = journal.append(lines[2:], end)
    assert synced == [journal.path.parent]
    # what this process appended in order is tracked: recording the head hashes no file
    assert journal.tracked_prefix(end) == Journal(journal.path, journal.head_path).prefix_digest(
        end
    )
