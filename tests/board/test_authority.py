"""Who may write what (DESIGN.md contract 11): roles only from the config, done only when checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.board.client import EventDraft
from sprintboard.board.local import LocalBoard
from sprintboard.board.scheduling import BoardPolicy
from sprintboard.errors import InvalidTransition, LeaseConflict, NotPermitted, StaleFence

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"

POLICY = BoardPolicy(
    owner="alpha",
    agent_roles={"builder-1": "builder", "auditor-1": "auditor", "planner-1": "planner"},
    agent_hosts={"builder-1": "alpha", "auditor-1": "alpha", "planner-1": "alpha"},
)
CRITERIA = [{"text": "split written"}, {"text": "loss below 2"}]


def _submitted(board: LocalBoard, task: Any, task_id: str = "T1") -> None:
    board.create_tasks([task(task_id, criteria=CRITERIA)])
    lease = board.claim(task_id, agent="builder-1", host="alpha", ttl=60)
    board.submit(task_id, lease.fence, [], {})


def test_an_agent_finishes_only_with_every_criterion_checked(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    _submitted(board, task)
    seq = board.snapshot().seq
    with pytest.raises(InvalidTransition) as err:
        board.move("T1", "done", "auditor-1@alpha")
    text = str(err.value)
    assert "T1: cannot move awaiting_test -> done" in text  # the task and its real status
    assert "criteria not checked: #1 split written; #2 loss below 2" in text
    assert "--force" in text and "allowed: blocked, cancelled, done" in text  # moves and fix
    assert board.snapshot().seq == seq
    board.check_criterion("T1", 0, True, "file there", "auditor-1@alpha")
    with pytest.raises(InvalidTransition, match="criteria not checked: #2 loss below 2"):
        board.move("T1", "done", "auditor-1@alpha")
    board.check_criterion("T1", 1, True, "1.4", "auditor-1@alpha")
    assert board.move("T1", "done", "auditor-1@alpha").status == "done"


def test_a_name_the_config_does_not_know_gets_no_role(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    board.create_tasks([task("T1"), task("T2", role="auditor")])
    with pytest.raises(LeaseConflict, match="ghost is not an agent in sprintboard.toml"):
        board.claim("T1", agent="ghost", host="alpha", ttl=60)
    lease = board.claim("T1", agent="builder-1", host="alpha", ttl=60)
    board.submit("T1", lease.fence, [], {})
    claims_auditor = EventDraft("task.move", "T1", {"to": "done", "role": "auditor"}, "ghost@alpha")
    with pytest.raises(InvalidTransition, match="never carries a role"):
        board.apply([claims_auditor])
    with pytest.raises(InvalidTransition, match="only the Auditor.*ghost is not in sprintboard"):
        board.move("T1", "done", "ghost@alpha")
    with pytest.raises(NotPermitted, match="criteria are checked by the Auditor"):
        board.check_criterion("T1", 0, True, None, "ghost@alpha")
    with pytest.raises(NotPermitted, match="ghost is not an agent"):
        board.add_decision("ship it", actor="ghost@alpha")
    assert board.snapshot().tasks["T1"].status == "awaiting_test"


def test_open_claims_let_an_unknown_agent_build_but_never_finish(
    open_local: Any, task: Any
) -> None:
    opened = BoardPolicy(owner="alpha", open_claims=True, agent_roles=POLICY.agent_roles)
    board = open_local(opened)
    board.create_tasks([task("T1"), task("T2", role="auditor"), task("T3")])
    with pytest.raises(LeaseConflict, match="is auditor work; claude@alpha takes builder work"):
        board.claim("T2", agent="claude", host="alpha", ttl=60)
    lease = board.claim("T1", agent="claude", host="alpha", ttl=60)
    board.apply([EventDraft("note.add", "T1", {"text": "half way"}, "claude@alpha", lease.fence)])
    with pytest.raises(NotPermitted, match="writes only about a task it holds"):
        board.add_note("about T3", actor="claude@alpha", task="T3")
    with pytest.raises(StaleFence):
        board.apply(
            [EventDraft("metric.set", "T1", {"name": "x", "value": 1.0}, "claude@alpha", 9)]
        )
    board.submit("T1", lease.fence, [], {"loss": 1.0})
    with pytest.raises(InvalidTransition, match="only the Auditor"):
        board.move("T1", "done", "claude@alpha")


def test_an_agent_acts_only_from_its_configured_host(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    _submitted(board, task)
    board.check_criterion("T1", 0, True, None, "auditor-1@alpha")
    with pytest.raises(NotPermitted, match="auditor-1 runs on alpha in sprintboard.toml"):
        board.check_criterion("T1", 1, True, None, "auditor-1@beta")
    with pytest.raises(InvalidTransition, match="auditor-1 runs on alpha"):
        board.move("T1", "ready", "auditor-1@beta")
    board.create_tasks([task("T2")])
    with pytest.raises(NotPermitted, match="builder-1 runs on alpha in sprintboard.toml"):
        board.claim("T2", agent="builder-1", host="beta", ttl=60)


def test_a_person_forces_done_and_the_event_records_what_was_unchecked(
    open_local: Any, task: Any
) -> None:
    board = open_local(POLICY)
    _submitted(board, task)
    board.check_criterion("T1", 1, True, "ticked", "human:ana")
    with pytest.raises(InvalidTransition, match="a person moves a task to done with force"):
        board.move("T1", "done", "human:ana")
    with pytest.raises(InvalidTransition, match="only a person forces a move"):
        board.move("T1", "done", "auditor-1@alpha", force=True)
    assert board.move("T1", "done", "human:ana", force=True).status == "done"
    (event,) = [e for e in board.events() if e.op == "task.move" and e.fields["to"] == "done"]
    assert event.fields["unchecked"] == ["#1 split written"]
    assert event.actor == "human:ana" and "role" not in event.fields


def test_moving_a_leased_task_names_its_real_status(open_local: Any, task: Any) -> None:
    board = open_local(POLICY)
    board.create_tasks([task("T1"), task("T2")])
    board.claim("T1", agent="builder-1", host="alpha", ttl=60)
    # Was: "cannot move in_progress -> blocked (the task is now ready, not in_progress ...)".
    assert board.move("T1", "blocked", "human:ana", reason="waits on legal").status == "blocked"
    assert board.snapshot().tasks["T1"].lease is None
    board.claim("T2", agent="builder-1", host="alpha", ttl=60)
    with pytest.raises(InvalidTransition) as err:
        board.move("T2", "done", "human:ana", expected="ready", force=True)
    assert "cannot move in_progress -> done (it is now in_progress, not ready" in str(err.value)
    assert "allowed: adapting, awaiting_test, blocked" in str(err.value)


TEAM = BoardPolicy(
    owner="alpha",
    open_claims=True,
    agent_roles={**POLICY.agent_roles, "negotiator-1": "negotiator"},
    agent_hosts={**POLICY.agent_hosts, "negotiator-1": "alpha"},
)


@pytest.mark.parametrize(
    ("actor", "who"),
    [
        ("planner-1@alpha", "planner-1 is a planner"),
        ("negotiator-1@alpha", "negotiator-1 is a negotiator"),
        ("builder-1@alpha", "builder-1 is a builder"),
        ("ghost@alpha", "ghost is not in sprintboard.toml"),
    ],
)
def test_only_the_auditor_finishes_even_when_every_criterion_is_checked(
    open_local: Any, task: Any, actor: str, who: str
) -> None:
    board = open_local(TEAM)
    _submitted(board, task)
    for index in range(len(CRITERIA)):
        board.check_criterion("T1", index, True, "ok", "auditor-1@alpha")
    seq = board.snapshot().seq
    with pytest.raises(InvalidTransition, match=f"only the Auditor moves a task to done; {who}"):
        board.move("T1", "done", actor)
    with pytest.raises(InvalidTransition, match="only the Auditor"):
        board.apply([EventDraft("task.move", "T1", {"to": "done"}, actor)])
    assert board.snapshot().seq == seq and board.snapshot().tasks["T1"].status == "awaiting_test"
    assert board.move("T1", "done", "auditor-1@alpha").status == "done"


def test_an_unknown_agent_cannot_declare_itself_the_auditor(open_local: Any, task: Any) -> None:
    board = open_local(TEAM)  # open claims: unnamed agents may build, nothing more
    board.create_tasks([task("T1", role="auditor"), task("T2")])
    with pytest.raises(NotPermitted, match="ghost is not in sprintboard.toml, so it takes only"):
        board.claim_next("ghost", role="auditor")
    with pytest.raises(LeaseConflict, match="is auditor work; ghost@alpha takes builder work"):
        board.claim("T1", agent="ghost", host="alpha", ttl=60)
    assert [t.id for t in board.ready(role="auditor")] == ["T1"]  # the work is there
    assert TEAM.claimant("ghost", "alpha", role="auditor").refusal is not None
    assert TEAM.claimant("ghost", "alpha").role == "builder"
    for claimed in (None, "auditor"):
        for fields in ({"to": "done"}, {"to": "done", "role": claimed}):
            with pytest.raises(InvalidTransition):
                board.apply([EventDraft("task.move", "T2", fields, "ghost@alpha")])
    with pytest.raises(NotPermitted, match="is a builder in sprintboard.toml, not a auditor"):
        board.claim_next("builder-1", role="auditor")
    assert board.snapshot().tasks["T1"].lease is None


def _cli(ws: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("sprintboard")
    where = ["-w", str(ws)] if ws else []
    return subprocess.run(
        [str(exe), *args, *where], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_imported_backlog_cannot_be_finished_unchecked_from_the_cli(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _cli(None, "init", str(ws), "--no-git").returncode == 0
    assert _cli(ws, "import", str(EXAMPLES / "oodatcaa-SPRINT_BACKLOG.md")).returncode == 0
    assert _cli(ws, "claim", "T001", "--agent", "builder-alpha").returncode == 0
    assert _cli(ws, "submit", "T001", "--fence", "1").returncode == 0
    done = _cli(ws, "move", "T001", "done", "--as", "auditor-1@alpha")
    assert done.returncode == 1
    assert "T001: cannot move awaiting_test -> done (criteria not checked: #1 " in done.stderr
    assert done.stderr.count("; #") == 7  # all 8 named
    forced = _cli(ws, "move", "T001", "done", "--force")
    assert forced.returncode == 0, forced.stderr
    log = orjson.loads(_cli(ws, "log", "--task", "T001", "--json").stdout)
    assert len(log[-1]["fields"]["unchecked"]) == 8
