"""The Maildir: atomic delivery, one winner per claim, crash left-overs, seen ids on disk."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sprintboard.a2a.maildir import Maildir
from sprintboard.a2a.seen import SeenIds


def test_each_message_is_claimed_by_exactly_one_reader(tmp_path: Path) -> None:
    box = Maildir(tmp_path / "alpha")
    names = [f"beta-{i:04d}.json" for i in range(300)]
    assert box.deliver_many([(n, b"{}") for n in names]) == 300
    assert box.deliver(names[0], b"again") is False  # a redelivery never replaces a message
    taken: list[list[str]] = [[], []]

    def reader(mine: list[str]) -> None:
        for name in Maildir(tmp_path / "alpha").pending():
            if box.claim(name):
                mine.append(name)

    threads = [threading.Thread(target=reader, args=(t,)) for t in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken[0] + taken[1]) == names
    assert not set(taken[0]) & set(taken[1])
    assert box.left_over() == names and box.pending() == []
    assert list((tmp_path / "alpha" / "inbox" / "tmp").iterdir()) == []


def test_seen_ids_survive_a_restart_and_are_pruned_after_expiry(tmp_path: Path) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    seen = SeenIds(tmp_path / "seen.log")
    seen.add("beta-1", now + timedelta(seconds=60))
    seen.add("beta-2", now + timedelta(seconds=600))
    assert "beta-1" not in SeenIds(tmp_path / "seen.log")  # not flushed: not promised yet
    seen.flush()
    again = SeenIds(tmp_path / "seen.log")
    assert "beta-1" in again and "beta-2" in again
    assert again.prune(now + timedelta(seconds=61)) == 1
    assert "beta-1" not in again and "beta-2" in again
