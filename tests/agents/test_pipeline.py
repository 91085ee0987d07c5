"""The shipped recipe on a small generated dataset runs to done on one host, 3 Builders, WIP kept."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from sprintboard.agents.hosting import run_host
from sprintboard.agents.runner import PlanRequest, RunnerOptions
from sprintboard.board.models import Event
from sprintboard.memory.report import write_report
from sprintboard.workspace import open_board


def _concurrency(events: list[Event]) -> tuple[int, dict[str, int]]:
    """Most builder leases held at once, overall and per agent, replayed from the journal."""
    held: dict[str, str] = {}
    most, per_agent = 0, {}
    for e in events:
        if e.op == "lease.grant" and e.task:
            held[e.task] = e.fields["agent"]
        elif e.task in held and (
            e.op in ("lease.release", "lease.expire")
            or (e.op == "task.move" and e.fields["to"] not in ("in_progress",))
        ):
            del held[e.task]
        most = max(most, len(held))
        for agent in set(held.values()):
            per_agent[agent] = max(per_agent.get(agent, 0), list(held.values()).count(agent))
    return most, per_agent


def test_finetune_recipe_runs_to_done_with_three_builders(
    workspace: Path, sources: Callable[..., list[str]], tiny_model: Path
) -> None:
    srcs = sources(workspace, count=4)
    plan = PlanRequest(
        "fine-tune the tiny model", "finetune", {"sources": srcs, "model": str(tiny_model)}
    )

    summary = run_host(workspace, "alpha", RunnerOptions(once=True, tick=0.2), plan=plan)

    board = open_board(workspace)
    state = board.snapshot()
    assert summary.planned == 9 and summary.plan_source == "recipe"
    assert {t.status for t in state.tasks.values()} == {"done"}, {
        t.id: (t.status, t.blocked_reason) for t in state.tasks.values()
    }
    events = board.events()
    most, per_agent = _concurrency(events)
    assert most == 3, "four audits, three builders: three run at once, never four"
    assert per_agent and max(per_agent.values()) == 1  # each builder's WIP is 1
    assert len({e.fields["agent"] for e in events if e.op == "lease.grant"}) == 3
    # Every task was claimed, submitted and accepted exactly once.
    for op, to in (("lease.grant", None), ("task.move", "awaiting_test"), ("task.move", "done")):
        hits = [e.task for e in events if e.op == op and (to is None or e.fields["to"] == to)]
        assert sorted(hits) == sorted(state.tasks), (op, to)
    # Done moves come from the Auditor, with every criterion checked.
    assert {e.actor for e in events if e.op == "task.move" and e.fields["to"] == "done"} == {
        "auditor-1@alpha"
    }
    assert all(c.done for t in state.tasks.values() for c in t.criteria)
    # Artifacts are real files under runs/<task>/<attempt>/ with the recorded hash and size.
    train, evaluation = state.tasks["T008"], state.tasks["T009"]
    assert any(a.path == "runs/T008/1/adapter/adapters.safetensors" for a in train.artifacts)
    for task in state.tasks.values():
        assert task.artifacts
        for art in task.artifacts:
            data = (workspace / art.path).read_bytes()
            assert art.path.startswith(f"runs/{task.id}/1/")
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (art.sha256, art.size)
    assert train.metrics["val_loss"] < 5.5 and "test_loss" in evaluation.metrics
    assert any("Assigned T001 to builder-1@alpha" in d.text for d in state.decisions)
    assert (workspace / ".sprintboard" / "checkpoints.sqlite").is_file()
    backlog = (workspace / "sprints" / "S1" / "BACKLOG.md").read_text(encoding="utf-8")
    assert "T001" in backlog and "T009" in backlog and "Train a LoRA adapter" in backlog
    # the report reads the real train and eval steps' metrics back from the board
    report = write_report(board, workspace / "out", as_html=True)
    runs = {r.task: r for r in report.burndown.training}
    assert sorted(runs) == ["T008", "T009"] and runs["T009"].tools == ["eval"]
    assert runs["T008"].metrics["val_loss"] == train.metrics["val_loss"]
    assert "test_ppl" in runs["T009"].metrics and all(c.done for c in runs["T008"].checks)
    assert report.html is not None and 'id="metrics-T009"' in report.html.read_text("utf-8")
