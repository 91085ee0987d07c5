"""CLI command groups, one module per room; each is a thin layer over the public API.

`COMMANDS` says which room module holds each top-level command, in `sprintboard --help`
order. The root app imports a room only when one of its commands runs (see `lazy_group`),
so a new command needs a line here as well as the `register` call in its room.

Inside a room module, each command imports what it calls in its own body: `sprintboard
next` then loads only the next-up code, not every command's (tests/test_cli_lazy.py).
Those function-level imports buy start-up time; tests/test_layering.py still checks them.
"""

from __future__ import annotations

__all__ = ["AGENT_COMMANDS", "COMMANDS"]

COMMANDS: dict[str, str] = {
    # commands
    "init": "core",
    "status": "core",
    "add": "core",
    "edit": "core",
    "move": "core",
    "claim": "core",
    "claim-next": "core",
    "show": "show",
    "prime": "show",
    "heartbeat": "core",
    "release": "core",
    "submit": "core",
    "note": "conversation",
    "ask": "conversation",
    "answer": "conversation",
    "log": "core",
    "validate": "core",
    "doctor": "core",
    "mcp": "doors",
    "serve": "doors",
    "import": "sprints",
    "export": "sprints",
    "graph": "sprints",
    "next": "sprints",
    "standup": "memory",
    "report": "memory",
    "watch": "board",
    "join": "a2a",
    "migrate": "store",
    # groups
    "board": "board",
    "tools": "tools",
    "models": "models",
    "agents": "agents",
    "a2a": "a2a",
}

AGENT_COMMANDS: frozenset[str] = frozenset(
    {
        "status",
        "next",
        "show",
        "prime",
        "claim",
        "claim-next",
        "heartbeat",
        "submit",
        "release",
        "note",
        "ask",
        "answer",
        "mcp",
    }
)
"""The commands an agent runs, which work from any host: on one that is not the owner they
open a `RemoteBoard` (`a2a.node.open_client`) and wait `--timeout` for the owner
(tests/a2a/test_join_remote.py runs each from a host whose owner is away)."""
