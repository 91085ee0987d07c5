"""`collector_paused()`: the cyclic garbage collector off while a board is built in bulk.

Loading a board makes ~50 containers per task (snapshot, journal lines, the critical-path
passes) and none of them form cycles, so reference counting frees them all. With the
collector on, each of its full passes walks the whole growing heap: on a 40,000-task
journal that made reading it superlinear (a standup took 8x the 10k time). Paused here,
the cost is linear; the collector runs again after, as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (nested use is fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
