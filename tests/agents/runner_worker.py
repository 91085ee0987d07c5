"""A runner process for the kill -9 test: registers a `slowstep` tool, then runs `agents run --once`.

`slowstep` logs `start NAME` / `end NAME` to a file and, when given a gate file, waits for it
to exist (bounded), so the test can kill the runner while a step is known to be running.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from sprintboard.tools.registry import register


class SlowConfig(BaseModel, frozen=True, extra="forbid"):
    name: str
    log: Path
    out: Path
    gate: Path | None = None


class SlowReport(BaseModel, frozen=True, extra="forbid"):
    name: str
    metrics: dict[str, float]


def _log(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@register("slowstep", config=SlowConfig, report=SlowReport)
def slowstep(config: SlowConfig) -> SlowReport:
    """Log, wait for the gate, write an output."""
    _log(config.log, f"start {config.name}")
    deadline = time.monotonic() + 120
    while config.gate is not None and not config.gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {config.gate} never appeared")
        time.sleep(0.05)  # waiting on the test process, which creates the gate
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / f"{config.name}.txt").write_text(config.name, encoding="utf-8")
    _log(config.log, f"end {config.name}")
    return SlowReport(name=config.name, metrics={f"{config.name}_ok": 1.0})


if __name__ == "__main__":
    from sprintboard.cli import main

    main(["agents", "run", "--host", "alpha", "--once", "--tick", "0.2", "-w", sys.argv[1]])
