"""One pass over a JSONL file: parse each line, check it, and yield it with its problems.

Audit, dedup, split and leakage all start here, so a row is judged the same way everywhere
and a bad row is a finding, never an exception.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from sprintboard.tools.chat_rows import (
    Format,
    Problem,
    Turns,
    check_messages,
    check_row,
    detect_format,
)
from sprintboard.tools.jsonl_stream import iter_batches
from sprintboard.tools.manifest import FileRef, file_ref

__all__ = ["FileScan", "RowLimits", "ScannedRow", "parse_problem", "reject_record"]

ScannedRow = tuple[int, bytes, Turns | None, list[Problem]]
"""(line number, raw line bytes, turns or None, problems): problems is empty for a clean row."""


@dataclass(frozen=True, slots=True)
class RowLimits:
    """Length limits a row must keep; None means unchecked. With `count_tokens`, every row's
    tokens are counted (for histograms) even without `max_tokens`."""

    max_chars: int | None = None
    max_tokens: int | None = None
    count_tokens: Callable[[str], int] | None = None


def parse_problem(raw: bytes, *, last_unterminated: bool, error: Exception) -> Problem:
    """Say why a line did not parse: invalid UTF-8, a truncated last line, or bad JSON."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ("invalid_utf8", f"invalid UTF-8 at byte {exc.start}")
    if last_unterminated:
        return ("truncated", f"last line has no newline and does not parse ({error})")
    return ("invalid_json", str(error))


def reject_record(file: str, line: int, problems: list[Problem], raw: bytes | None) -> bytes:
    """One line of a rejects file: where the row was, why, and the row itself when known."""
    row: dict[str, object] = {"file": file, "line": line, "reasons": [r for r, _ in problems]}
    row["details"] = [d for _, d in problems]
    if raw is not None:
        row["row"] = raw.decode("utf-8", errors="replace")
    return orjson.dumps(row)


@dataclass
class FileScan:
    """Iterate over one file's rows; `format` is known once the first good row is seen.

    `format` is forced when given, else detected from the first row that matches a known
    format (mlx-lm also decides from the first row).
    """

    path: Path
    format: Format | None = None
    limits: RowLimits = field(default_factory=RowLimits)
    on_bytes: Callable[[int], None] | None = None
    with_offsets: bool = False
    offset: int = 0
    """Byte offset of the row last yielded (kept only when `with_offsets`)."""
    last_tokens: int | None = None
    """Tokens in the row last yielded (counted only when the limits carry a token counter)."""
    _sha: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)
    _complete: bool = False

    def ref(self) -> FileRef:
        """The input's content reference: from the bytes already read when the scan finished."""
        if self._complete and not self.path.name.endswith(".gz"):
            return FileRef(
                path=str(self.path), sha256=self._sha.hexdigest(), size=self.path.stat().st_size
            )
        return file_ref(self.path)

    def _check_lengths(self, turns: Turns, problems: list[Problem]) -> None:
        limits = self.limits
        chars = sum(len(c) for _, c in turns)
        if limits.max_chars is not None and chars > limits.max_chars:
            problems.append(("too_long", f"{chars} chars > max {limits.max_chars}"))
        if limits.count_tokens is not None:
            self.last_tokens = tokens = limits.count_tokens("\n".join(c for _, c in turns))
            if limits.max_tokens is not None and tokens > limits.max_tokens:
                problems.append(("too_many_tokens", f"{tokens} tokens > max {limits.max_tokens}"))

    def __iter__(self) -> Iterator[ScannedRow]:
        # The hot loop of every tool: locals only, and `messages` rows go straight to their
        # checker; anything unusual takes the general path through `check_row`.
        loads = orjson.loads
        check_chat = check_messages
        fmt = self.format
        lengths = self.limits.max_chars is not None or self.limits.count_tokens is not None
        for batch in iter_batches(self.path, digest=self._sha, with_offsets=self.with_offsets):
            line_no = batch.first_line
            offsets = batch.offsets
            for raw in batch.lines:
                if offsets:
                    self.offset = offsets[line_no - batch.first_line]
                problems: list[Problem] = []
                turns: Turns | None = None
                try:
                    obj = loads(raw)
                except orjson.JSONDecodeError as exc:
                    if not raw or raw.isspace():
                        problems.append(("blank_line", "empty line"))
                    else:
                        problems.append(
                            parse_problem(raw, last_unterminated=batch.last_unterminated, error=exc)
                        )
                else:
                    if (
                        fmt == "messages"
                        and type(obj) is dict
                        and len(obj) == 1
                        and "messages" in obj
                    ):
                        turns = check_chat(obj["messages"], problems)
                    else:
                        if fmt is None:
                            fmt = self.format = detect_format(obj)
                        if fmt is None:
                            problems.append(("unknown_format", "row matches no known format"))
                        else:
                            turns = check_row(obj, fmt, problems)
                if lengths and turns is not None:
                    self._check_lengths(turns, problems)
                yield (line_no, raw, turns, problems)
                line_no += 1
            if self.on_bytes is not None:
                self.on_bytes(batch.bytes_read)
        self._complete = True
