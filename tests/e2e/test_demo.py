"""`make demo`, smaller: two hosts as separate processes run the whole sprint, a person steers it."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from sprintboard.a2a.ledger import Ledger
from sprintboard.board.models import Event
from sprintboard.config import load_config
from sprintboard.demo import PERSON, DemoResult, main
from sprintboard.workspace import open_board

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    story = io.StringIO()
    result = main(tmp_path_factory.mktemp("demo"), scale=0.3, iters=20, timeout=150, out=story)
    return result, story.getvalue()


def _events(result: DemoResult) -> list[Event]:
    return open_board(result.workspace, host="alpha").events()


def test_every_task_but_the_blocked_one_is_done_once_by_the_auditor(
    demo: tuple[DemoResult, str],
) -> None:
    result, _ = demo
    state, events = result.state, _events(result)
    assert len(state.tasks) == 12  # 5 audits, dedup, report, mix, split, train, eval, card
    rest = {t.id for t in state.tasks.values()} - {result.person.blocked}
    assert {state.tasks[t].status for t in rest} == {"done"}
    for task_id in rest:
        task = state.tasks[task_id]
        assert task.criteria and all(c.done and c.check for c in task.criteria), task_id
        grants = [e for e in events if e.op == "lease.grant" and e.task == task_id]
        dones = [e for e in events if e.op == "task.move" and e.task == task_id
                 and e.fields["to"] == "done"]  # fmt: skip
        assert len(grants) == 1 and len(dones) == 1, task_id
        assert dones[0].actor == "auditor-1@alpha"
    for art in (a for t in state.tasks.values() for a in t.artifacts):
        data = (result.workspace / art.path).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (art.sha256, art.size)


def test_training_runs_on_beta_and_comes_back_as_blobs(demo: tuple[DemoResult, str]) -> None:
    result, story = demo
    state, events, ws = result.state, _events(result), result.workspace
    train = next(t for t in state.tasks.values() if t.title.startswith("Train"))
    evaluation = next(t for t in state.tasks.values() if t.title.startswith("Evaluate"))
    for task in (train, evaluation):
        (grant,) = [e for e in events if e.op == "lease.grant" and e.task == task.id]
        assert grant.fields["host"] == "beta" and grant.actor == "builder-beta@beta"
    names = {Path(a.path).name for a in train.artifacts}
    assert "adapters.safetensors" in names
    blobs = ws / ".a2a" / "blobs"
    assert all((blobs / a.sha256).is_file() for a in train.artifacts)
    handled = [(line.action, line.ref) for line in Ledger(ws / ".a2a", "alpha").lines()]
    assert any(action == "complete" and train.id in ref for action, ref in handled)
    for host in ("alpha", "beta"):  # every message was handled once: none refused as a replay
        assert not list((ws / ".a2a" / host / "quarantine").iterdir()), host
    assert train.metrics["val_loss"] < 5.5 and evaluation.metrics["test_loss"] < 5.5
    assert f"test_loss {evaluation.metrics['test_loss']:.3f}" in story


def test_betas_folder_is_made_by_join(demo: tuple[DemoResult, str]) -> None:
    result, _ = demo
    beta = result.workspace.parent / "beta"
    config = load_config(beta)  # join's own: its host, and the owner's A2A directory
    assert config.local_host == "beta" and config.board.owner == "alpha"
    assert Path(config.a2a.dir) == result.workspace / ".a2a"
    for name in ("data", "models", "runs"):
        assert (beta / name).resolve() == result.workspace / name
    assert not (beta / "sprints").exists() and not (beta / "KANBAN.md").exists()


def test_the_person_edit_is_honoured(demo: tuple[DemoResult, str]) -> None:
    result, story = demo
    state, events, person = result.state, _events(result), result.person
    human = [e for e in events if e.actor == PERSON]
    assert human and all(e.seq <= person.at_seq for e in human)
    raised = [e for e in human if e.task == person.raised and e.fields.get("priority") == 1]
    assert raised and state.tasks[person.raised].priority == 1
    # The optional task stays blocked, with the reason, and nobody ever claims it.
    blocked = state.tasks[person.blocked]
    assert (blocked.status, blocked.blocked_reason) == ("blocked", person.reason)
    assert not [e for e in events if e.task == person.blocked and e.op == "lease.grant"]
    assert any(d.text == person.decision for d in state.decisions)
    assert any(e.op == "decision.add" and e.fields["text"] == person.decision for e in human)
    # Audits are claimed in id order at equal priority, so without the raise the last one
    # would go last; with it, it goes before the audits still waiting when it was raised.
    audits = [e.task for e in events if e.op == "lease.grant"
              and state.tasks[e.task or ""].title.startswith("Audit ")]  # fmt: skip
    assert person.raised == max(audits) and audits[-1] != person.raised, audits
    later = audits[audits.index(person.raised) + 1 :]
    assert later and all(t < person.raised for t in later), audits
    assert f"task.update {person.raised} priority=1" in story


def test_the_faults_are_found_and_the_records_are_written(demo: tuple[DemoResult, str]) -> None:
    result, story = demo
    ws, state = result.workspace, result.state
    audit = next(t for t in state.tasks.values() if t.title == "Audit smalltalk")
    rejects = ws / "runs" / audit.id / "1" / "smalltalk.rejects.jsonl"
    # the empty assistant turn, the role alternation error and the truncated last line
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 3
    backlog = (ws / "sprints" / "S1" / "BACKLOG.md").read_text(encoding="utf-8")
    assert all(task in backlog for task in state.tasks)
    queue = json.loads((ws / "sprints" / "SPRINT_QUEUE.json").read_text(encoding="utf-8"))
    assert queue
    assert result.standup.parent == ws / "memory" and "Train" in result.standup.read_text(
        encoding="utf-8"
    )
    assert result.burndown.read_bytes().startswith(b"\x89PNG")
    assert "where to look:" in story and str(ws / "KANBAN.md") in story


def test_a_command_worker_writes_the_model_card_and_the_auditor_checks_its_run(
    demo: tuple[DemoResult, str],
) -> None:
    result, story = demo
    state, events, ws = result.state, _events(result), result.workspace
    card = next(t for t in state.tasks.values() if t.title == "Write the model card")
    evaluation = next(t for t in state.tasks.values() if t.title.startswith("Evaluate"))
    assert not card.steps and card.status == "done" and card.dependencies == [evaluation.id]
    (grant,) = [e for e in events if e.op == "lease.grant" and e.task == card.id]
    assert grant.actor == "writer-alpha@alpha"
    assert card.criteria[0].check is not None and "/MODEL_CARD.md" in card.criteria[0].check
    text = (ws / "runs" / card.id / "1" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"| test_loss | {evaluation.metrics['test_loss']:.4f} |" in text
    assert f"runs/{card.id}/1/MODEL_CARD.md" in {a.path for a in card.artifacts}
    notes = [n for n in state.notes if n.task == card.id]
    assert notes and notes[-1].actor == "writer-alpha@alpha"
    assert f"MODEL_CARD.md written from {evaluation.id}" in notes[-1].text
    assert f"{card.id} had no tool steps: writer-alpha@alpha" in story
