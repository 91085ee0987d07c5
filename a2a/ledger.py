"""A host's ledger: `.a2a/ledger/<host>.jsonl`, one line per message it sent or handled.

The line shape is the coordination ledger the original agents kept
(`examples/coordination.example.jsonl`): `ts, agent, action, target, context, ref`.
Only its own host appends to a ledger, so synced copies never conflict.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from sprintboard.a2a.envelope import check_host

__all__ = ["Ledger", "LedgerLine"]


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One ledger entry; `agent` is the host (or `agent@host`) that acted."""

    ts: str
    agent: str
    action: str
    target: str
    context: str
    ref: str


class Ledger:
    """Appends lines to `<a2a dir>/ledger/<host>.jsonl`."""

    def __init__(self, a2a_dir: Path, host: str) -> None:
        self.path = Path(a2a_dir) / "ledger" / f"{check_host(host)}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.host = host

    def append(self, line: LedgerLine) -> None:
        """Append one line with a single `write` (O_APPEND: lines never interleave)."""
        data = orjson.dumps(asdict(line)) + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def lines(self) -> list[LedgerLine]:
        """Every line so far (for `a2a inbox` and tests)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return [LedgerLine(**orjson.loads(x)) for x in raw.splitlines() if x.strip()]
