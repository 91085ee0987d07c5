"""How much a command says beyond its answer: `-q/--quiet`, `-v/--verbose` (twice for debug).

The root callback sets it once per run; commands ask `show_progress` before drawing a
progress bar, and the logging level follows it (warnings by default, as ruff and uv do).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = ["Verbosity", "set_verbosity", "show_progress", "verbosity"]


@dataclass(slots=True)
class Verbosity:
    """-1 quiet (errors only, no progress), 0 default, 1 info, 2 debug."""

    level: int = 0


_current = Verbosity()


def verbosity() -> Verbosity:
    """The level the root options set for this run."""
    return _current


def set_verbosity(quiet: bool, verbose: int) -> None:
    """Apply `--quiet`/`--verbose`: the level and the `sprintboard` loggers' threshold."""
    _current.level = -1 if quiet else min(verbose, 2)
    threshold = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
    logger = logging.getLogger("sprintboard")
    logger.setLevel(threshold[_current.level])
    if not logger.handlers:
        handler = logging.StreamHandler()  # stderr: stdout stays the command's answer
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def show_progress(as_json: bool) -> bool:
    """Draw a progress bar unless the output is JSON or the run is quiet."""
    return not as_json and _current.level >= 0
