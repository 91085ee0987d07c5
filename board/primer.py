"""The primer: what an outside coding agent (Claude Code, Codex, any MCP client) needs to
know to work this board, to paste into its AGENTS.md / CLAUDE.md (`sprintboard prime`,
the MCP prompt `primer`, the top of a command worker's PROMPT.md).

Made from the workspace (the sprint, the config's owner, TTL and the agent's role and
capabilities), so it names this board's real values. Every command and MCP tool it names
exists (tests/board/test_primer.py checks), and it stays between `MIN_BYTES` and
`MAX_BYTES` so it fits an agent's instructions file.
"""

from __future__ import annotations

from sprintboard.board.state import BoardState
from sprintboard.config import WorkspaceConfig

__all__ = ["MAX_BYTES", "MIN_BYTES", "PRIMER_TOOLS", "primer"]

MIN_BYTES = 400
MAX_BYTES = 8_000

PRIMER_TOOLS: tuple[str, ...] = (
    "claim_next",
    "get_task",
    "heartbeat",
    "note",
    "ask",
    "complete",
    "release",
    "block",
    "next_task",
    "list_tasks",
)
"""The MCP tools the primer names, in the order an agent uses them."""


def _who(config: WorkspaceConfig, agent: str | None) -> list[str]:
    if agent is None:
        listed = ", ".join(f"{a.name} ({a.role}@{a.host})" for a in config.agents) or "none"
        return [
            "## You",
            "",
            "Use your agent name everywhere below as AGENT. Agents in sprintboard.toml: "
            f"{listed}. A name it does not list has no role"
            + (
                "; with open claims it may take builder work and write about the task it holds."
                if config.board.open_claims
                else " and may claim nothing here."
            ),
        ]
    conf = next((a for a in config.agents if a.name == agent), None)
    if conf is None:
        rule = (
            "`[board] open_claims` is on: you may claim builder work and write about the task "
            "you hold (with its fence), never finish one."
            if config.board.open_claims
            else "`[board] open_claims` is off: ask a person to add you under `[[agents]]`."
        )
        return ["## You", "", f"You are `{agent}`, not listed in sprintboard.toml. {rule}"]
    caps = ", ".join(conf.caps) or "none"
    wip = conf.wip if conf.wip is not None else config.wip.get(conf.role, "no limit")
    return [
        "## You",
        "",
        f"You are `{agent}`: role **{conf.role}** on host `{conf.host}`, capabilities: {caps}; "
        f"tasks you may hold at once: {wip}. Run the commands on `{conf.host}` (the config "
        "ties you to it); AGENT below is your name.",
    ]


def primer(state: BoardState, config: WorkspaceConfig, agent: str | None = None) -> str:
    """The primer for `agent` (or any agent), as Markdown of MIN_BYTES..MAX_BYTES bytes."""
    ttl = config.board.default_ttl
    beat = max(1, ttl // 3)
    sprint = state.sprint
    goal = f"**{sprint.id}**: {sprint.goal or '(no goal stated)'}" if sprint.id else "none yet"
    open_tasks = sum(1 for t in state.tasks.values() if t.status not in ("done", "cancelled"))
    lines = [
        "# Working on this sprintboard board",
        "",
        "Tasks here live on one journal-backed board shared by AI agents and people. Host "
        f"`{config.board.owner}` owns it (writes `sprints/events.jsonl`); any host works it "
        "through the same commands. Current sprint: "
        f"{goal} ({open_tasks} open of {len(state.tasks)} tasks).",
        "",
        *_who(config, agent),
        "",
        "## Protocol",
        "",
        "1. Take work: `sprintboard claim-next --agent AGENT --json` prints the task id, "
        "your fencing token (`fence`) and when the lease expires. Export it: "
        "`export SPRINTBOARD_FENCE=N` (commands below default `--fence` to it).",
        "2. Read the whole task: `sprintboard show TASK` (or `--json`): description, "
        "acceptance criteria with their checks and last results, dependencies and the files "
        "they produced, notes, questions and answers.",
        f"3. Heartbeat every {beat} s while you work (the lease lives {ttl} s without one): "
        "`sprintboard heartbeat TASK --fence N --message 'what you are doing'`. A refused "
        "heartbeat (stale fence) means you lost the task: stop and claim again.",
        "4. Leave progress notes people read on the board: "
        "`sprintboard note TASK 'TEXT' --as AGENT`.",
        "5. Stuck on something only a person can decide? "
        "`sprintboard ask TASK 'QUESTION' --as AGENT` prints the question id; keep "
        "heartbeating and check `sprintboard show TASK` for the answer.",
        "6. Hand in: `sprintboard submit TASK --fence N --artifact PATH --metric NAME=VALUE "
        "--message 'summary'`. The Auditor checks each criterion; if one fails, the task "
        "comes back and `sprintboard show TASK` says which and why.",
        "7. Cannot finish? `sprintboard release TASK --fence N --reason 'why'` gives it back.",
        "",
        "What is next without claiming: `sprintboard next --agent AGENT`; the whole board: "
        "`sprintboard status`. Print this primer again: `sprintboard prime --agent AGENT`.",
        "",
        "## MCP",
        "",
        "`sprintboard mcp` serves the same powers over stdio: "
        + ", ".join(f"`{t}`" for t in PRIMER_TOOLS)
        + ". Use `claim_next(agent)` then `get_task(task)`; pass the fence to `heartbeat`, "
        "`note`, `ask`, `complete` and `release`.",
        "",
        "## Rules",
        "",
        "- Never edit `sprints/SPRINT_QUEUE.json`, `sprints/events.jsonl` or the task lines "
        "of `KANBAN.md`: the journal is the truth and they are rendered from it. Change the "
        "board only through the commands or tools above.",
        "- Write only about the task you hold, with its current fence; a stale fence is "
        "refused and nothing is recorded.",
        "- Put outputs under `runs/TASK/ATTEMPT/` and submit them as artifacts (paths "
        "relative to the workspace); the Auditor checks files, metrics and commands.",
        "- Only the Auditor marks a task done, and only when every criterion is checked.",
    ]
    return "\n".join(lines) + "\n"
