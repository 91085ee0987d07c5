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
        # only the slack: `sprintboard next` ranks by it and needs no levels or dependents
        return _slack(_passes(open_tasks, remaining=True))


def critical_path(tasks: Iterable[Task], *, remaining: bool = False) -> CriticalPath:
    """Levels, critical path, slack and dependents of `tasks`.

    With `remaining=True`, finished tasks count zero minutes (what is left of the sprint).
    """
    with collector_paused():
        done = _passes(list(tasks), remaining)
        ids, n, deps, succ = done.ids, len(done.ids), done.deps, done.succ
        stuck: dict[str, list[str]] = {}
        if len(done.order) < n:
            indeg = done.indeg
            stuck = {ids[i]: [ids[j] for j in deps[i]] for i in range(n) if indeg[i]}
        return CriticalPath(
            path=done.path,
            length_min=done.length_min,
            length_max=done.length_max,
            levels=[[ids[i] for i in level] for level in done.levels],
            slack=_slack(done),
            unblocks={ids[i]: [ids[k] for k in succ[i]] for i in range(n)},
            stuck=stuck,
            unknown=done.unknown,
            unestimated=done.unestimated,
            duplicates=done.duplicates,
        )


@dataclass(slots=True)
class _Passes:
    """The passes over positions (`ids[i]` is the task at position i)."""

    ids: list[str]
    deps: list[list[int]]
    succ: list[list[int]]
    indeg: list[int]
    """Unfinished dependencies left after the passes: non-zero only in or behind a cycle."""
    levels: list[list[int]]
    order: list[int]
    slack: list[int]
    """Slack of `order[k]` at k."""
    path: list[str]
    length_min: int
    length_max: int
    unknown: list[tuple[str, str]]
    unestimated: int
    duplicates: bool


def _slack(done: _Passes) -> dict[str, int]:
    """Task id -> slack, last of the order first (the order the backward pass met them)."""
    ids, order, slack = done.ids, done.order, done.slack
    return {ids[order[k]]: slack[k] for k in range(len(order) - 1, -1, -1)}


def _passes(task_list: list[Task], remaining: bool) -> _Passes:
    # Ids become list positions: list indexing and int sorts are what keep 10k tasks fast.
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

    # Kahn's algorithm level by level (each level is a phase of parallel work), with the
    # forward pass folded in: a task's dependencies are all finished when its level comes.
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

    end = -1
    for i in order:
        if (
            end < 0
            or finish_hi[i] > finish_hi[end]
            or (finish_hi[i] == finish_hi[end] and finish_lo[i] > finish_lo[end])
        ):
            end = i
    path: list[str] = []
    while end >= 0:
        path.append(ids[end])
        end = via[end]
    path.reverse()
    length_max = max(finish_hi, default=0)
    length_min = max(finish_lo, default=0)

    # Backward pass by high estimates: latest start; slack = latest finish - earliest finish.
    latest_start = [length_max] * n  # tasks stuck behind a cycle never constrain anyone
    slack = [0] * len(order)
    for k in range(len(order) - 1, -1, -1):
        v = order[k]
        lf = length_max
        for w in succ[v]:
            if latest_start[w] < lf:
                lf = latest_start[w]
        latest_start[v] = lf - hi[v]
        slack[k] = lf - finish_hi[v]

    return _Passes(
        ids=ids,
        deps=deps,
        succ=succ,
        indeg=indeg,
        levels=levels,
        order=order,
        slack=slack,
        path=path,
        length_min=length_min,
        length_max=length_max,
        unknown=unknown,
        unestimated=unestimated,
        duplicates=duplicates,
    )
