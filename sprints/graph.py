"""The dependency graph of a sprint: ready set, cycles, critical path, phases, slack, `next`.

Everything here is plain dict and list work over task ids, so a 10,000-task board is
analysed in tens of milliseconds. Arrows in paths point the way work flows: in
`T001 -> T003`, T003 depends on T001.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sprintboard.board.models import FINISHED_STATUSES, Task
from sprintboard.board.policy import BoardPolicy
from sprintboard.board.state import BoardState
from sprintboard.errors import BoardError

__all__ = [
    "GraphAnalysis",
    "analyze",
    "format_path",
    "next_tasks",
    "ready_tasks",
    "validate_graph",
    "wip_room",
]


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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic collector: the analysis makes ~100k acyclic containers, and the
    collector's passes over a 10k-task heap would cost more than the analysis itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    """Phases, cycles, critical path, slack and dependents of `tasks`.

    With `remaining=True`, finished tasks count zero minutes (what is left of the sprint).
    Unknown dependencies and tasks without estimates are reported in `warnings`.
    """
    with _gc_paused():
        return _analyze(list(tasks), remaining)


def _analyze(task_list: list[Task], remaining: bool) -> GraphAnalysis:
    # Ids become list positions: list indexing and int sorts are what keep 10k tasks fast.
    ids = [t.id for t in task_list]
    index = {tid: i for i, tid in enumerate(ids)}
    warnings: list[str] = []
    if len(index) != len(ids):
        warnings.append("duplicate task ids; only the last of each is analysed")
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
                    warnings.append(
                        f"{t.id} depends on unknown task {d}; that dependency is ignored"
                    )
                else:
                    known.append(j)
                    succ[j].append(i)
            deps[i] = known
            indeg[i] = len(known)
    if unestimated and unestimated < n:
        warnings.append(f"{unestimated} task(s) have no estimate and count 0 minutes")

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

    cycles: list[list[str]] = []
    if len(order) < n:
        stuck = [i for i in range(n) if indeg[i]]
        stuck_deps = {ids[i]: [ids[j] for j in deps[i]] for i in stuck}
        cycles = _find_cycles(list(stuck_deps), stuck_deps)
        in_cycle = {tid for c in cycles for tid in c}
        for c in cycles:
            warnings.append(f"dependency cycle {format_path(c)}: none of these can ever start")
        behind = [tid for tid in stuck_deps if tid not in in_cycle]
        if behind:
            warnings.append(
                f"{len(behind)} task(s) wait on a cycle and cannot start: {', '.join(behind[:10])}"
                + (" ..." if len(behind) > 10 else "")
            )

    end = -1
    for i in order:
        if (
            end < 0
            or finish_hi[i] > finish_hi[end]
            or (finish_hi[i] == finish_hi[end] and finish_lo[i] > finish_lo[end])
        ):
            end = i
    critical: list[str] = []
    while end >= 0:
        critical.append(ids[end])
        end = via[end]
    critical.reverse()
    length_max = max(finish_hi, default=0)
    length_min = max(finish_lo, default=0)

    # Backward pass by high estimates: latest start; slack = latest finish - earliest finish.
    latest_start = [length_max] * n  # tasks stuck behind a cycle never constrain anyone
    slack: dict[str, int] = {}
    for v in reversed(order):
        lf = length_max
        for w in succ[v]:
            if latest_start[w] < lf:
                lf = latest_start[w]
        latest_start[v] = lf - hi[v]
        slack[ids[v]] = lf - finish_hi[v]

    return GraphAnalysis(
        critical_path=critical,
        length_min=length_min,
        length_max=length_max,
        phases=[[ids[i] for i in level] for level in levels],
        cycles=cycles,
        slack=slack,
        unblocks={ids[i]: [ids[k] for k in succ[i]] for i in range(n)},
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


def ready_tasks(
    state: BoardState, *, role: str | None = None, caps: Sequence[str] | None = None
) -> list[Task]:
    """Tasks that could be claimed now: ready (or waiting on dependencies that are all done),
    not leased, fitting `role` and `caps`; in board order."""
    tasks = state.tasks
    capset = None if caps is None else set(caps)
    out = []
    for task in tasks.values():
        status = task.status
        if status != "ready" and (status != "blocked" or task.blocked_reason):
            continue
        if task.lease is not None or (role is not None and task.role != role):
            continue
        if capset is not None and task.caps and not capset.issuperset(task.caps):
            continue
        for d in task.dependencies:
            dep = tasks.get(d)
            if dep is not None and dep.status != "done":
                break
        else:
            out.append(task)
    return out


def wip_room(
    state: BoardState,
    policy: BoardPolicy,
    *,
    role: str | None,
    agent: str | None,
) -> str | None:
    """Why `agent` (or `role`) may take no more work now, or None when WIP allows more."""
    leases = [t for t in state.tasks.values() if t.lease is not None]
    if agent is not None:
        limit = policy.wip_per_agent.get(agent)
        held = sum(1 for t in leases if t.lease is not None and t.lease.agent == agent)
        if limit is not None and held >= limit:
            return f"agent {agent} holds {held} task(s), its WIP limit is {limit}"
    if role is not None:
        limit = policy.wip_per_role.get(role, state.sprint.wip_limits.get(role))
        held = sum(1 for t in leases if t.role == role)
        if limit is not None and held >= limit:
            return f"role {role} holds {held} task(s), its WIP limit is {limit}"
    return None


def next_tasks(
    state: BoardState,
    *,
    role: str | None = None,
    caps: Sequence[str] | None = None,
    agent: str | None = None,
    policy: BoardPolicy | None = None,
) -> list[Task]:
    """What an agent should take next: ready tasks, most urgent priority first, then least
    slack (critical-path work first), then board order. Empty when WIP allows no more.

    With `agent` and no `role`/`caps`, the agent's role and capabilities come from the policy.
    """
    policy = policy or BoardPolicy()
    if agent is not None:
        role = role or policy.agent_roles.get(agent)
        if caps is None and agent in policy.agent_caps:
            caps = sorted(policy.agent_caps[agent])
    if wip_room(state, policy, role=role, agent=agent) is not None:
        return []
    ready = ready_tasks(state, role=role, caps=caps)
    if len(ready) <= 1:
        return ready
    # Finished work takes no more time and nothing waits on it: leave it out of the graph.
    slack = analyze(
        [t for t in state.tasks.values() if t.status not in FINISHED_STATUSES], remaining=True
    ).slack
    pos = {tid: i for i, tid in enumerate(state.tasks)}
    ready.sort(key=lambda t: (t.priority, slack.get(t.id, 0), pos[t.id]))
    return ready
