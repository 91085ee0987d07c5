"""The dependency graph report people read: critical path, phases, named cycles, warnings.

Built on `board/critical_path.py` (the same pass the scheduling rule ranks ready work by);
this module adds what a person needs to act on it: each cycle named as a path, warnings in
words, and `validate_graph` for plans and imports. Arrows in paths point the way work
flows: in `T001 -> T003`, T003 depends on T001.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sprintboard.board.critical_path import critical_path
from sprintboard.board.models import Task
from sprintboard.errors import BoardError

__all__ = ["GraphAnalysis", "analyze", "format_path", "validate_graph"]


@dataclass(frozen=True, slots=True)
class GraphAnalysis:
    """What the dependency graph says about a set of tasks.

    `length_min` and `length_max` bound the sprint's duration in minutes: the longest
    chain by low estimates and the longest chain by high estimates. `critical_path` is the
    chain that sets `length_max`; `slack` is how many minutes (by high estimates) a task
    can slip without delaying the end. Tasks in or behind a cycle have no phase or slack.
    """

    critical_path: list[str]
    length_min: int
    length_max: int
    phases: list[list[str]]
    cycles: list[list[str]]
    slack: dict[str, int]
    unblocks: dict[str, list[str]]
    """Task id -> the tasks that depend on it directly."""
    warnings: list[str]


def format_path(path: Sequence[str]) -> str:
    """`T001 → T003 → T004`, the way backlogs write paths."""
    return " → ".join(path)


def _edges(
    tasks: list[Task],
) -> tuple[dict[str, list[str]], dict[str, list[str]], list[tuple[str, str]]]:
    """Known dependencies per task (deduplicated), dependents per task, unknown references."""
    deps: dict[str, list[str]] = {}
    unblocks: dict[str, list[str]] = {t.id: [] for t in tasks}
    unknown: list[tuple[str, str]] = []
    for t in tasks:
        known = []
        listed = t.dependencies
        for d in dict.fromkeys(listed) if len(listed) > 1 else listed:
            if d in unblocks:
                known.append(d)
                unblocks[d].append(t.id)
            else:
                unknown.append((t.id, d))
        deps[t.id] = known
    return deps, unblocks, unknown


def _find_cycles(nodes: list[str], deps: dict[str, list[str]]) -> list[list[str]]:
    """One cycle path per strongly connected component that has one (Tarjan, iterative)."""
    inside = set(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work[-1]
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = [d for d in deps[node] if d in inside]
            if i < len(succ):
                work[-1] = (node, i + 1)
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1 or node in deps[node]:
                    components.append(comp)
    return [_cycle_in(comp, deps) for comp in components]


def _cycle_in(component: list[str], deps: dict[str, list[str]]) -> list[str]:
    """A closed path through `component`, in work-flow order, starting at its smallest id."""
    members = set(component)
    start = min(component)
    # Walk "depends on" edges until a node repeats; inside an SCC every walk closes.
    walk = [start]
    seen = {start: 0}
    node = start
    while True:
        node = min(d for d in deps[node] if d in members)
        if node in seen:
            loop = walk[seen[node] :] + [node]
            break
        seen[node] = len(walk)
        walk.append(node)
    loop.reverse()  # depends-on order -> work-flow order
    first = loop.index(min(loop[:-1]))
    body = loop[first:-1] + loop[:first]
    return body + [body[0]]


def analyze(tasks: Iterable[Task], *, remaining: bool = False) -> GraphAnalysis:
    """Phases, cycles, critical path, slack and dependents of `tasks`, for people to read.

    With `remaining=True`, finished tasks count zero minutes (what is left of the sprint).
    Unknown dependencies, tasks without estimates and cycles are reported in `warnings`.
    """
    cp = critical_path(tasks, remaining=remaining)
    warnings: list[str] = []
    if cp.duplicates:
        warnings.append("duplicate task ids; only the last of each is analysed")
    warnings += [
        f"{tid} depends on unknown task {dep}; that dependency is ignored"
        for tid, dep in cp.unknown
    ]
    total = len(cp.slack) + len(cp.stuck)
    if cp.unestimated and cp.unestimated < total:
        warnings.append(f"{cp.unestimated} task(s) have no estimate and count 0 minutes")
    cycles: list[list[str]] = []
    if cp.stuck:
        cycles = _find_cycles(list(cp.stuck), cp.stuck)
        in_cycle = {tid for c in cycles for tid in c}
        for c in cycles:
            warnings.append(f"dependency cycle {format_path(c)}: none of these can ever start")
        behind = [tid for tid in cp.stuck if tid not in in_cycle]
        if behind:
            warnings.append(
                f"{len(behind)} task(s) wait on a cycle and cannot start: {', '.join(behind[:10])}"
                + (" ..." if len(behind) > 10 else "")
            )
    return GraphAnalysis(
        critical_path=cp.path,
        length_min=cp.length_min,
        length_max=cp.length_max,
        phases=cp.levels,
        cycles=cycles,
        slack=cp.slack,
        unblocks=cp.unblocks,
        warnings=warnings,
    )


def validate_graph(tasks: Iterable[Task]) -> None:
    """Refuse duplicate ids, dependencies on unknown ids and dependency cycles.

    Raises:
        BoardError: names the duplicate ids, each unknown dependency with the task that
            names it, or the cycle path.
    """
    task_list = list(tasks)
    seen: set[str] = set()
    dupes: set[str] = set()
    for t in task_list:
        (dupes if t.id in seen else seen).add(t.id)
    if dupes:
        raise BoardError(
            f"duplicate task id(s) {', '.join(sorted(dupes))}; give each task its own id"
        )
    deps, _unblocks, unknown = _edges(task_list)
    if unknown:
        listed = ", ".join(f"{tid} -> {dep}" for tid, dep in unknown)
        raise BoardError(
            f"dependencies on unknown task(s): {listed}; add those tasks or fix the dependency lists"
        )
    cycles = analyze(task_list).cycles
    if cycles:
        shown = "; ".join(format_path(c) for c in cycles)
        raise BoardError(f"dependency cycle {shown}; remove one dependency of the cycle")
