"""`BoardFeed`: one journal watcher per web app, fanning each change out to the open pages.

A single thread blocks in `LocalBoard.wait_for_change` for all pages (a blocking wait per
page would tie up the event loop's small thread pool and outlive closed pages) and runs
only while a page is subscribed. It watches through a board of its own: the app's board
advances its head on its own writes, so its `wait_for_change` would not see them.
Each change becomes one `BoardDelta`, serialised once, queued for every page.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field

from sprintboard.board.local import LocalBoard
from sprintboard.board.state import BoardState
from sprintboard.doors.web.page_data import BoardDelta, board_delta, latest_standup
from sprintboard.errors import BoardError

__all__ = ["BoardFeed", "Subscription", "sse"]

log = logging.getLogger(__name__)


def sse(delta: BoardDelta) -> str:
    """`delta` as one server-sent `board` event."""
    return f"event: board\ndata: {delta.model_dump_json()}\n\n"


@dataclass(eq=False)
class Subscription:
    """One open page: its event loop and the events queued for it, oldest first.

    A page that lets more than `backlog` events pile up gets one reset in their place
    (a delta without `since`), so a stalled tab costs a refetch, not unbounded memory.
    """

    loop: asyncio.AbstractEventLoop
    backlog: int = 64
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    def offer(self, seq: int, event: str) -> None:
        """Queue `event` (the change up to `seq`); runs on `loop`."""
        if self.queue.qsize() >= self.backlog:
            while not self.queue.empty():
                self.queue.get_nowait()
            event = sse(BoardDelta(seq=seq))
        self.queue.put_nowait(event)


class BoardFeed:
    """Journal changes of `board` as `BoardDelta`s for every subscribed page.

    ```python
    feed = BoardFeed(board)
    sub, seq = await feed.subscribe()     # seq: what the deltas that follow start from
    event = await sub.queue.get()         # "event: board\\ndata: {...}\\n\\n"
    feed.unsubscribe(sub)                 # the watcher stops once no page is left
    ```
    `wait_seconds`: how long one wait blocks, so also how long the watcher outlives the
    last page.
    """

    def __init__(self, board: LocalBoard, *, wait_seconds: float = 0.5) -> None:
        self.wait_seconds = wait_seconds
        self._reader = LocalBoard(
            board.root, host=board.host, policy=board.policy, clock=board.clock
        )
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._thread: threading.Thread | None = None
        self._state: BoardState = self._reader.snapshot()
        self._standup = latest_standup(board.root)

    @property
    def running(self) -> bool:
        """Whether the watcher thread is up (it is while a page is subscribed)."""
        return self._thread is not None

    async def subscribe(self) -> tuple[Subscription, int]:
        """Register a page; returns its subscription and the seq its first delta starts from."""
        sub = Subscription(asyncio.get_running_loop())
        seq = await asyncio.to_thread(self._add, sub)
        return sub, seq

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a page (closed or disconnected)."""
        with self._lock:
            self._subscribers.discard(sub)

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the watcher to stop; True once it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._thread is None

    def _add(self, sub: Subscription) -> int:
        with self._lock:
            if self._thread is None:
                # nobody watched while no page was open: start from now, no delta is owed
                self._state = self._reader.snapshot()
                self._standup = latest_standup(self._reader.root)
                self._thread = threading.Thread(target=self._run, name="web-feed", daemon=True)
                self._thread.start()
            self._subscribers.add(sub)
            return self._state.seq

    def _run(self) -> None:
        try:
            while self._wanted():
                try:
                    if self._reader.wait_for_change(self.wait_seconds):
                        self._publish(self._reader.snapshot())
                except (BoardError, OSError):  # pages keep what they show; the next wait retries
                    log.exception("web feed: cannot read %s", self._reader.journal_path)
                    time.sleep(self.wait_seconds)
        finally:  # also after a crash, so that the next page starts a new watcher
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _wanted(self) -> bool:
        """Whether a page still listens; if not, the watcher is marked gone in the same breath."""
        with self._lock:
            if not self._subscribers:
                self._thread = None
            return self._thread is not None

    def _publish(self, state: BoardState) -> None:
        delta = board_delta(self._state, state)
        standup = latest_standup(self._reader.root)
        if standup != self._standup:
            delta = BoardDelta(seq=state.seq)  # a new standup comes with a full reload
        event = sse(delta)
        with self._lock:
            self._state, self._standup = state, standup
            for sub in list(self._subscribers):
                try:
                    sub.loop.call_soon_threadsafe(sub.offer, state.seq, event)
                except RuntimeError:  # its event loop is closed: the page is gone
                    self._subscribers.discard(sub)
