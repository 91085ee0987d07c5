"""Scan one byte range of a JSONL file: parse each line, check it, fingerprint the good rows.

Audit, dedup, mix, split and leakage all start here, so a row is judged the same way
everywhere and a bad row is a finding, never an exception. `scan_range` is a plain function
of a picklable job (path, byte range, what to compute) returning a picklable `RangeScan`:
the same function runs in this process, in worker processes or on a Dask cluster, and the
caller merges results by (file, line).

Most rows take a fast path: msgspec decodes them straight into typed structs, validating
roles and content types in C, and only role order and empty turns are checked in Python.
Anything the fast path does not accept takes the general path (orjson + `check_row`), which
gives the detailed reasons; the fast path accepts only rows the general path finds clean.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import orjson
import xxhash

from sprintboard.tools.chat_rows import (
    ERROR_REASONS,
    ROLE_AFTER,
    Format,
    Problem,
    Turns,
    check_row,
    conversation_key,
    detect_format,
    to_messages_row,
)
from sprintboard.tools.jsonl_stream import ByteRange, iter_batches
from sprintboard.tools.length_stats import LengthStats
from sprintboard.tools.tokenizer_count import load_token_counter

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from sprintboard.tools.near_dup import MinHashParams

__all__ = [
    "BATCH_ROWS",
    "KeySpec",
    "RangeScan",
    "ScanJob",
    "ScanSpec",
    "detect_file_format",
    "parse_problem",
    "reject_record",
    "row_key",
    "scan_range",
]

BATCH_ROWS = 1024
"""Rows per MinHash batch (numpy work is done per batch, never per row)."""
_ERRORS = frozenset(ERROR_REASONS)


class _Msg(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class _Chat(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[_Msg]


_decode_chat = msgspec.json.Decoder(_Chat).decode


def _roles_clean(roles: tuple[str, ...]) -> bool:
    """Whether a role sequence passes `check_messages` (order, and an assistant turn)."""
    prev = ""
    for role in roles:
        if role not in ROLE_AFTER[prev]:
            return False
        prev = role
    return "assistant" in roles


@dataclass(frozen=True, slots=True)
class KeySpec:
    """How the exact-duplicate key is made: the conversation, or chosen top-level keys."""

    keys: tuple[str, ...] | None = None
    normalize_whitespace: bool = False


@dataclass(frozen=True, slots=True)
class ScanSpec:
    """What to check and compute for every row of a range (picklable, the same per file)."""

    format: Format | None = None
    """The file's format: forced, or detected from its first row that has one."""
    format_from: int = 0
    """Byte offset of that first row: rows before it matched no format (`unknown_format`)."""
    max_chars: int | None = None
    max_tokens: int | None = None
    tokenizer: str | None = None
    """tokenizer.json (or a model dir) to count every row's tokens with."""
    key: KeySpec | None = None
    """Compute each good row's exact-duplicate key (xxh3-128)."""
    minhash: MinHashParams | None = None
    """Compute each good row's LSH band hashes."""
    lengths: bool = False
    """Collect length histograms (characters, and tokens with a tokenizer)."""
    to_messages: bool = False
    """Rewrite good rows of other formats as chat `messages` (`RangeScan.rewritten`)."""


@dataclass(frozen=True, slots=True)
class ScanJob:
    """One unit of work: a byte range and what to compute for its rows."""

    range: ByteRange
    spec: ScanSpec


@dataclass(slots=True)
class RangeScan:
    """What one range held. Row indices are 0-based within the range; the caller knows the
    range's first line number once the earlier ranges of the file are counted."""

    range: ByteRange
    rows: int = 0
    offsets: array[int] = field(default_factory=lambda: array("q"))
    """Byte offset of every line (in the decompressed stream for gzip)."""
    end: int = 0
    """Offset just past the range's last line, its newline included."""
    unterminated: bool = False
    """The last line had no newline (only at the end of a file)."""
    good: array[int] = field(default_factory=lambda: array("l"))
    """Index of every row without an error (warnings allowed), in order."""
    keys: list[int] = field(default_factory=list)
    """Exact-duplicate key (xxh3-128) of each good row, when asked for."""
    bands: npt.NDArray[np.uint64] | None = None
    """(good rows x bands) LSH band hashes, when asked for."""
    has_shingles: npt.NDArray[np.bool_] | None = None
    flagged: list[tuple[int, list[Problem], bytes]] = field(default_factory=list)
    """(index, problems, raw line) of every row with a problem, errors or warnings."""
    chars: LengthStats | None = None
    tokens: LengthStats | None = None
    rewritten: dict[int, bytes] = field(default_factory=dict)
    """Good rows rewritten as chat `messages` (only with `to_messages`, for other formats)."""

    def line_end(self, index: int) -> int:
        """Offset just past row `index` (its newline included)."""
        return self.offsets[index + 1] if index + 1 < self.rows else self.end


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


def row_key(raw: bytes, turns: Turns, keys: tuple[str, ...] | None, normalize: bool) -> bytes:
    """Canonical bytes for exact dedup: the conversation, or the chosen top-level keys."""
    if keys is None:
        return conversation_key(
            [r for r, _ in turns], [c for _, c in turns], normalize_whitespace=normalize
        )
    obj = orjson.loads(raw)
    picked = {k: obj.get(k) for k in keys}
    for k, v in picked.items():
        if isinstance(v, str):
            picked[k] = " ".join(v.split()) if normalize else v.strip()
    return orjson.dumps(picked, option=orjson.OPT_SORT_KEYS)


def detect_file_format(path: Path) -> tuple[Format | None, int]:
    """The format of a file's first row that has one, and that row's byte offset.

    (None, file size) when no row has a format. Reads only as far as that row.
    """
    end = 0
    for batch in iter_batches(path, with_offsets=True):
        for raw, offset in zip(batch.lines, batch.offsets, strict=True):
            try:
                fmt = detect_format(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue
            if fmt is not None:
                return fmt, offset
        end = batch.offsets[-1] + len(batch.lines[-1]) + 1
    return None, end


def _check_general(
    raw: bytes, fmt: Format | None, last_unterminated: bool
) -> tuple[Turns | None, list[Problem]]:
    """The general path: every reason a row can have, in the words people read."""
    problems: list[Problem] = []
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw or raw.isspace():
            problems.append(("blank_line", "empty line"))
        else:
            problems.append(parse_problem(raw, last_unterminated=last_unterminated, error=exc))
        return None, problems
    if fmt is None:
        problems.append(("unknown_format", "row matches no known format"))
        return None, problems
    return check_row(obj, fmt, problems), problems


@functools.cache
def _token_counter(path: str) -> Callable[[str], int]:
    return load_token_counter(Path(path))


class _Rows:
    """Collects the results of one range row by row (the per-row cost lives here)."""

    def __init__(self, job: ScanJob) -> None:
        spec = job.spec
        self.spec = spec
        self.out = RangeScan(job.range)
        self.count_tokens = _token_counter(spec.tokenizer) if spec.tokenizer else None
        if spec.lengths:
            self.out.chars = LengthStats("chars")
            if self.count_tokens is not None:
                self.out.tokens = LengthStats("tokens")
        self.texts: list[str] = []
        self.band_parts: list[Any] = []
        self.has_parts: list[Any] = []
        self.hasher = _min_hasher(spec.minhash) if spec.minhash is not None else None

    def limits(self, contents: list[str], problems: list[Problem]) -> None:
        spec = self.spec
        chars = sum(map(len, contents))
        if spec.max_chars is not None and chars > spec.max_chars:
            problems.append(("too_long", f"{chars} chars > max {spec.max_chars}"))
        if self.out.chars is not None:
            self.out.chars.add(chars)
        if self.count_tokens is not None:
            tokens = self.count_tokens("\n".join(contents))
            if spec.max_tokens is not None and tokens > spec.max_tokens:
                problems.append(("too_many_tokens", f"{tokens} tokens > max {spec.max_tokens}"))
            if self.out.tokens is not None:
                self.out.tokens.add(tokens)

    def good_row(self, index: int, raw: bytes, roles: Sequence[str], contents: list[str]) -> None:
        out, spec = self.out, self.spec
        out.good.append(index)
        if spec.key is not None:
            if spec.key.keys is None:
                source = conversation_key(
                    roles, contents, normalize_whitespace=spec.key.normalize_whitespace
                )
            else:
                source = row_key(raw, [], spec.key.keys, spec.key.normalize_whitespace)
            out.keys.append(xxhash.xxh3_128_intdigest(source))
        if self.hasher is not None:
            self.texts.append("\n".join(contents))
            if len(self.texts) >= BATCH_ROWS:
                self.flush_texts()

    def flush_texts(self) -> None:
        if self.hasher is not None and self.texts:
            bands, has = self.hasher.band_hashes(self.texts)
            self.band_parts.append(bands)
            self.has_parts.append(has)
            self.texts.clear()

    def finish(self) -> RangeScan:
        if self.hasher is not None:
            # numpy loads only when rows are counted (start-up time of every tool)
            import numpy as np

            self.flush_texts()
            bands = self.spec.minhash.bands if self.spec.minhash else 0
            out = self.out
            out.bands = (
                np.concatenate(self.band_parts)
                if self.band_parts
                else np.zeros((0, bands), dtype=np.uint64)
            )
            out.has_shingles = (
                np.concatenate(self.has_parts) if self.has_parts else np.zeros(0, dtype=np.bool_)
            )
        return self.out


def _min_hasher(params: MinHashParams) -> Any:
    # numpy loads only for near-duplicates (start-up time)
    from sprintboard.tools.near_dup import min_hasher

    return min_hasher(params)


def scan_range(job: ScanJob) -> RangeScan:
    """Parse and check every line of `job.range`; fingerprint the good rows as the spec asks.

    Engine-neutral: a plain function of a picklable job with a picklable result, run in
    this process, in a worker process or on a cluster worker alike.
    """
    spec, rng = job.spec, job.range
    rows = _Rows(job)
    out = rows.out
    fmt = spec.format
    fast = fmt == "messages"
    fmt_from = spec.format_from
    checks_limits = spec.lengths or spec.max_chars is not None or spec.tokenizer is not None
    # The common case (no limits, no MinHash, the conversation as key, stripped) is done
    # inline: the stripped contents made for the empty-turn check are the key's contents.
    plain = not checks_limits and spec.minhash is None and not spec.to_messages
    want_key = spec.key is not None
    if spec.key is not None and (spec.key.keys is not None or spec.key.normalize_whitespace):
        plain = False
    decode = _decode_chat
    decode_error = msgspec.DecodeError
    role_memo: dict[tuple[str, ...], bool] = {}
    dumps = orjson.dumps
    digest = xxhash.xxh3_128_intdigest
    good_append = out.good.append
    key_append = out.keys.append
    good_row = rows.good_row
    flagged = out.flagged
    offsets = out.offsets
    index = 0
    for batch in iter_batches(Path(rng.path), with_offsets=True, start=rng.start, end=rng.end):
        offsets.extend(batch.offsets)
        last = batch.last_unterminated
        for offset, raw in zip(batch.offsets, batch.lines, strict=True):
            if fast and offset >= fmt_from:
                # Fast path: typed decode in C, then role order and empty turns; a row that
                # fails any of it is judged again below, where the reasons are worded.
                try:
                    msgs = decode(raw).messages
                except decode_error:
                    msgs = None
                if msgs is not None:
                    roles = [m.role for m in msgs]
                    shape = tuple(roles)
                    clean = role_memo.get(shape)
                    if clean is None:
                        clean = role_memo[shape] = _roles_clean(shape)
                    if clean:
                        contents = [m.content for m in msgs]
                        stripped = [c.strip() for c in contents]
                        if all(stripped):
                            if plain:
                                good_append(index)
                                if want_key:
                                    key_append(digest(dumps((roles, stripped))))
                                index += 1
                                continue
                            if checks_limits:
                                problems: list[Problem] = []
                                rows.limits(contents, problems)
                                if problems:
                                    flagged.append((index, problems, raw))
                                    index += 1
                                    continue
                            good_row(index, raw, roles, contents)
                            index += 1
                            continue
            row_fmt = fmt if offset >= fmt_from else None
            turns, problems = _check_general(raw, row_fmt, last)
            if turns is not None and checks_limits:
                rows.limits([c for _, c in turns], problems)
            if problems:
                flagged.append((index, problems, raw))
            if turns is not None and not any(r in _ERRORS for r, _ in problems):
                good_row(index, raw, [r for r, _ in turns], [c for _, c in turns])
                if spec.to_messages and fmt != "messages":
                    out.rewritten[index] = to_messages_row(turns)
            index += 1
        if batch.lines:
            out.end = batch.offsets[-1] + len(batch.lines[-1]) + (0 if last else 1)
            out.unterminated = last
    out.rows = index
    if not index:
        out.end = max(rng.start, 0)
    return rows.finish()
