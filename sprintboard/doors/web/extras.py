"""What the page loads beside the board: the burndown chart, the standup as HTML, one task.

The chart is drawn once per journal seq (matplotlib takes a second; a page asks on every
load). The standup is the markdown note rendered with raw HTML escaped, so a note cannot
put a script on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from threading import Lock

from sprintboard.board.document import TaskDocument, task_document
from sprintboard.board.local import LocalBoard

__all__ = ["BurndownImage", "standup_html", "task_details"]


@dataclass(slots=True)
class BurndownImage:
    """The burndown and velocity PNG of one board, redrawn when the journal moved on."""

    board: LocalBoard
    _seq: int = -1
    _png: bytes = b""
    _lock: Lock = field(default_factory=Lock)

    def png(self) -> bytes:
        """The chart as of the board's newest event (blocking: call it off the event loop)."""
        # matplotlib loads only when the chart is asked for (start-up time)
        from sprintboard.memory.burndown import compute_burndown
        from sprintboard.memory.report import render_png

        with self._lock:
            seq = self.board.snapshot().seq
            if seq != self._seq:
                events = self.board.events()
                self._png = render_png(compute_burndown(events, self.board.clock.now()))
                self._seq = seq
            return self._png


def standup_html(markdown: str | None) -> str | None:
    """The standup note as HTML (raw HTML in the note shown as text), None before the first."""
    if markdown is None:
        return None
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return html


def task_details(board: LocalBoard, task_id: str) -> TaskDocument:
    """The task as `sprintboard show TASK` has it (UnknownTask when there is none)."""
    return task_document(board.snapshot(), task_id)
