"""`KanbanSync`: KANBAN.md rendered from the board, and the way people's edits come back in.

After each commit the board calls `render(state)` (under the board lock). The file is
rewritten only when it is one of the copies sprintboard rendered itself (kept in
`.sprintboard/kanban/`); anything else is a person's unmerged edit, which is left alone
until `sync` merges it. `sync` runs the whole merge inside one `LocalBoard.transact`, so a
render never races a merge.
"""

from __future__ import annotations

import contextlib
import difflib
import getpass
import logging
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import xxhash

from sprintboard.board.client import EventDraft
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Event
from sprintboard.board.state import BoardState
from sprintboard.errors import BoardError, KanbanParseError
from sprintboard.files import atomic_write, exchange, fsync_dir

# The KANBAN.md parser, renderer and merge are imported where used: every open board has
# this observer, and a command that only reads (`sprintboard next`) should not load them.
if TYPE_CHECKING:
    from sprintboard.board.kanban.model import KanbanDocument, SectionKey

__all__ = ["KanbanSync", "SyncReport", "default_actor", "rendered_seq"]

log = logging.getLogger(__name__)

KANBAN_FILE = "KANBAN.md"
# The line `synced_line` renders: `_Last synced: 2025-10-05 09:12 UTC (journal seq 42)_`.
_SYNCED_SEQ = re.compile(rb"^_Last synced: (?:.* \(journal seq (\d{1,15})\)|never)_$", re.M)


def default_actor() -> str:
    """`human:<login name>`: who edited KANBAN.md when nobody said."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "human:unknown"
    # the board takes `human:NAME` with NAME of letters, digits and `_ . @ + -` only
    name = re.sub(r"[^\w.@+-]", "-", login).strip("-_.@+")[:64]
    return f"human:{name}" if name else "human:unknown"


@dataclass(slots=True)
class SyncReport:
    """What one `sync` did."""

    merged: bool = False
    """A person's edit was found and merged."""
    events: list[Event] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: KanbanParseError | None = None
    """The file does not parse: nothing was merged or written."""


class KanbanSync:
    """KANBAN.md of one workspace, rendered from the board and merged back from people.

    ```python
    kanban = KanbanSync(root)
    board = LocalBoard(root, host="alpha", observers=[kanban])
    kanban.sync(board)          # merge a person's edit, if any, then re-render
    ```
    """

    def __init__(
        self,
        root: Path,
        *,
        headings: Mapping[SectionKey, str] | None = None,
        history: int = 20,
        actor: str | None = None,
        title: str = "KANBAN.md",
    ) -> None:
        self.root = Path(root)
        self.title = title
        self.path = self.root / KANBAN_FILE
        self.store = self.root / ".sprintboard" / "kanban"
        self.headings: dict[SectionKey, str] = dict(headings or {})
        self.history = history
        self.actor = actor or default_actor()
        self.pending = False
        """The file holds an edit not merged yet (set by `render`, cleared by `sync`)."""
        # The edit being merged, per thread: a render inside that merge's commit takes it
        # as the layout; another thread's render must not.
        self._merging = threading.local()
        self._layouts: dict[str, KanbanDocument] = {}

    # -- the rendered copies ------------------------------------------------------------------

    def _digest(self, data: bytes) -> str:
        return xxhash.xxh3_64_hexdigest(data)

    def _copies(self) -> list[Path]:
        """Rendered copies, newest first."""
        try:
            entries = [p for p in self.store.iterdir() if p.suffix == ".md"]
        except FileNotFoundError:
            return []
        return sorted(entries, key=lambda p: p.stat().st_mtime_ns, reverse=True)

    def is_rendered(self, data: bytes) -> bool:
        """`data` is a copy sprintboard rendered (so overwriting it loses nothing)."""
        return (self.store / f"{self._digest(data)}.md").exists()

    def _remember(self, data: bytes) -> None:
        # A cache, not a record: a copy lost in a crash only makes the next sync diff
        # against an older copy, which finds nothing new. So no fsync (3 fewer per commit).
        self.store.mkdir(parents=True, exist_ok=True)
        digest = self._digest(data)
        _replace(self.store / f"{digest}.md", data)
        _replace(self.store / "base", digest.encode())
        for old in self._copies()[self.history :]:
            old.unlink(missing_ok=True)

    def accept_rendered(self, data: bytes) -> None:
        """Record `data` as a rendered copy (the merge driver wrote it for git to put in place)."""
        self._remember(data)

    def base_for(
        self, edited: bytes, board: LocalBoard | None = None, state: BoardState | None = None
    ) -> bytes | None:
        """The rendered copy a person started from, or None when it cannot be known.

        The file names it: the `journal seq N` of its "last synced" line. An agent's commit
        may have re-rendered the file many times while the person's editor held that copy,
        so the copy is looked up among the kept ones and, when they are all newer, rebuilt
        from the journal as it was at seq N (`board` given). Diffing against that copy keeps
        every agent change made since. A file without the line (or naming a seq the
        journal never had) has no known base.
        """
        seq = rendered_seq(edited)
        if seq is None or (state is not None and seq > state.seq):
            return None
        same = [data for data in self._copy_bytes() if rendered_seq(data) == seq]
        if same:
            # copies of one seq differ only in layout (a person's reorder re-rendered)
            lines = edited.splitlines()
            return max(
                same,
                key=lambda data: difflib.SequenceMatcher(
                    a=data.splitlines(), b=lines, autojunk=False
                ).ratio(),
            )
        if board is None:
            return None
        # start-up: a board opened only to read loads no KANBAN.md parser or renderer
        from sprintboard.board.kanban.render import render_kanban

        past = board.state_at(seq) if seq else BoardState()
        last = self.last_rendered()
        layout = self._layout(last, past) if last else None
        return render_kanban(past, layout, self.headings, self.title).encode("utf-8")

    def _copy_bytes(self) -> list[bytes]:
        out = []
        for copy in self._copies():
            try:
                out.append(copy.read_bytes())
            except FileNotFoundError:  # pruned by another process meanwhile
                continue
        return out

    def last_rendered(self) -> bytes | None:
        """The newest rendered copy."""
        try:
            name = (self.store / "base").read_text(encoding="utf-8").strip()
            return (self.store / f"{name}.md").read_bytes()
        except FileNotFoundError:
            return None

    def _layout(self, data: bytes, state: BoardState) -> KanbanDocument | None:
        # start-up: a board opened only to read loads no KANBAN.md parser or renderer
        from sprintboard.board.kanban.parse import parse_kanban

        key = self._digest(data)
        if key not in self._layouts:
            try:
                # A rendered copy is trusted text: no encoding guesswork on our own output.
                text = data.decode("utf-8")
                self._layouts = {key: parse_kanban(text, self.path, headings=self.headings)}
            except (KanbanParseError, UnicodeDecodeError):
                return None
        return self._layouts[key]

    # -- BoardObserver ------------------------------------------------------------------------

    def render(self, state: BoardState) -> None:
        """Re-render KANBAN.md from `state`, unless it holds a person's unmerged edit."""
        # start-up: a board opened only to read loads no KANBAN.md parser or renderer
        from sprintboard.board.kanban.render import render_kanban

        layout: KanbanDocument | None
        accept: tuple[bytes, KanbanDocument] | None = getattr(self._merging, "edit", None)
        if accept is not None:
            current, layout = accept
        else:
            try:
                current = self.path.read_bytes()
            except FileNotFoundError:
                current = b""
            if current and not self.is_rendered(current):
                if not self.pending:  # say it once per unmerged edit, not once per commit
                    log.warning(
                        "%s holds an edit not merged yet; left as it is (run `sprintboard board sync`)",
                        self.path,
                    )
                self.pending = True
                return
            source = current or self.last_rendered()
            layout = self._layout(source, state) if source else None
        text = render_kanban(state, layout, self.headings, self.title).encode("utf-8")
        if text != current and not self._replace_if_unchanged(text, current):
            # A person saved while we rendered (or while their previous save was being
            # merged): theirs wins. The render is still a base for diffing that save.
            if accept is not None:
                self._remember(text)
            self.pending = True
            return
        self._remember(text)
        self.pending = False

    def _replace_if_unchanged(self, text: bytes, current: bytes) -> bool:
        """Put `text` in place only if the file still holds `current`; False if a person saved.

        Where two files can be swapped atomically (Linux), the new copy is swapped in and
        the file it displaced is compared with `current`: a person's save that landed at
        any moment before the swap, by rename or in place, is swapped back, never lost.
        Elsewhere the new copy is written and fsynced before the check, so only
        microseconds pass between the check and the rename; a person writing in place in
        that instant is seen through the old file's descriptor and their bytes are put back.
        """
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            swapped = self._swap_in(Path(tmp), text, current) if current else None
            if swapped is not None:
                return swapped
            with contextlib.ExitStack() as stack:
                try:
                    old: BinaryIO | None = stack.enter_context(self.path.open("rb"))
                except FileNotFoundError:
                    old = None
                if (old.read() if old else b"") != current:
                    return False
                os.replace(tmp, self.path)
                fsync_dir(self.root)
                if old is not None:
                    old.seek(0)
                    theirs = old.read()
                    if theirs != current:  # written in place while we swapped: put it back
                        atomic_write(self.path, theirs)
                        return False
            return True
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _swap_in(self, tmp: Path, text: bytes, current: bytes) -> bool | None:
        """Swap `tmp` (holding `text`) with the file; None where swapping is not possible."""
        try:
            if not exchange(tmp, self.path):
                return None
        except FileNotFoundError:  # deleted meanwhile (an editor about to save): no swap
            return None
        if tmp.read_bytes() == current:
            fsync_dir(self.root)
            return True
        # a person saved after `current` was read: their file goes back in place
        exchange(tmp, self.path)
        if tmp.read_bytes() != text:  # and saved again between the two swaps: the newest wins
            exchange(tmp, self.path)
        fsync_dir(self.root)
        return False

    # -- merging people's edits -----------------------------------------------------------------

    def check(self, data: bytes | None = None, state: BoardState | None = None) -> KanbanDocument:
        """Parse the file (or `data`) as `sync` would, without changing anything.

        Raises:
            KanbanParseError: the file does not parse.
        """
        # start-up: a board opened only to read loads no KANBAN.md parser or renderer
        from sprintboard.board.kanban.parse import parse_kanban

        if data is None:
            data = self.path.read_bytes()
        base = self.base_for(data) or self.last_rendered()
        base_doc = self._layout(base, state or BoardState()) if base else None
        return parse_kanban(
            data,
            self.path,
            headings=self.headings,
            taken=list((state or BoardState()).tasks),
            require_end=_descends(base_doc, data),
        )

    def sync(self, board: LocalBoard, actor: str | None = None) -> SyncReport:
        """Merge a person's edit of KANBAN.md into the board, then re-render it.

        A file that does not parse is reported in `SyncReport.error` and left as it is;
        the board keeps its state.
        """
        actor = actor or self.actor
        report = SyncReport()
        current = _read(self.path)
        if current and self.is_rendered(current):
            return report  # nothing to merge; checked without the lock, again under it

        def build(state: BoardState) -> list[EventDraft]:
            return self._merge_drafts(board, state, actor, report)

        try:
            report.events = board.transact(build, render=True)
        except KanbanParseError as exc:
            report.error = exc
            self.pending = True
        except BoardError as exc:  # the edit parses but the board refuses it: say which line
            edit = getattr(self._merging, "edit", None)
            card = edit[1].cards.get(getattr(exc, "task", "")) if edit else None
            report.error = KanbanParseError(
                self.path,
                card.line if card else 1,
                f"the edit cannot be applied ({exc}); change that line and save again",
            )
            self.pending = True
        finally:
            self._merging.edit = None
        return report

    def _merge_drafts(
        self, board: LocalBoard, state: BoardState, actor: str, report: SyncReport
    ) -> list[EventDraft]:
        """Under the board's lock: the drafts the file's edit comes to (none when it is a
        rendered copy), with what the merge found recorded in `report`."""
        # start-up: a board opened only to read loads no KANBAN.md parser or renderer
        from sprintboard.board.kanban.merge import merge_edit
        from sprintboard.board.kanban.parse import parse_kanban

        try:
            edited = self.path.read_bytes()
        except FileNotFoundError:
            return []
        if self.is_rendered(edited):
            return []
        base = self.base_for(edited, board, state)
        base_doc = self._layout(base, state) if base else None
        # any rendered copy tells whether the file must end like one
        last = base or self.last_rendered()
        doc = parse_kanban(
            edited,
            self.path,
            headings=self.headings,
            taken=list(state.tasks),
            require_end=_descends(self._layout(last, state) if last else None, edited),
        )
        result = merge_edit(
            base_doc,
            doc,
            state,
            actor,
            id_prefix=f"{board.host}:kanban-{self._digest((base or b'') + edited)}",
        )
        report.merged, report.new_ids, report.warnings = (
            True,
            list(doc.new_ids),
            [
                *doc.warnings,
                *result.warnings,
            ],
        )
        self._merging.edit = (edited, doc)
        return list(result.drafts)


def rendered_seq(data: bytes) -> int | None:
    """The journal seq a rendered KANBAN.md names in its "last synced" line (0 for "never"),
    or None when the file has no such line."""
    found = _SYNCED_SEQ.search(data, 0, 4096)
    if found is None:
        return None
    return int(found.group(1)) if found.group(1) else 0


def _descends(base: KanbanDocument | None, edited: bytes) -> bool:
    """The edit started from a rendered copy (same title line), so it must end like one."""
    if base is None or not base.ended:
        return False
    first = edited.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    return first == base.title.strip()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
