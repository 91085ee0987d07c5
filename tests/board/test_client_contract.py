"""One contract, every `BoardClient` (DESIGN.md contract 4): the same tests run against the
owner's `LocalBoard` and a host's `RemoteBoard` (over the in-memory transport, the owner's
handler answering each message as it lands). A new implementation (the PostgreSQL store)
joins by adding a name to `IMPLEMENTATIONS` and a branch to `_open`.

Covered: claim, claim_next (and `next_up`, the one ranking it takes from), heartbeat,
submit, release, stale fences, authority (contract 11: roles and hosts from the config, no
agent finishes a task, writes only under the writer's own lease), notes under the lease
(`apply`). Issue 19 adds `show` (`task`), `note`, `ask`/`answer` to the client; their
contract tests go here beside the others, each taking the same `side` fixture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.keys import keygen, pair
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.owner import OwnerHandler
from sprintboard.a2a.remote import RemoteBoard
from sprintboard.a2a.transport import MemoryInbox, MemoryTransport
from sprintboard.board.client import BoardClient, EventDraft
from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.board.models import Artifact
from sprintboard.errors import (
    LeaseConflict,
    NotPermitted,
    SprintboardError,
    StaleFence,
    UnknownTask,
)
from sprintboard.files import sha256_file
from sprintboard.workspace import init_workspace, open_board

IMPLEMENTATIONS = ["local", "remote"]


class OwnerOnCall(MemoryTransport):
    """A host's transport whose deliveries to the owner are handled at once, in-process
    (what the owner's daemon does, without a thread or a wait)."""

    __test__ = False

    def __init__(self, host: str, boxes: dict[str, MemoryInbox], owner: OwnerHandler) -> None:
        super().__init__(host, boxes)
        self.owner = owner

    def send(self, recipient: str, items: Sequence[tuple[str, bytes]]) -> None:
        super().send(recipient, items)
        if recipient == self.owner.postbox.host:
            self.owner.postbox.process(self.owner)


@dataclass
class Side:
    """The client under test, and the owner's board to set the scene and look behind it."""

    client: BoardClient
    owner: LocalBoard
    clock: FrozenClock
    agent: str
    """A builder configured on the client's host."""
    stranger: str
    """A builder configured on another host."""
    folder: Path
    """Where the client's files live (its workspace or the host's own folder)."""
    handler: OwnerHandler | None = None
    """The owner's message handler, for a remote client (what the owner's daemon runs)."""

    @property
    def host(self) -> str:
        return self.client.host


def _open(kind: str, tmp: Path) -> Side:
    ws = init_workspace(
        tmp / "alpha", owner="alpha", hosts=[("alpha", []), ("beta", ["mlx"])], git=False
    )
    clock = FrozenClock()
    if kind == "local":
        board = open_board(ws, host="alpha", clock=clock, ids=CounterIds())
        return Side(board, board, clock, "builder-alpha", "builder-beta", ws)
    assert kind == "remote"
    beta_keys = tmp / "beta-keys"
    pair(beta_keys, "alpha", "beta", keygen(ws / ".sprintboard" / "keys", "alpha", "beta"))
    boxes: dict[str, MemoryInbox] = {}
    owner = open_owner(ws, clock=clock, transport=MemoryTransport("alpha", boxes))
    box = open_postbox(
        ws, "beta", keys=beta_keys, clock=clock, transport=OwnerOnCall("beta", boxes, owner)
    )
    folder = tmp / "beta"
    folder.mkdir()
    remote = RemoteBoard(
        box,
        "alpha",
        BlobStore(ws / ".a2a" / "blobs"),
        workspace=folder,
        timeout=5,
        reader=True,  # the host's runner: it also takes what the owner pushes
        transport_name="memory",
    )
    return Side(remote, owner.board, clock, "builder-beta", "builder-alpha", folder, owner)


@pytest.fixture(params=IMPLEMENTATIONS)
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Side:
    made = _open(request.param, tmp_path)
    made.owner.create_tasks(
        [
            {"id": "T1", "title": "first", "status": "ready", "priority": 2},
            {"id": "T2", "title": "urgent", "status": "ready", "priority": 1},
            {"id": "T3", "title": "later", "status": "blocked", "dependencies": ["T1"]},
        ]
    )
    return made


def test_it_is_a_board_client(side: Side) -> None:
    assert isinstance(side.client, BoardClient)
    assert side.client.snapshot().tasks.keys() == {"T1", "T2", "T3"}


def test_claim_leases_the_task_with_a_fence(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    assert (lease.agent, lease.host, lease.ttl) == (side.agent, side.host, 60)
    task = side.owner.snapshot().tasks["T1"]
    assert task.status == "in_progress" and task.lease == lease
    with pytest.raises(LeaseConflict):
        side.client.claim("T1", side.agent, side.host, 60)
    with pytest.raises(UnknownTask):
        side.client.claim("T404", side.agent, side.host, 60)


def test_claim_next_takes_the_first_of_next_up(side: Side) -> None:
    ranked = side.client.next_up(side.agent)
    assert [t.id for t in ranked.tasks] == ["T2", "T1"] and ranked.why is None
    got = side.client.claim_next(side.agent, ttl=60)
    assert got is not None and got.id == "T2" and got.lease is not None
    assert got.lease.agent == side.agent and got.lease.host == side.host
    assert side.owner.snapshot().tasks["T2"].lease == got.lease
    second = side.client.claim_next(side.agent, ttl=60)
    assert second is not None and second.id == "T1"
    # the builders' WIP is 2 in the generated config: nothing more, and the reason says so
    assert side.client.claim_next(side.agent, ttl=60) is None
    why = side.client.next_up(side.agent).why
    assert why is not None and why.wip_limit is not None and "WIP" in why.reason


def test_heartbeat_extends_the_lease(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    side.clock.advance(30)
    beat = side.client.heartbeat("T1", lease.fence)
    assert beat.fence == lease.fence and beat.expires > lease.expires
    assert side.owner.snapshot().tasks["T1"].lease == beat


def test_submit_records_the_result_for_review(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    out = side.folder / "out.txt"
    out.write_text("result\n", encoding="utf-8")
    art = Artifact(path=str(out), sha256=sha256_file(out), size=out.stat().st_size)
    task = side.client.submit("T1", lease.fence, [art], {"loss": 0.5})
    assert task.status == "awaiting_test" and task.metrics == {"loss": 0.5}
    (recorded,) = side.owner.snapshot().tasks["T1"].artifacts
    assert (recorded.sha256, recorded.size) == (art.sha256, art.size)


def test_release_gives_the_task_back(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    side.client.release("T1", lease.fence, "not mine after all")
    task = side.owner.snapshot().tasks["T1"]
    assert task.status == "ready" and task.lease is None


def test_a_stale_fence_is_refused_and_changes_nothing(side: Side) -> None:
    old = side.client.claim("T1", side.agent, side.host, 60)
    side.clock.advance(61)
    assert side.owner.expire_leases() == ["T1"]
    new = side.client.claim("T1", side.agent, side.host, 60)
    assert new.fence > old.fence
    before = side.owner.snapshot().seq
    for call in (
        lambda: side.client.heartbeat("T1", old.fence),
        lambda: side.client.submit("T1", old.fence, [], {"loss": 9.0}),
        lambda: side.client.release("T1", old.fence),
    ):
        with pytest.raises(StaleFence) as caught:
            call()
        assert (caught.value.given, caught.value.current) == (old.fence, new.fence)
    task = side.owner.snapshot().tasks["T1"]
    assert side.owner.snapshot().seq == before
    assert task.lease == new and task.metrics == {}


def test_an_agent_acts_only_from_its_own_host(side: Side) -> None:
    with pytest.raises(NotPermitted, match="runs on"):
        side.client.claim("T1", side.stranger, side.host, 60)
    with pytest.raises(NotPermitted):
        side.client.claim_next(side.stranger, ttl=60, host=side.host)
    assert side.owner.snapshot().tasks["T1"].lease is None


def test_a_name_the_config_does_not_know_claims_nothing(side: Side) -> None:
    with pytest.raises(LeaseConflict, match="not an agent in sprintboard.toml"):
        side.client.claim("T1", "mallory", side.host, 60)
    assert side.owner.snapshot().tasks["T1"].lease is None


def test_no_agent_moves_its_task_to_done(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    with pytest.raises(SprintboardError):
        side.client.move("T1", "done", f"{side.agent}@{side.host}", fence=lease.fence)
    assert side.owner.snapshot().tasks["T1"].status == "in_progress"


def test_the_lease_holder_blocks_its_task_with_the_reason(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    task = side.client.move(
        "T1", "blocked", f"{side.agent}@{side.host}", reason="no GPU memory", fence=lease.fence
    )
    assert (task.status, task.blocked_reason, task.lease) == ("blocked", "no GPU memory", None)


def test_a_note_is_written_only_under_the_writers_lease(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    actor = f"{side.agent}@{side.host}"
    (event,) = side.client.apply(
        [EventDraft("note.add", "T1", {"text": "halfway"}, actor, lease.fence)]
    )
    assert (event.op, event.actor, event.fence) == ("note.add", actor, lease.fence)
    with pytest.raises(SprintboardError):  # T2 is not the writer's
        side.client.apply([EventDraft("note.add", "T2", {"text": "x"}, actor, lease.fence)])
    notes = [e for e in side.owner.events() if e.op == "note.add"]
    assert [(e.task, e.fields["text"]) for e in notes] == [("T1", "halfway")]


def test_show_is_the_whole_task(side: Side) -> None:
    side.owner.update_task(
        "T1",
        {
            "description": "Do the first thing.",
            "criteria": [{"text": "out.txt exists", "check": "file_exists out.txt"}],
        },
    )
    doc = side.client.task("T1")
    assert (doc.id, doc.title, doc.status, doc.description) == (
        "T1",
        "first",
        "ready",
        "Do the first thing.",
    )
    assert [(c.text, c.check, c.done) for c in doc.criteria] == [
        ("out.txt exists", "file_exists out.txt", False)
    ]
    assert doc == side.owner.task("T1")
    assert [(d.id, d.status) for d in side.client.task("T3").dependencies] == [("T1", "ready")]
    with pytest.raises(UnknownTask):
        side.client.task("T404")


def test_a_note_by_the_lease_holder_shows_in_the_task(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    note = side.client.note("T1", "halfway there", side.agent, lease.fence)
    assert (note.text, note.actor, note.task) == (
        "halfway there",
        f"{side.agent}@{side.host}",
        "T1",
    )
    assert [(n.text, n.actor) for n in side.client.task("T1").notes] == [
        ("halfway there", f"{side.agent}@{side.host}")
    ]
    before = side.owner.snapshot().seq
    with pytest.raises(SprintboardError):  # a fence that is not the lease's
        side.client.note("T1", "late", side.agent, lease.fence + 100)
    with pytest.raises(SprintboardError):  # T2 is not the writer's
        side.client.note("T2", "not mine", side.agent, lease.fence)
    assert side.owner.snapshot().seq == before


def test_a_question_waits_for_a_person_and_the_answer_shows(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    asked = side.client.ask("T1", "Which split, 80/20 or 90/10?", side.agent, lease.fence)
    doc = side.client.task("T1")
    assert doc.waiting_for_person and doc.lease is not None and doc.lease.fence == lease.fence
    (q,) = doc.questions
    assert (q.id, q.text, q.answer) == (asked.id, "Which split, 80/20 or 90/10?", None)
    got = side.client.answer("T1", "90/10", "human:ana")
    assert (got.id, got.answer) == (asked.id, "90/10")
    assert got.answered_by is not None and got.answered_by.startswith("human:ana")
    doc = side.client.task("T1")
    assert not doc.waiting_for_person and doc.questions[0].answer == "90/10"
    with pytest.raises(SprintboardError, match="no open question"):
        side.client.answer("T1", "again", "human:ana")
    asked_ops = [e.op for e in side.owner.events() if e.op.startswith("question.")]
    assert asked_ops == ["question.ask", "question.answer"]  # each once


def test_an_agent_does_not_answer_questions(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    side.client.ask("T1", "ok?", side.agent, lease.fence)
    with pytest.raises(SprintboardError):
        side.owner.answer("T1", "yes", f"{side.agent}@{side.host}")
    assert side.client.task("T1").waiting_for_person


def test_an_answer_wakes_the_side_that_asked(side: Side) -> None:
    lease = side.client.claim("T1", side.agent, side.host, 60)
    side.client.ask("T1", "ok to go on?", side.agent, lease.fence)
    while side.client.wait_for_change(0):
        pass  # what happened so far is seen
    # `sprintboard answer`, another process on the owner
    person = LocalBoard(side.owner.root, host="alpha", policy=side.owner.policy, clock=side.clock)
    person.answer("T1", "yes", "human:ana")
    if side.handler is not None:
        assert side.handler.push_answers() == 1  # what the owner's daemon does each pass
    assert side.client.wait_for_change(2.0)
