"""`sprintboard.toml`: hosts, agents and their capabilities, WIP limits, LLM endpoint, A2A.

Every table is a frozen pydantic model with `extra="forbid"`, so a typo is an error that
names the file and the key. `load_config` is the one place precedence lives.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sprintboard.errors import ConfigError

__all__ = [
    "CONFIG_FILE",
    "A2AConfig",
    "AgentConfig",
    "AuditorConfig",
    "BoardConfig",
    "HostConfig",
    "KanbanConfig",
    "DEFAULT_LLM_BASE_URL",
    "LLMConfig",
    "WorkspaceConfig",
    "current_host",
    "load_config",
]

CONFIG_FILE = "sprintboard.toml"


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BoardConfig(_Table):
    owner: str
    """The one host that writes the journal (DESIGN.md: one authority)."""
    name: str = "sprintboard"
    lock_timeout: float = Field(30.0, gt=0)
    """Seconds to wait for the board lock."""
    default_ttl: int = Field(900, gt=0)
    """Seconds a lease lives without a heartbeat."""
    open_claims: bool = False
    """Agents not listed under `[[agents]]` may claim builder work (never finish it)."""


class HostConfig(_Table):
    name: str
    caps: list[str] = Field(default_factory=list)
    ssh: str | None = None
    """Address `mlx.launch` reaches this host at for distributed training (an IP, which the
    ring backend needs, or an ssh name that resolves to one); a train step's `hosts` may
    then name the host."""


class AgentConfig(_Table):
    name: str
    role: Literal["planner", "negotiator", "builder", "auditor"]
    host: str
    caps: list[str] = Field(default_factory=list)
    wip: int | None = Field(None, ge=1)
    """Tasks this agent may hold at once."""


DEFAULT_LLM_BASE_URL = "https://api.openai.com/v1"


class LLMConfig(_Table):
    """`[llm]`: where the model lives and how patiently to ask it (the one model of this table).

    ``base_url`` None means `$OPENAI_BASE_URL`, else the OpenAI API. The key is read from the
    environment variable named by ``api_key_env`` so no secret sits in a synced file.
    """

    base_url: str | None = None
    model: str = "default_model"
    """Model name sent to the endpoint; a local `mlx_lm server` serves the model it loaded."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable that holds the key (never the key itself)."""
    timeout: float = Field(60.0, gt=0)
    """Seconds to wait for one HTTP answer."""
    max_retries: int = Field(3, ge=0)
    """Tries after the first for a transient failure (429, 5xx, timeouts)."""

    def resolved_base_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The endpoint: the configured URL, else `$OPENAI_BASE_URL`, else the OpenAI API."""
        env = os.environ if environ is None else environ
        return (self.base_url or env.get("OPENAI_BASE_URL") or DEFAULT_LLM_BASE_URL).rstrip("/")

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The key from the environment variable ``api_key_env``, or None when unset."""
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) or None


class A2AConfig(_Table):
    dir: str = ".a2a"
    transport: Literal["dir", "git"] = "dir"
    ttl: int = Field(3600, gt=0)
    """Seconds a message stays valid."""
    max_skew: int = Field(600, ge=0)
    """Seconds of clock difference tolerated between hosts."""
    remote: str | None = None
    """Git remote URL, for `transport = "git"`."""


_KANBAN_SECTIONS = (
    "done", "in_progress", "review", "ready", "backlog", "blocked", "decisions", "notes"
)  # fmt: skip


class KanbanConfig(_Table):
    sections: dict[str, str] = Field(default_factory=dict)
    """Column or section name -> heading text, e.g. `done = "✅ Done"`."""
    auto_commit: bool = False
    """Commit the board files after each change, with a message saying what changed."""
    push: bool = False
    """After a sync, push the commits (pull and retry on rejection, never force)."""
    remote: str = "origin"
    polling: bool = False
    """Watch KANBAN.md by polling (network or synced folders, where inotify sees nothing)."""
    debounce: float = Field(0.05, gt=0)
    """Seconds without a new file event before the watcher reads an edit."""
    rescan: float = Field(2.0, gt=0)
    """Seconds between checks that need no file event (inotify can drop events)."""

    @model_validator(mode="after")
    def _known_sections(self) -> KanbanConfig:
        for name in self.sections:
            if name.replace(" ", "_").replace("-", "_").lower() not in _KANBAN_SECTIONS:
                raise ValueError(
                    f"[kanban] sections: unknown section {name!r}; use one of "
                    f"{', '.join(_KANBAN_SECTIONS)}"
                )
        return self

    def headings(self) -> dict[str, str]:
        """Section key (`in_progress`) -> heading text, for the renderer and parser."""
        return {k.replace(" ", "_").replace("-", "_").lower(): v for k, v in self.sections.items()}


class AuditorConfig(_Table):
    allow_commands: list[str] = Field(default_factory=list)
    """Commands a `check: command ...` may run: whole argv, matched token for token;
    `*` stands for one data argument and a last `...` for any number (sprintboard.allowlist)."""

    @field_validator("allow_commands")
    @classmethod
    def _parses(cls, entries: list[str]) -> list[str]:
        from sprintboard.allowlist import AllowList

        AllowList.parse(entries)
        return entries


class WorkspaceConfig(_Table):
    """The whole `sprintboard.toml`."""

    board: BoardConfig
    hosts: list[HostConfig] = Field(default_factory=list)
    agents: list[AgentConfig] = Field(default_factory=list)
    wip: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    """Role -> tasks that role may hold at once across the board."""
    llm: LLMConfig = LLMConfig()
    a2a: A2AConfig = A2AConfig()
    kanban: KanbanConfig = KanbanConfig()
    auditor: AuditorConfig = AuditorConfig()

    @model_validator(mode="after")
    def _consistent(self) -> WorkspaceConfig:
        names = [h.name for h in self.hosts]
        if self.hosts and self.board.owner not in names:
            raise ValueError(f"board.owner {self.board.owner!r} is not one of the hosts {names}")
        for agent in self.agents:
            if self.hosts and agent.host not in names:
                raise ValueError(f"agent {agent.name!r} runs on unknown host {agent.host!r}")
        seen: set[str] = set()
        for agent in self.agents:
            if agent.name in seen:
                raise ValueError(f"agent name {agent.name!r} is used twice")
            seen.add(agent.name)
        return self

    def host(self, name: str) -> HostConfig | None:
        return next((h for h in self.hosts if h.name == name), None)


def load_config(workspace: Path) -> WorkspaceConfig:
    """Read and validate `<workspace>/sprintboard.toml`.

    Raises:
        ConfigError: the file is missing, not TOML, or a key is wrong (file and key named).
    """
    path = Path(workspace) / CONFIG_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            path, None, "not found; run `sprintboard init` to make a workspace"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path, None, f"not UTF-8 (byte {exc.start}); save the file as UTF-8"
        ) from None
    try:
        return WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or None
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(path, key, f"{err['msg']}{more}") from None


def current_host(config: WorkspaceConfig, override: str | None = None) -> str:
    """This process's host name: `--host`, else `$SPRINTBOARD_HOST`, else the board owner."""
    return override or os.environ.get("SPRINTBOARD_HOST") or config.board.owner
