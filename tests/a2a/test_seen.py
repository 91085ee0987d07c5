"""Handled message ids: kept until expiry + skew, shared by the processes of one host, and
still there after a prune or a compaction (a replay inside its window is always caught)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sprintboard.a2a.seen import SeenIds

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LIVE = NOW + timedelta(hours=1)
STALE = NOW - timedelta(seconds=1)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_ids_are_durable_after_flush_and_only_then(tmp_path: Path) -> None:
    path = tmp_path / "seen.txt"
    seen = SeenIds(path)
    seen.add("beta-1", LIVE)
    assert "beta-1" in seen and "beta-1" not in SeenIds(path)  # buffered, not yet written
    seen.flush()
    seen.flush()  # nothing new: nothing written twice
    assert _lines(path) == [f"beta-1 {LIVE.timestamp():.3f}"]
    again = SeenIds(path)
    assert "beta-1" in again and len(again) == 1 and "beta-2" not in again


def test_a_host_counts_its_own_lines_once(tmp_path: Path) -> None:
    """After a flush the reader does not read its own lines back as new ones: 600 lines a
    third stale is not "mostly stale", so the file is left as it is. (Counted twice, the
    second batch would make 1100 lines of which 400 live, and the file would be rewritten.)"""
    path = tmp_path / "seen.txt"
    seen = SeenIds(path)
    for i in range(100):
        seen.add(f"beta-first-{i}", LIVE)
    seen.flush()
    assert "beta-unknown" not in seen  # the reader now knows the file (its inode, its end)
    for i in range(300):
        seen.add(f"beta-old-{i}", LIVE)
    for i in range(200):
        seen.add(f"beta-gone-{i}", STALE)
    seen.flush()
    for i in range(3):
        assert f"beta-unknown-{i}" not in seen  # each miss looks for other processes' lines
    assert seen.prune(NOW) == 200
    assert len(_lines(path)) == 600 and len(seen) == 400


def test_a_mostly_stale_file_is_compacted_to_the_live_ids(tmp_path: Path) -> None:
    path = tmp_path / "seen.txt"
    seen = SeenIds(path)
    for i in range(1200):
        seen.add(f"beta-{i}", LIVE if i % 3 == 0 else STALE)
    assert seen.prune(NOW) == 800  # the unflushed ids are written before the rewrite
    assert len(_lines(path)) == 400 and len(seen) == 400
    reopened = SeenIds(path)
    assert len(reopened) == 400 and "beta-0" in reopened and "beta-1" not in reopened
    seen.add("beta-new", LIVE)
    seen.flush()
    assert "beta-new" in reopened and len(_lines(path)) == 401


def test_an_id_is_kept_until_the_end_of_its_window(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "seen.txt")
    seen.add("beta-1", NOW)
    seen.flush()
    assert seen.prune(NOW) == 0 and "beta-1" in seen  # at the last moment it is still kept
    assert seen.prune(NOW + timedelta(milliseconds=1)) == 1 and "beta-1" not in seen


def test_two_processes_see_each_others_ids(tmp_path: Path) -> None:
    path = tmp_path / "seen.txt"
    daemon, endpoint = SeenIds(path), SeenIds(path)
    daemon.add("beta-1", LIVE)
    daemon.flush()
    endpoint.add("beta-2", LIVE)
    endpoint.flush()
    assert "beta-1" in endpoint and "beta-2" in daemon
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"beta-3 {LIVE.timestamp():.3f}\nbeta-4 {LIVE.timestamp():.0f}")  # torn tail
    assert "beta-3" in daemon and "beta-4" not in daemon
    with path.open("a", encoding="utf-8") as fh:
        fh.write("000\nnot a line\nbeta-5 soon\n")
    assert "beta-4" in daemon and "beta-5" not in daemon and len(daemon) == 4


def test_a_replay_is_caught_after_another_process_compacted_the_file(tmp_path: Path) -> None:
    """The compacted file can grow past where this reader stopped; it must still be read
    from its start, or ids the other process handled meanwhile would be missed."""
    path = tmp_path / "seen.txt"
    daemon = SeenIds(path)
    for i in range(1000):
        daemon.add(f"beta-old-{i}", STALE)
    daemon.add("beta-live", LIVE)
    daemon.flush()
    endpoint = SeenIds(path)
    endpoint.add("beta-handled-by-endpoint", LIVE)
    endpoint.flush()
    assert endpoint.prune(NOW) == 1000  # compacted: two lines left
    assert len(_lines(path)) == 2
    for i in range(2000):  # busy: the file grows well past the daemon's old offset
        endpoint.add(f"beta-new-{i}", LIVE)
    endpoint.flush()
    assert "beta-handled-by-endpoint" in daemon
    assert "beta-live" in daemon and "beta-new-0" in daemon and "beta-new-1999" in daemon


def test_ids_another_process_appended_survive_a_compaction(tmp_path: Path) -> None:
    path = tmp_path / "seen.txt"
    daemon, endpoint = SeenIds(path), SeenIds(path)
    for i in range(1100):
        daemon.add(f"beta-old-{i}", STALE)
    daemon.flush()
    endpoint.add("beta-handled-by-endpoint", LIVE)
    endpoint.flush()
    assert daemon.prune(NOW) == 1100
    assert _lines(path) == [f"beta-handled-by-endpoint {LIVE.timestamp():.3f}"]
    assert "beta-handled-by-endpoint" in SeenIds(path)  # a restart still knows it


def test_a_file_replaced_or_rewritten_in_place_is_read_again_whole(tmp_path: Path) -> None:
    """Compaction renames a new file over the old one; a restore (`cp`) rewrites it in
    place. Either way lines this reader never saw may now sit before where it stopped."""
    path = tmp_path / "seen.txt"
    until = f"{LIVE.timestamp():.3f}"
    path.write_text(f"beta-a {until}\nbeta-t {until}\n", encoding="utf-8")
    reader = SeenIds(path)
    swapped = tmp_path / "new.txt"
    swapped.write_text(f"beta-b {until}\nbeta-t {until}\n", encoding="utf-8")  # same length
    swapped.replace(path)
    assert "beta-b" in reader
    with path.open("w", encoding="utf-8") as fh:  # same inode, other bytes, longer
        fh.write(f"beta-c {until}\nbeta-d {until}\nbeta-e {until}\n")
    assert "beta-c" in reader and "beta-e" in reader


def test_lines_another_process_appends_during_a_flush_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between this flush's catch-up and its write another process appends: reading must
    go on before that line, not after this flush's own."""
    path = tmp_path / "seen.txt"
    daemon, endpoint = SeenIds(path), SeenIds(path)
    daemon.add("beta-first", LIVE)
    daemon.flush()
    assert "beta-unknown" not in endpoint  # the endpoint has read the file to its end
    caught_up = endpoint._catch_up

    def then_the_daemon_appends() -> None:
        caught_up()
        daemon.add("beta-by-daemon", LIVE)
        daemon.flush()

    monkeypatch.setattr(endpoint, "_catch_up", then_the_daemon_appends)
    endpoint.add("beta-by-endpoint", LIVE)
    endpoint.flush()
    monkeypatch.undo()
    assert _lines(path)[1].startswith("beta-by-daemon ")
    assert "beta-by-daemon" in endpoint and len(endpoint) == 3


@pytest.mark.parametrize(
    ("lines", "live", "compacted"),
    [
        (10, 2, False),  # mostly stale, but small: left as it is
        (1000, 0, False),  # not more than 1000 lines
        (1001, 0, True),
        (1001, 500, False),  # 500 live of 1001 is not fewer than half (1001 // 2)
        (1001, 499, True),
        (1002, 501, False),
    ],
)
def test_a_file_is_compacted_past_1000_lines_when_fewer_than_half_are_live(
    tmp_path: Path, lines: int, live: int, compacted: bool
) -> None:
    path = tmp_path / "seen.txt"
    seen = SeenIds(path)
    for i in range(lines):
        seen.add(f"beta-{i}", LIVE if i < live else STALE)
    assert seen.prune(NOW) == lines - live
    assert len(_lines(path)) == (live if compacted else lines)


def test_ids_read_again_whole_before_a_compaction_stay_pruned(tmp_path: Path) -> None:
    """A file replaced since the last read is read whole before the rewrite: the stale ids
    it brings back are dropped again, not written into the compacted file."""
    path = tmp_path / "seen.txt"
    seen = SeenIds(path)
    for i in range(1200):
        seen.add(f"beta-{i}", LIVE if i % 3 == 0 else STALE)
    seen.flush()
    copy = tmp_path / "copy.txt"
    copy.write_bytes(path.read_bytes())
    copy.replace(path)  # the same lines in a new file (a restore from a backup)
    assert seen.prune(NOW) == 800
    assert len(_lines(path)) == 400 and len(SeenIds(path)) == 400


def test_the_file_is_private_to_the_host(tmp_path: Path) -> None:
    path = tmp_path / "seen.txt"
    seen = SeenIds(path)
    seen.add("beta-1", LIVE)
    seen.flush()
    assert path.stat().st_mode & 0o777 == 0o600


def _write_ids(path: Path, live: int, stale: int) -> None:
    """Lines another process wrote: `live` ids, then `stale` ones."""
    times = [LIVE] * live + [STALE] * stale
    body = "".join(f"beta-{i} {t.timestamp():.3f}\n" for i, t in enumerate(times))
    path.write_text(body, encoding="utf-8")


@pytest.mark.parametrize(("live", "stale", "compacted"), [(400, 600, False), (400, 601, True)])
def test_a_reader_counts_the_lines_it_read_once(
    tmp_path: Path, live: int, stale: int, compacted: bool
) -> None:
    path = tmp_path / "seen.txt"
    _write_ids(path, live, stale)
    reader = SeenIds(path)  # read whole: 1000 (or 1001) lines, each counted once
    assert reader.prune(NOW) == stale
    assert len(_lines(path)) == (live if compacted else live + stale)


def test_a_file_compacted_to_nothing_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "seen.txt"
    reader = SeenIds(path)
    writer = SeenIds(path)
    for i in range(1001):
        writer.add(f"beta-{i}", STALE)
    assert writer.prune(NOW) == 1001 and path.read_bytes() == b""  # compacted to empty
    assert "beta-0" not in reader and "beta-0" not in reader  # read again, then from 0
    writer.add("beta-new", LIVE)
    writer.flush()
    assert "beta-new" in reader


def test_a_file_rewritten_in_place_after_our_own_flush_is_read_again_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "seen.txt"
    seen = SeenIds(path)
    until = f"{LIVE.timestamp():.3f}"
    seen.add("beta-a", LIVE)
    seen.add("beta-b", LIVE)
    seen.flush()  # this reader stops after its own last line
    with path.open("r+", encoding="utf-8") as fh:  # same inode: a restore (`cp`) over it
        fh.write(f"beta-c {until}\nbeta-d {until}\nbeta-e {until}\n")
    assert "beta-c" in seen and "beta-e" in seen


def test_a_damaged_line_does_not_hide_the_ids_after_it(tmp_path: Path) -> None:
    path = tmp_path / "seen.txt"
    until = f"{LIVE.timestamp():.3f}".encode()
    path.write_bytes(b"beta-a " + until + b"\nbeta-\xff x\nbeta-b soon\nbeta-c " + until + b"\n")
    seen = SeenIds(path)
    assert "beta-a" in seen and "beta-c" in seen and len(seen) == 2


def test_the_folder_of_the_file_is_made(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "ws" / ".sprintboard" / "seen.txt")
    seen.add("beta-a", LIVE)
    seen.flush()
    assert "beta-a" in SeenIds(tmp_path / "ws" / ".sprintboard" / "seen.txt")


def test_a_reader_reads_on_where_it_stopped_and_pruned_ids_stay_pruned(tmp_path: Path) -> None:
    """Lines past their window stay in a file too small to compact; a reader that read the
    file whole again would bring them back."""
    path = tmp_path / "seen.txt"
    writer, reader = SeenIds(path), SeenIds(path)
    writer.add("beta-old", STALE)
    writer.add("beta-1", LIVE)
    writer.flush()
    assert "beta-1" in reader and reader.prune(NOW) == 1
    for name in ("beta-2", "beta-3", "beta-4"):
        writer.add(name, LIVE)
        writer.flush()
        assert name in reader
    assert len(reader) == 4 and "beta-old" in _lines(path)[0]
