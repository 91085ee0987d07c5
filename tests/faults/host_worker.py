"""A real host process for the fault tests (not a test module).

usage: host_worker.py runner WORKSPACE HOST [--once]
  Registers a fast `touchstep` tool, then runs `sprintboard agents run --host HOST`
  (on the owner: Negotiator, Builders, Auditor and the KANBAN.md watcher; elsewhere: its
  Builders over A2A). Keys come from $SPRINTBOARD_KEYS.

`touchstep` appends `start NAME` / `end NAME` to a log (fsynced) and writes `OUT/NAME.txt`,
so a test can count how often each step really ran.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import BaseModel

from sprintboard.tools.registry import register


class TouchConfig(BaseModel, frozen=True, extra="forbid"):
    name: str
    log: Path
    out: Path


class TouchReport(BaseModel, frozen=True, extra="forbid"):
    name: str
    metrics: dict[str, float]


def _log(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@register("touchstep", config=TouchConfig, report=TouchReport)
def touchstep(config: TouchConfig) -> TouchReport:
    """Log the start, write one small output file, log the end."""
    _log(config.log, f"start {config.name}")
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / f"{config.name}.txt").write_text(f"{config.name}\n", encoding="utf-8")
    _log(config.log, f"end {config.name}")
    return TouchReport(name=config.name, metrics={"ok": 1.0})


if __name__ == "__main__":
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # the fault tests ask a stuck process for its stacks
    from sprintboard.cli import main

    mode, workspace, host, *rest = sys.argv[1:]
    assert mode == "runner", mode
    main(["agents", "run", "--host", host, "--tick", "0.2", "-w", workspace, *rest])
