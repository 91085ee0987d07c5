"""Which hosts are alive: the host heartbeats the owner recorded in the journal.

A runner on a host other than the owner says it is there with a `host.heartbeat` event
(`{"host": NAME}`, no task) at most every `BEAT_EVERY_S` seconds; the owner's reducer keeps
the last time per host (`BoardState.hosts_seen`, on the owner's clock). A host is alive while
its last heartbeat is younger than `SILENT_AFTER_S`; the owner is always alive to itself, since
only its own runner routes work. The Negotiator routes only to alive hosts and takes back what
it assigned to a host that went silent before claiming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sprintboard.board.clock import parse_ts
from sprintboard.board.state import BoardState

__all__ = ["BEAT_EVERY_S", "SILENT_AFTER_S", "HostSeen", "alive_hosts", "hosts_seen"]

BEAT_EVERY_S = 60.0
"""How often a runner off the owner writes its heartbeat."""
SILENT_AFTER_S = 180.0
"""A host not heard from for this long is silent: nothing new is routed to it, and what was
assigned to it and not claimed goes back to the pool (three missed beats, so one slow tick
or a busy owner does not flap the routing)."""


@dataclass(frozen=True, slots=True)
class HostSeen:
    """One host as the journal last heard from it."""

    host: str
    last_seen: str | None
    """Owner-clock time of its last heartbeat; None: never seen."""
    age_s: float | None
    alive: bool


def hosts_seen(
    state: BoardState, hosts: list[str], owner: str | None, now: datetime
) -> list[HostSeen]:
    """`hosts` (the config's, in its order) with their last heartbeat and whether alive."""
    out = []
    for host in hosts:
        seen = state.hosts_seen.get(host)
        age = None if seen is None else max(0.0, (now - parse_ts(seen)).total_seconds())
        alive = host == owner or (age is not None and age < SILENT_AFTER_S)
        out.append(HostSeen(host, seen, age, alive))
    return out


def alive_hosts(state: BoardState, owner: str | None, now: datetime) -> frozenset[str]:
    """The hosts work may be routed to now: the owner and every host heard from lately."""
    named = list(state.hosts_seen) + ([owner] if owner else [])
    return frozenset(h.host for h in hosts_seen(state, named, owner, now) if h.alive)
