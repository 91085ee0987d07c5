"""The A2A agent card of a host: what `sprintboard a2a http` tells other agents it can do."""

from __future__ import annotations

from typing import Any

from a2a.types import a2a_pb2 as pb
from a2a.utils.constants import PROTOCOL_VERSION_CURRENT, TransportProtocol

from sprintboard.config import WorkspaceConfig

__all__ = ["ENVELOPE_MEDIA", "agent_card"]

ENVELOPE_MEDIA = "application/vnd.sprintboard.envelope+json"

_ROLE_TEXT = {
    "planner": "turns an objective or backlog into tasks with criteria and dependencies",
    "negotiator": "matches ready tasks to agents and hosts; recovers stale leases",
    "builder": "runs a task's tool steps and records artifacts and metrics",
    "auditor": "checks acceptance criteria and moves tasks to done or back",
}


def agent_card(config: WorkspaceConfig, host: str, url: str) -> Any:
    """The host's `AgentCard`: one skill per capability, one per agent role on the host,
    and the envelope skill that takes board messages."""
    caps = next((h.caps for h in config.hosts if h.name == host), [])
    roles = sorted({a.role for a in config.agents if a.host == host})
    skills = [
        pb.AgentSkill(
            id="sprintboard.envelope",
            name="board messages",
            description=(
                "Signed sprintboard envelopes for the board owner: request (claim, ready, "
                "snapshot, apply), accept, decline, heartbeat, progress, result, handoff."
            ),
            tags=["sprintboard", "board"],
            input_modes=[ENVELOPE_MEDIA],
            output_modes=[ENVELOPE_MEDIA],
        )
    ]
    skills += [
        pb.AgentSkill(
            id=f"cap.{cap}",
            name=cap,
            description=f"runs tasks that need the `{cap}` capability",
            tags=["capability", cap],
        )
        for cap in caps
    ]
    skills += [
        pb.AgentSkill(id=f"role.{role}", name=role, description=_ROLE_TEXT[role], tags=["role"])
        for role in roles
    ]
    owner = " (board owner)" if host == config.board.owner else ""
    return pb.AgentCard(
        name=f"sprintboard {config.board.name} @ {host}",
        description=f"sprintboard host {host}{owner}: hand tasks over with signed envelopes.",
        version="1",
        supported_interfaces=[
            pb.AgentInterface(
                url=url,
                protocol_binding=TransportProtocol.JSONRPC,
                protocol_version=PROTOCOL_VERSION_CURRENT,
            )
        ],
        capabilities=pb.AgentCapabilities(streaming=False, push_notifications=False),
        default_input_modes=[ENVELOPE_MEDIA],
        default_output_modes=[ENVELOPE_MEDIA, "text/plain"],
        skills=skills,
    )
