"""The critical path of a set of tasks: how long the work takes, and how much each task may slip.

The scheduling rule ranks ready work by `slack` (critical-path work first); the graph report
people read (sprints/graph.py: phases, named cycles, warnings) is built on the same pass.
Everything here is plain list work over positions, so a 10,000-task board takes tens of
milliseconds. In `T001 -> T003`, T003 depends on T001.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sprintboard.board.collector import collector_paused
from sprintboard.board.models import FINISHED_STATUSES, Task
from sprintboard.board.state import BoardState

__all__ = ["CriticalPath", "critical_path", "remaining_slack"]


@dataclass(frozen=True, slots=True)
class CriticalPath:
    """The forward and backward pass over the dependency graph, by estimates in minutes.

    `length_min`/`length_max` bound the duration (longest chain by low / high estimates);
    `path` is the chain that sets `length_max`; `slack` is how many minutes (by high
    estimates) a task can slip without delaying the end. Tasks in or behind a cycle are in
    `stuck` (with their known dependencies) and have no level and no slack.
    """

    path: list[str]
    length_min: int
    length_max: int
    levels: list[list[str]]
    """Tasks whose dependencies all sit in earlier levels: the phases of parallel work."""
    slack: dict[str, int]
    unblocks: dict[str, list[str]]
    """Task id -> the tasks that depend on it directly."""
    stuck: dict[str, list[str]]
    unknown: list[tuple[str, str]]
    """(task, dependency) pairs naming a task that is not in the set; those edges are ignored."""
    unestimated: int
    """Tasks without an estimate (they count 0 minutes)."""
    duplicates: bool
    """Some ids appeared twice; only the last of each was used."""


def remaining_slack(state: BoardState) -> dict[str, int]:
    """Minutes each unfinished task of the board can slip without delaying the sprint.

    Finished work takes no more time and nothing waits on it, so it is left out.
    """
    open_tasks = [t for t in state.tasks.values() if t.status not in FINISHED_STATUSES]
    with collector_paused():
        # only the slack: `sprintboard next` ranks by it and needs none of the levels, path
        # or dependents that `critical_path` names
        g = _graph(open_tasks, remaining=True)
        fw = _forward(g)
        return _slack(g, fw, max(fw.finish_hi, default=0))


def critical_path(tasks: Iterable[Task], *, remaining: bool = False) -> CriticalPath:
    """Levels, critical path, slack and dependents of `tasks`.

    With `remaining=True`, finished tasks count zero minutes (what is left of the sprint).
    """
    with collector_paused():
        return _passes(list(tasks), remaining)


@dataclass(slots=True)
class _Graph:
    """Tasks as list positions: list indexing and int sorts are what keep 10k tasks fast."""

    ids: list[str]
    lo: list[int]
    hi: list[int]
    deps: list[list[int]]
    succ: list[list[int]]
    indeg: list[int]
    unknown: list[tuple[str, str]]
    unestimated: int
    duplicates: bool


@dataclass(slots=True)
class _Forward:
    """Kahn's levels and the earliest finish of each task (low and high estimates)."""

    levels: list[list[int]]
    order: list[int]
    finish_lo: list[int]
    finish_hi: list[int]
    via: list[int]
    """The dependency that sets each task's high finish (-1 for none): the path goes back by it."""


def _passes(task_list: list[Task], remaining: bool) -> CriticalPath:
    g = _graph(task_list, remaining)
    fw = _forward(g)
    ids, n = g.ids, len(g.ids)
    stuck: dict[str, list[str]] = {}
    if len(fw.order) < n:
        stuck = {ids[i]: [ids[j] for j in g.deps[i]] for i in range(n) if g.indeg[i]}
    length_max = max(fw.finish_hi, default=0)
    return CriticalPath(
        path=_path(g, fw),
        length_min=max(fw.finish_lo, default=0),
        length_max=length_max,
        levels=[[ids[i] for i in level] for level in fw.levels],
        slack=_slack(g, fw, length_max),
        unblocks={ids[i]: [ids[k] for k in g.succ[i]] for i in range(n)},
        stuck=stuck,
        unknown=g.unknown,
        unestimated=g.unestimated,
        duplicates=g.duplicates,
    )


def _graph(task_list: list[Task], remaining: bool) -> _Graph:
    ids = [t.id for t in task_list]
    index = {tid: i for i, tid in enumerate(ids)}
    duplicates = len(index) != len(ids)
    if duplicates:
        task_list = [t for i, t in enumerate(task_list) if index[t.id] == i]
        ids = [t.id for t in task_list]
        index = {tid: i for i, tid in enumerate(ids)}
    n = len(ids)
    lo = [0] * n
    hi = [0] * n
    deps: list[list[int]] = [[]] * n  # the shared empty list is only ever read
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    unestimated = 0
    unknown: list[tuple[str, str]] = []
    for i, t in enumerate(task_list):
        est = t.estimate
        if remaining and t.status in FINISHED_STATUSES:
            pass
        elif est is None:
            unestimated += 1
        else:
            lo[i], hi[i] = est.low, est.high
        listed = t.dependencies
        if listed:
            known = []
            for d in dict.fromkeys(listed) if len(listed) > 1 else listed:
                j = index.get(d)
                if j is None:
                    unknown.append((t.id, d))
                else:
                    known.append(j)
                    succ[j].append(i)
            deps[i] = known
            indeg[i] = len(known)
    return _Graph(ids, lo, hi, deps, succ, indeg, unknown, unestimated, duplicates)


def _forward(g: _Graph) -> _Forward:
    """Kahn's algorithm level by level (each level is a phase of parallel work), with the
    forward pass folded in: a task's dependencies are all finished when its level comes.

    Consumes `g.indeg`: what is left non-zero marks the tasks in or behind a cycle."""
    n = len(g.ids)
    lo, hi, deps, succ, indeg = g.lo, g.hi, g.deps, g.succ, g.indeg
    finish_lo = [0] * n
    finish_hi = [0] * n
    via = [-1] * n
    frontier = [i for i in range(n) if not indeg[i]]
    levels: list[list[int]] = []
    order: list[int] = []
    while frontier:
        levels.append(frontier)
        order += frontier
        nxt: list[int] = []
        for u in frontier:
            best_lo = best_hi = 0
            best = -1
            for p in deps[u]:
                f_lo = finish_lo[p]
                if f_lo > best_lo:
                    best_lo = f_lo
                f_hi = finish_hi[p]
                if best < 0 or f_hi > best_hi or (f_hi == best_hi and f_lo > finish_lo[best]):
                    best_hi, best = f_hi, p
            finish_lo[u] = best_lo + lo[u]
            finish_hi[u] = best_hi + hi[u]
            via[u] = best
            for v in succ[u]:
                indeg[v] -= 1
                if not indeg[v]:
                    nxt.append(v)
        nxt.sort()  # positions: file order within a phase
        frontier = nxt
    return _Forward(levels, order, finish_lo, finish_hi, via)


def _path(g: _Graph, fw: _Forward) -> list[str]:
    """Back from the task that finishes last (by high, then low estimates) along `via`."""
    finish_lo, finish_hi = fw.finish_lo, fw.finish_hi
    end = -1
    for i in fw.order:
        if (
            end < 0
            or finish_hi[i] > finish_hi[end]
            or (finish_hi[i] == finish_hi[end] and finish_lo[i] > finish_lo[end])
        ):
            end = i
    path: list[str] = []
    while end >= 0:
        path.append(g.ids[end])
        end = fw.via[end]
    path.reverse()
    return path


def _slack(g: _Graph, fw: _Forward, length_max: int) -> dict[str, int]:
    """Backward pass by high estimates: latest start; slack = latest finish - earliest finish."""
    ids, hi, succ, finish_hi = g.ids, g.hi, g.succ, fw.finish_hi
    latest_start = [length_max] * len(ids)  # tasks stuck behind a cycle never constrain anyone
    slack: dict[str, int] = {}
    for v in reversed(fw.order):
        lf = length_max
        for w in succ[v]:
            if latest_start[w] < lf:
                lf = latest_start[w]
        latest_start[v] = lf - hi[v]
        slack[ids[v]] = lf - finish_hi[v]
    return slack
