"""A board with five days of sprint history and one busy day, byte-stable (FrozenClock + CounterIds).

Story (all UTC): on 2026-11-19 sprint S1 starts with eight tasks and builder-beta claims
T007 with a week-long lease, then goes quiet. On 2026-11-22 at 17:00 a standup is written
and a person adds an evening review naming blockers. On 2026-11-23 T001 is built, submitted
and accepted, T002 is claimed and heartbeats, a decision is taken, T006 is blocked by a
person and T008 waits for a person. The clock stops at 2026-11-23 10:00.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Artifact
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.memory.standup import write_standup

GOLDEN = Path(__file__).parent / "golden"

EVENING_REVIEW = """\
## Evening Review
- Dedup policy still open, see T002.
- T004 blocked until the mlx host is back online
- unrelated: coffee machine is broken

### Open blockers
- [ ] T006 needs the output format of T002
- [x] T001 audit script crashed (fixed)
- ~~T003 was waiting on data~~
- someone should look at the wiki (no task id)
"""

NIGHT_REVIEW = """\
# 2026-11-23

Written by Ana before the standup; sprintboard must leave it exactly as it is.

## Night Review
- T004 still blocked: no GPU host online until Friday
- all good otherwise
"""


@dataclass
class Story:
    board: LocalBoard
    clock: FrozenClock
    root: Path


def at(clock: FrozenClock, moment: str) -> None:
    """Move the frozen clock forward to `moment` (ISO, UTC)."""
    target = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    clock.advance((target - clock.now()).total_seconds())


ROLES = {
    "planner-1": "planner",
    "builder-1": "builder",
    "builder-beta": "builder",
    "auditor-1": "auditor",
}
HOSTS = {"planner-1": "alpha", "builder-1": "alpha", "builder-beta": "beta", "auditor-1": "alpha"}


def _task(task_id: str, title: str, **fields: object) -> dict[str, object]:
    return {"id": task_id, "title": title, "status": "ready", **fields}


def build_story(root: Path) -> Story:
    clock = FrozenClock(datetime(2026, 11, 19, 9, 0, tzinfo=UTC))
    board = LocalBoard(
        root,
        host="alpha",
        policy=BoardPolicy(owner="alpha", agent_roles=ROLES, agent_hosts=HOSTS),
        clock=clock,
        ids=CounterIds(),
    )
    board.start_sprint("S1", goal="dataset to fine-tuned model", actor="human:ana")
    waiting = {"status": "blocked"}  # blocked without a reason: waiting on dependencies
    board.create_tasks(
        [
            _task("T001", "Audit sources", priority=1, estimate={"low": 60, "high": 90}),
            _task(
                "T002",
                "Dedup",
                priority=1,
                dependencies=["T001"],
                estimate={"low": 60, "high": 120},
                **waiting,
            ),
            _task(
                "T003",
                "Mix",
                priority=1,
                dependencies=["T002"],
                estimate={"low": 30, "high": 60},
                **waiting,
            ),
            _task(
                "T004",
                "Train LoRA",
                priority=1,
                dependencies=["T003"],
                caps=["mlx"],
                estimate={"low": 240, "high": 300},
                **waiting,
            ),
            _task(
                "T005",
                "Eval report",
                priority=2,
                dependencies=["T004"],
                estimate={"low": 60, "high": 60},
                **waiting,
            ),
            _task("T006", "Write docs", priority=3, estimate={"low": 30, "high": 30}),
            _task("T007", "Tokenizer survey", priority=3, estimate={"low": 30, "high": 60}),
            _task(
                "T008",
                "License review",
                priority=2,
                estimate={"low": 15, "high": 15},
                criteria=[
                    {"text": "legal approved the data licenses"},
                    {"text": "report exists", "check": "file_exists reports/licenses.md"},
                ],
            ),
        ],
        actor="planner-1@alpha",
    )
    at(clock, "2026-11-19T10:00:00")
    board.claim("T007", agent="builder-beta", host="beta", ttl=7 * 24 * 3600)

    at(clock, "2026-11-22T17:00:00")
    write_standup(board)
    note = root / "memory" / "2026-11-22.md"
    with note.open("a", encoding="utf-8") as fh:
        fh.write("\n" + EVENING_REVIEW)

    (root / "memory" / "2026-11-23.md").write_text(NIGHT_REVIEW, encoding="utf-8")
    at(clock, "2026-11-23T08:00:00")
    lease = board.claim("T001", agent="builder-1", host="alpha", ttl=900)
    at(clock, "2026-11-23T08:05:00")
    board.heartbeat("T001", lease.fence)
    at(clock, "2026-11-23T08:10:00")
    board.heartbeat("T001", lease.fence)
    at(clock, "2026-11-23T08:20:00")
    board.submit(
        "T001",
        lease.fence,
        artifacts=[Artifact("runs/T001/1/audit.json", "ab" * 32, 2048)],
        metrics={"rows": 1200.0},
    )
    board.update_task("T001", {"commits": ["abc1234"]}, actor="builder-1@alpha")
    at(clock, "2026-11-23T08:25:00")
    board.move("T001", "done", actor="auditor-1@alpha")
    at(clock, "2026-11-23T08:30:00")
    lease2 = board.claim("T002", agent="builder-1", host="alpha", ttl=3600)
    at(clock, "2026-11-23T08:45:00")
    board.heartbeat("T002", lease2.fence)
    at(clock, "2026-11-23T09:00:00")
    board.heartbeat("T002", lease2.fence)
    at(clock, "2026-11-23T09:10:00")
    board.add_decision(
        "Dedup within each source; cross-source only for TOEFL + Pilot", "human:ana", "T002"
    )
    at(clock, "2026-11-23T09:20:00")
    board.move("T006", "blocked", actor="human:ana", reason="waiting on the T002 output format")
    at(clock, "2026-11-23T09:30:00")
    board.move("T008", "needs_manual", actor="auditor-1@alpha", reason="a person must approve")
    at(clock, "2026-11-23T10:00:00")
    return Story(board, clock, root)


@pytest.fixture
def story(tmp_path: Path) -> Story:
    return build_story(tmp_path)


StoryFactory = Callable[[Path], Story]


@pytest.fixture
def make_story() -> StoryFactory:
    return build_story


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text to `golden/NAME`; `pytest --update-golden` rewrites the file instead and
    skips the test, so a rewritten golden never counts as a pass."""
    update = bool(request.config.getoption("--update-golden"))

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.write_text(text, encoding="utf-8")
            pytest.skip(f"rewrote {path}; review the diff, then run again without the option")
        assert text == path.read_text(encoding="utf-8")

    return check


@pytest.fixture
def night_review() -> str:
    return NIGHT_REVIEW


@pytest.fixture
def advance_to() -> Callable[[FrozenClock, str], None]:
    return at
