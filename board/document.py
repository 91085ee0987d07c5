"""The whole task as one document: what `sprintboard show` prints, `show --json` emits, MCP
`get_task` returns and a command worker finds in `task.json` (DESIGN.md contract 4, `task`).

`task_document` is a pure function of the board state, so every door and every host (a
`RemoteBoard` gets the same document from the owner) shows the same thing. The shape is
pinned by `TaskDocument`: a field is added, never renamed, so scripts keep working.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sprintboard.board.models import Lease, Note, Question, Task
from sprintboard.board.state import BoardState

__all__ = [
    "ArtifactDoc",
    "CriterionDoc",
    "DecisionDoc",
    "DependencyDoc",
    "LeaseDoc",
    "NoteDoc",
    "QuestionDoc",
    "StepDoc",
    "TaskDocument",
    "note_doc",
    "question_doc",
    "render_task_page",
    "task_document",
]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CriterionDoc(_Doc):
    """An acceptance criterion and what the Auditor last said about it."""

    index: int
    """0-based position (the `criterion.check` index)."""
    text: str
    done: bool
    check: str | None
    """The machine check (`file_exists PATH`, ...), or None when a person decides."""
    result: str | None
    """The Auditor's last result: the pass detail, or the reason it failed."""
    failed: bool
    """The last machine check did not pass (`result` says why)."""


class ArtifactDoc(_Doc):
    """A content-addressed output; `path` is relative to the owner's workspace root."""

    path: str
    sha256: str
    size: int


class DependencyDoc(_Doc):
    """A task this one waits on, with the outputs it handed in."""

    id: str
    title: str
    status: str
    artifacts: list[ArtifactDoc]


class LeaseDoc(_Doc):
    """Who holds the task now and the fencing token their writes must carry."""

    agent: str
    host: str
    fence: int
    acquired: str
    expires: str
    last_heartbeat: str
    ttl: int
    """Seconds the lease lives without a heartbeat."""


class NoteDoc(_Doc):
    """A progress note about the task."""

    text: str
    actor: str
    ts: str


class QuestionDoc(_Doc):
    """A question asked about the task, and a person's answer once there is one."""

    id: str
    text: str
    actor: str
    ts: str
    answer: str | None
    answered_by: str | None
    answered_at: str | None


class DecisionDoc(_Doc):
    """A decision recorded about the task."""

    text: str
    actor: str
    ts: str


class StepDoc(_Doc):
    """A tool step of the task (contract 5)."""

    tool: str
    config: dict[str, object]


class TaskDocument(_Doc):
    """Everything an agent needs about one task (`sprintboard show TASK --json`)."""

    id: str
    title: str
    description: str
    status: str
    column: str
    priority: int
    """Lower is more urgent."""
    type: str
    role: str
    """The role that works the task."""
    caps: list[str]
    """Capabilities a host or agent needs to take it."""
    estimate: str | None
    """Minutes, `LOW-HIGH min`."""
    criteria: list[CriterionDoc]
    dependencies: list[DependencyDoc]
    steps: list[StepDoc]
    agent: str | None
    """Who the task is assigned to or leased by."""
    lease: LeaseDoc | None
    attempt: int
    """Claims so far; attempt N works in `runs/<task>/<N>/`."""
    artifacts: list[ArtifactDoc]
    metrics: dict[str, float]
    notes: list[NoteDoc]
    """Notes about the task, oldest first."""
    questions: list[QuestionDoc]
    decisions: list[DecisionDoc]
    blocked_reason: str | None
    waiting_for_person: bool
    """An open question waits for a person's answer."""
    origin: str | None
    """`path:line` of the backlog heading the task was imported from, if it was."""
    updated: str | None


def _artifacts(task: Task) -> list[ArtifactDoc]:
    return [ArtifactDoc(path=a.path, sha256=a.sha256, size=a.size) for a in task.artifacts]


def note_doc(note: Note) -> NoteDoc:
    """A note as the document shows it."""
    return NoteDoc(text=note.text, actor=note.actor, ts=note.ts)


def question_doc(q: Question) -> QuestionDoc:
    """A question as the document shows it."""
    return QuestionDoc(
        id=q.id,
        text=q.text,
        actor=q.actor,
        ts=q.ts,
        answer=q.answer,
        answered_by=q.answered_by,
        answered_at=q.answered_at,
    )


def _criteria(task: Task) -> list[CriterionDoc]:
    return [
        CriterionDoc(
            index=i,
            text=c.text,
            done=c.done,
            check=c.check,
            result=c.result,
            failed=not c.done and c.check is not None and c.result is not None,
        )
        for i, c in enumerate(task.criteria)
    ]


def _dependencies(state: BoardState, task: Task) -> list[DependencyDoc]:
    out = []
    for dep_id in task.dependencies:
        dep = state.tasks.get(dep_id)
        out.append(
            DependencyDoc(id=dep_id, title="", status="unknown", artifacts=[])
            if dep is None
            else DependencyDoc(
                id=dep.id, title=dep.title, status=dep.status, artifacts=_artifacts(dep)
            )
        )
    return out


def _lease(lease: Lease) -> LeaseDoc:
    return LeaseDoc(
        agent=lease.agent,
        host=lease.host,
        fence=lease.fence,
        acquired=lease.acquired,
        expires=lease.expires,
        last_heartbeat=lease.last_heartbeat,
        ttl=lease.ttl,
    )


def task_document(state: BoardState, task_id: str) -> TaskDocument:
    """The whole task `task_id` as `show` prints it, from the board state alone.

    Raises:
        UnknownTask: no such task on the board.
    """
    task = state.task(task_id)
    questions = [question_doc(q) for q in state.questions if q.task == task.id]
    return TaskDocument(
        id=task.id,
        title=task.title,
        description=task.description,
        status=task.status,
        column=task.column,
        priority=task.priority,
        type=task.type,
        role=task.role,
        caps=list(task.caps),
        estimate=None if task.estimate is None else str(task.estimate),
        criteria=_criteria(task),
        dependencies=_dependencies(state, task),
        steps=[StepDoc(tool=s.tool, config=dict(s.config)) for s in task.steps],
        agent=task.agent,
        lease=None if task.lease is None else _lease(task.lease),
        attempt=task.attempt,
        artifacts=_artifacts(task),
        metrics=dict(task.metrics),
        notes=[note_doc(n) for n in state.notes if n.task == task.id],
        questions=questions,
        decisions=[
            DecisionDoc(text=d.text, actor=d.actor, ts=d.ts)
            for d in state.decisions
            if d.task == task.id
        ],
        blocked_reason=task.blocked_reason,
        waiting_for_person=any(q.answer is None for q in questions),
        origin=task.origin,
        updated=task.updated,
    )


def _indented(text: str, prefix: str = "  ") -> list[str]:
    return [f"{prefix}{line}" if line else "" for line in text.splitlines()]


def _artifact_line(a: ArtifactDoc, indent: str = "") -> str:
    return f"{indent}- `{a.path}` ({a.size} bytes, sha256 {a.sha256[:12]})"


def render_task_page(doc: TaskDocument) -> str:
    """The task as a readable Markdown page (what `sprintboard show TASK` prints and a
    command worker's PROMPT.md carries), every section of the document in order."""
    out = [f"# {doc.id}: {doc.title}", "", *_page_facts(doc)]
    if doc.description.strip():
        out += ["## Description", "", doc.description.strip(), ""]
    for section in (_page_criteria, _page_dependencies, _page_work, _page_conversation):
        out += section(doc)
    return "\n".join(out).rstrip() + "\n"


def _page_facts(doc: TaskDocument) -> list[str]:
    facts = [
        f"**Status:** {doc.status} ({doc.column})",
        f"**Priority:** P{doc.priority}",
        f"**Role:** {doc.role}",
        f"**Type:** {doc.type}",
    ]
    if doc.caps:
        facts.append(f"**Needs:** {', '.join(doc.caps)}")
    if doc.estimate:
        facts.append(f"**Estimate:** {doc.estimate}")
    facts.append(f"**Attempt:** {doc.attempt}")
    out = [" · ".join(facts), ""]
    if doc.lease is not None:
        ls = doc.lease
        out += [
            f"**Lease:** {ls.agent}@{ls.host}, fence {ls.fence}, expires {ls.expires} "
            f"(last heartbeat {ls.last_heartbeat}, ttl {ls.ttl}s)",
            "",
        ]
    elif doc.agent:
        out += [f"**Assigned to:** {doc.agent} (not leased)", ""]
    if doc.blocked_reason:
        out += [f"**Blocked:** {doc.blocked_reason}", ""]
    if doc.waiting_for_person:
        out += ["**Waiting for a person:** an open question below needs an answer.", ""]
    if doc.origin:
        out += [f"**From:** {doc.origin}", ""]
    return out


def _page_criteria(doc: TaskDocument) -> list[str]:
    if not doc.criteria:
        return []
    out = ["## Acceptance criteria", ""]
    for c in doc.criteria:
        check = f" `check: {c.check}`" if c.check else " (a person decides)"
        out.append(f"{c.index + 1}. [{'x' if c.done else ' '}] {c.text}{check}")
        if c.result is not None:
            out.append(f"   - last check {'FAILED' if c.failed else 'passed'}: {c.result}")
    return [*out, ""]


def _page_dependencies(doc: TaskDocument) -> list[str]:
    if not doc.dependencies:
        return []
    out = ["## Dependencies", ""]
    for d in doc.dependencies:
        out.append(f"- {d.id} {d.title} ({d.status})".replace("  ", " "))
        out += [_artifact_line(a, "  ") for a in d.artifacts]
    return [*out, ""]


def _page_work(doc: TaskDocument) -> list[str]:
    out: list[str] = []
    if doc.steps:
        out += ["## Steps", "", *(f"- `{s.tool}` {s.config}" for s in doc.steps), ""]
    if doc.artifacts or doc.metrics:
        out += ["## Results", "", *(_artifact_line(a) for a in doc.artifacts)]
        out += [f"- {name} = {value:g}" for name, value in sorted(doc.metrics.items())]
        out.append("")
    return out


def _page_conversation(doc: TaskDocument) -> list[str]:
    out: list[str] = []
    if doc.questions:
        out += ["## Questions", ""]
        for q in doc.questions:
            out.append(f"- [{q.id}] {q.actor} asked ({q.ts}):")
            out += _indented(q.text, "  > ")
            if q.answer is None:
                out.append("  _open: waiting for a person (`sprintboard answer`)_")
            else:
                out.append(f"  **Answer** from {q.answered_by} ({q.answered_at}):")
                out += _indented(q.answer, "  ")
        out.append("")
    if doc.notes:
        out += ["## Notes", ""]
        for n in doc.notes:
            first, *rest = n.text.splitlines() or [""]
            out.append(f"- {first} _({n.actor}, {n.ts})_")
            out += _indented("\n".join(rest))
        out.append("")
    if doc.decisions:
        out += ["## Decisions", "", *(f"- {d.text} _({d.actor}, {d.ts})_" for d in doc.decisions)]
        out.append("")
    return out
