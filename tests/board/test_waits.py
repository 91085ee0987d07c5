"""What each task waits on (board/waits.py): every kind of wait, and the whole board in one
call saying what each task alone would."""

from __future__ import annotations

from sprintboard.board.models import Lease, Step, Task
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.board.state import BoardState
from sprintboard.board.waits import Wait, task_wait, waits

STEP = [Step("audit")]
RUN = "run `sprintboard agents run --host {}` there"


def _lease(host: str) -> Lease:
    return Lease("builder-x", host, 1, "2026-12-07T10:00:00Z", 600, "2026-12-07T10:10:00Z", "")


POLICY = BoardPolicy(
    owner="alpha",
    agent_roles={"builder-alpha": "builder", "builder-beta": "builder", "gpu-1": "builder",
                 "auditor-1": "auditor"},
    agent_hosts={"builder-alpha": "alpha", "builder-beta": "beta", "gpu-1": "gamma",
                 "auditor-1": "alpha"},
    agent_caps={"builder-beta": frozenset({"mlx"}), "gpu-1": frozenset({"cuda"})},
)  # fmt: skip
TASKS = [
    Task("done", "d", "done"),
    Task("gone", "c", "cancelled"),
    Task("stuck", "s", "blocked", blocked_reason="the source is gone"),
    Task("manual", "m", "needs_manual"),
    Task("adapt", "a", "needs_adapt"),
    Task("review", "r", "awaiting_test"),
    Task("mine", "l", "in_progress", lease=_lease("alpha")),
    Task("beta-held", "l", "in_progress", lease=_lease("beta")),
    Task("deps", "w", "blocked", dependencies=["done", "manual", "nowhere", "review"]),
    Task("deps-done", "w", "ready", dependencies=["done", "nowhere"]),
    Task("by-hand", "h", "ready"),
    Task("assigned", "t", "ready", steps=STEP, agent="builder-beta"),
    Task("assigned-here", "t", "ready", steps=STEP, agent="builder-alpha"),
    Task("assigned-nowhere", "t", "ready", steps=STEP, agent="ghost"),
    Task("builder", "t", "ready", steps=STEP),
    Task("mlx", "t", "ready", steps=STEP, caps=["mlx"]),
    Task("cuda", "t", "ready", steps=STEP, caps=["cuda"]),
    Task("tpu", "t", "ready", steps=STEP, caps=["tpu"]),
    Task("planner", "t", "ready", steps=STEP, role="planner"),
    Task("audit", "t", "ready", steps=STEP, role="auditor"),
]
STATE = BoardState(tasks={t.id: t for t in TASKS})
ALIVE = frozenset({"alpha"})  # beta and gamma are silent

EXPECTED = {
    "stuck": Wait("stuck", "blocked", "a person",
                  "blocked: the source is gone; `sprintboard move stuck ready` when it is solved"),
    "manual": Wait("manual", "person", "a person", "review it, then tick its criteria in "
                   "KANBAN.md or `sprintboard move manual done --force`"),
    "adapt": Wait("adapt", "person", "a person", "review it, then tick its criteria in "
                  "KANBAN.md or `sprintboard move adapt done --force`"),
    "review": Wait("review", "auditor", "the Auditor",
                   "run `sprintboard agents run --host alpha` on alpha"),
    "beta-held": Wait("beta-held", "host", "host beta",
                      "builder-x@beta holds it; " + RUN.format("beta")),
    "deps": Wait("deps", "tasks", "manual, review", "they finish first"),
    "deps-done": Wait("deps-done", "person", "a person", "it has no tool steps: do it and "
                      "`sprintboard move deps-done done --force`, or claim it with "
                      "`sprintboard claim deps-done --agent NAME`"),
    "by-hand": Wait("by-hand", "person", "a person", "it has no tool steps: do it and "
                    "`sprintboard move by-hand done --force`, or claim it with "
                    "`sprintboard claim by-hand --agent NAME`"),
    "assigned": Wait("assigned", "host", "host beta", RUN.format("beta")),
    "assigned-here": Wait("assigned-here", "agent", "builder-alpha", RUN.format("alpha")),
    "assigned-nowhere": Wait("assigned-nowhere", "agent", "ghost", RUN.format("alpha")),
    "builder": Wait("builder", "agent", "builder-alpha", RUN.format("alpha")),
    "mlx": Wait("mlx", "host", "host beta", RUN.format("beta")),
    "cuda": Wait("cuda", "host", "host gamma", RUN.format("gamma")),
    "tpu": Wait("tpu", "person", "a person",
                "no agent in sprintboard.toml has tpu; add it to a host or an agent"),
    "planner": Wait("planner", "person", "a person",
                    "no agent in sprintboard.toml has the planner role; add it to a host or an agent"),
    "audit": Wait("audit", "agent", "auditor-1", RUN.format("alpha")),
}  # fmt: skip


def test_every_kind_of_wait_in_board_order() -> None:
    got = waits(STATE, POLICY, ALIVE, here="alpha")
    assert [w.task for w in got] == [t.id for t in TASKS if t.id in EXPECTED]
    assert {w.task: w for w in got} == EXPECTED


def test_the_board_at_once_says_what_each_task_alone_says() -> None:
    """`waits` works out the board-wide parts once; a task asked about alone (and tasks
    of other roles and caps asked in between) must get the same answer."""
    for here, alive in (("alpha", ALIVE), ("beta", frozenset({"alpha", "gamma"})), (None, ())):
        one_by_one = [task_wait(STATE, POLICY, t, alive, here) for t in reversed(TASKS)]
        assert waits(STATE, POLICY, alive, here) == [w for w in reversed(one_by_one) if w]


def test_a_live_host_or_a_rebuilt_config_changes_the_answer() -> None:
    alive = frozenset({"alpha", "beta", "gamma"})
    found = {w.task: w for w in waits(STATE, POLICY, alive, here="alpha")}
    assert "beta-held" not in found  # held by a live host: nothing to wait for
    assert found["mlx"] == Wait("mlx", "agent", "builder-beta", RUN.format("beta"))
    assert found["assigned"] == Wait("assigned", "agent", "builder-beta", RUN.format("beta"))
    no_owner = BoardPolicy(agent_roles={"auditor-1": "auditor"})
    review = task_wait(STATE, no_owner, STATE.tasks["review"], alive, here="beta")
    assert review == Wait("review", "auditor", "the Auditor",
                          "run `sprintboard agents run --host beta` on beta")  # fmt: skip
    assert task_wait(STATE, no_owner, STATE.tasks["audit"], alive) == Wait(
        "audit", "agent", "auditor-1", RUN.format("HOST")
    )
