"""`sprintboard.toml`: hosts, agents and their capabilities, WIP limits, LLM endpoint, A2A.

Every table is a frozen pydantic model with `extra="forbid"`, so a typo is an error that
names the file and the key. `load_config` is the one place precedence lives.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from sprintboard.errors import ConfigError, field_name, problem_text
from sprintboard.files import CONFIG_FILE, LOCAL_FILE

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
    "LOCAL_FILE",
    "NotifyConfig",
    "ToolsConfig",
    "WORKER_PLACEHOLDERS",
    "WorkerKind",
    "WorkersConfig",
    "WorkspaceConfig",
    "current_host",
    "load_config",
]


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
    store: str | None = None
    """`postgresql://USER@HOST:PORT/DB`: the board lives in PostgreSQL (DESIGN.md contract
    13) and every host writes it directly; unset: the file journal, written by `owner`.
    Never a password: libpq's `PGPASSWORD` or `~/.pgpass`, or `dsn_env`."""
    dsn_env: str | None = None
    """Name of an environment variable holding the whole connection string (password
    included) to use instead of `store`."""

    @field_validator("store")
    @classmethod
    def _store_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"{url!r}: give a postgresql://USER@HOST:PORT/DB URL")
        authority = url.split("://", 1)[1].split("/", 1)[0]
        if ":" in authority.rpartition("@")[0]:
            raise ValueError(
                "no password in sprintboard.toml: use PGPASSWORD, ~/.pgpass, or dsn_env"
            )
        return url

    def store_dsn(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The PostgreSQL connection string (`$dsn_env` first, else `store`), or None for
        the file journal.

        Raises:
            ConfigError: `dsn_env` names an unset variable and no `store` is given.
        """
        env = os.environ if environ is None else environ
        if self.dsn_env and env.get(self.dsn_env):
            return env[self.dsn_env]
        if self.dsn_env and self.store is None:
            raise ConfigError(
                CONFIG_FILE, "board.dsn_env", f"${self.dsn_env} is not set (it holds the DSN)"
            )
        return self.store


class HostConfig(_Table):
    name: str
    caps: list[str] = Field(default_factory=list)
    ssh: str | None = None
    """Address `mlx.launch` reaches this host at for distributed training (an IP, which the
    ring backend needs, or an ssh name that resolves to one); a train step's `hosts` may
    then name the host."""


WorkerKind = Literal["tools", "command", "llm"]
"""What a builder does with a claimed task: run its tool steps (`tools`), or, for a task
without steps, hand it to an outside program (`command`) or an LLM tool loop (`llm`)."""

WORKER_PLACEHOLDERS: tuple[str, ...] = ("prompt_file", "task", "run_dir", "workspace")
"""What a worker `command` may say in braces; each is filled in inside its own argument."""

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORKER_FIELDS = (
    "command", "stdin", "timeout", "max_attempts", "env", "repo", "max_turns", "max_tokens"
)  # fmt: skip
_LLM_FIELDS = ("max_turns", "max_tokens")


class AgentConfig(_Table):
    """One `[[agents]]` entry; a builder's `worker*` fields say how it does step-less tasks
    (DESIGN.md contract 12)."""

    name: str
    role: Literal["planner", "negotiator", "builder", "auditor"]
    host: str
    caps: list[str] = Field(default_factory=list)
    wip: int | None = Field(None, ge=1)
    """Tasks this agent may hold at once."""
    worker: WorkerKind = "tools"
    """Builders only: `tools` (registered steps), `command` or `llm` (tasks without steps)."""
    command: list[str] = Field(default_factory=list)
    """The worker's argv (never run through a shell); may say {prompt_file} {task}
    {run_dir} {workspace}."""
    stdin: bool = False
    """Also pipe PROMPT.md to the command's stdin."""
    timeout: float = Field(1800.0, gt=0)
    """Seconds an attempt may run; then its process group is killed and the attempt fails."""
    max_attempts: int = Field(3, ge=1)
    """Attempts of a task (its claims so far) after which a failing worker blocks it."""
    env: list[str] = Field(default_factory=list)
    """Environment variables passed to the worker besides PATH, HOME, LANG, SPRINTBOARD_*."""
    repo: str | None = None
    """A git repository (relative to the workspace unless absolute); each attempt works in
    a worktree of it on branch `sprintboard/<task>-<attempt>`."""
    max_turns: int = Field(30, ge=1)
    """`llm` workers: model replies per attempt before it fails."""
    max_tokens: int = Field(200_000, ge=1)
    """`llm` workers: tokens (prompt + completion, summed over the turns) per attempt."""

    @model_validator(mode="after")
    def _worker_settings(self) -> AgentConfig:
        where = f"agent {self.name!r}"
        if self.worker == "tools":
            stray = [f for f in _WORKER_FIELDS if f in self.model_fields_set]
            if stray:
                raise ValueError(
                    f'{where}: {", ".join(stray)} only apply to worker = "command" or "llm"'
                )
            return self
        if self.role != "builder":
            raise ValueError(f"{where}: worker = {self.worker!r} is for builders, not {self.role}s")
        if self.worker == "command" and not self.command:
            raise ValueError(
                f'{where}: worker = "command" needs command = ["my-agent", "--prompt-file", '
                '"{prompt_file}"]'
            )
        if self.worker != "command" and self.command:
            raise ValueError(f'{where}: command is used only with worker = "command"')
        stray = [f for f in _LLM_FIELDS if f in self.model_fields_set]
        if self.worker != "llm" and stray:
            raise ValueError(f'{where}: {", ".join(stray)} only apply to worker = "llm"')
        if self.command and not self.command[0].strip():
            raise ValueError(f"{where}: the command's first word is the program to run")
        for arg in self.command:
            for name in _PLACEHOLDER.findall(arg):
                if name not in WORKER_PLACEHOLDERS:
                    known = " ".join(f"{{{p}}}" for p in WORKER_PLACEHOLDERS)
                    raise ValueError(f"{where}: unknown placeholder {{{name}}}; use one of {known}")
        for name in self.env:
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"{where}: env {name!r} is not a variable name")
        return self


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
    """The A2A directory (inboxes, ledgers, blobs), relative to the workspace unless absolute."""
    transport: Literal["dir", "git", "http"] = "dir"
    """How this host reaches the others: a shared `dir`, a `git` remote, or the owner's
    A2A `http` endpoint (`url`; answers land in this host's own `dir`)."""
    ttl: int = Field(3600, gt=0)
    """Seconds a message stays valid."""
    max_skew: int = Field(600, ge=0)
    """Seconds of clock difference tolerated between hosts."""
    remote: str | None = None
    """Git remote URL, for `transport = "git"`."""
    url: str | None = None
    """The owner's A2A endpoint (`sprintboard a2a http`), for `transport = "http"`."""
    shared: list[str] = Field(default_factory=list)
    """Workspace folders every host sees at the same place (a synced or network mount:
    data, models, runs); `sprintboard join` links them into a host's folder."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return url

    @field_validator("shared")
    @classmethod
    def _relative(cls, names: list[str]) -> list[str]:
        for name in names:
            parts = Path(name).parts
            if not parts or Path(name).is_absolute() or ".." in parts or name.startswith("."):
                raise ValueError(f"{name!r}: name a folder inside the workspace, like data")
        return names

    @model_validator(mode="after")
    def _complete(self) -> A2AConfig:
        if self.transport == "http" and not self.url:
            raise ValueError('transport = "http" needs url = "http://OWNER:PORT/"')
        return self


class NotifyConfig(_Table):
    """`[notify]`: tell people when the board needs them (sent by the owner, once per event).

    `command` comes from the owner's own sprintboard.toml, like `[auditor] allow_commands`:
    it is trusted as the owner's choice, run as an argv (never through a shell) with the
    event as JSON on stdin.
    """

    command: list[str] = Field(default_factory=list)
    """An argv to run for each event, e.g. `["notify-send", "sprintboard"]`; empty: none."""
    webhook: str | None = None
    """A URL that gets each event as a JSON POST."""
    timeout: float = Field(10.0, gt=0)
    """Seconds one delivery may take."""
    max_attempts: int = Field(12, ge=1)
    """Tries per event and target before it is given up (logged), backing off up to 5 min."""

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return url

    @field_validator("command")
    @classmethod
    def _argv(cls, argv: list[str]) -> list[str]:
        if argv and not argv[0].strip():
            raise ValueError("the command's first word is the program to run")
        return argv


_KANBAN_SECTIONS = (
    "done", "in_progress", "review", "ready", "backlog", "blocked", "questions", "decisions",
    "notes",
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
        # start-up: only a config with an allow-list needs it
        from sprintboard.allowlist import AllowList

        AllowList.parse(entries)
        return entries


class WorkersConfig(_Table):
    """`[workers]`: which worker commands this workspace permits."""

    allow_commands: list[str] = Field(default_factory=list)
    """When not empty, every `worker = "command"` agent's command must match an entry, as
    written (placeholders included), by the rules of `[auditor] allow_commands`."""

    @field_validator("allow_commands")
    @classmethod
    def _parses(cls, entries: list[str]) -> list[str]:
        # start-up: only a config with an allow-list needs it
        from sprintboard.allowlist import AllowList

        AllowList.parse(entries)
        return entries


class ToolsConfig(_Table):
    """`[tools]`: the team's own tools, registered beside the built-ins."""

    modules: list[str] = Field(default_factory=list)
    """Importable modules (`mypkg.tools`) whose `@register` calls add tools; besides them,
    every installed `sprintboard.tools` entry point is loaded."""

    @field_validator("modules")
    @classmethod
    def _dotted(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
                raise ValueError(f"{name!r} is not a module name like mypkg.tools")
        return names


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
    notify: NotifyConfig = NotifyConfig()
    workers: WorkersConfig = WorkersConfig()
    tools: ToolsConfig = ToolsConfig()
    _local_host: str | None = PrivateAttr(None)

    @property
    def local_host(self) -> str | None:
        """The host this folder belongs to (`.sprintboard/host.toml`), if it says."""
        return self._local_host

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
        if self.workers.allow_commands:
            # start-up: only a config with an allow-list needs it
            from sprintboard.allowlist import AllowList

            allow = AllowList.parse(self.workers.allow_commands)
            for agent in self.agents:
                if agent.command and not allow.permits(agent.command):
                    raise ValueError(
                        f"agent {agent.name!r}: its command is not in [workers] allow_commands"
                    )
        return self

    def host(self, name: str) -> HostConfig | None:
        return next((h for h in self.hosts if h.name == name), None)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
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


def _local_settings(root: Path) -> tuple[str | None, dict[str, Any]]:
    """`host` and the `[a2a]` overrides of `.sprintboard/host.toml` (none when absent)."""
    path = root / LOCAL_FILE
    if not path.is_file():
        return None, {}
    raw = _read_toml(path)
    unknown = sorted(set(raw) - {"host", "a2a"})
    if unknown:
        raise ConfigError(path, unknown[0], "only `host` and an [a2a] table belong here")
    host, a2a = raw.get("host"), raw.get("a2a", {})
    if host is not None and not isinstance(host, str):
        raise ConfigError(path, "host", "must be a host name in quotes")
    if not isinstance(a2a, dict):
        raise ConfigError(path, "a2a", "must be a table")
    return host, a2a


def load_config(workspace: Path) -> WorkspaceConfig:
    """Read and validate `<workspace>/sprintboard.toml`, with this folder's own settings
    (`.sprintboard/host.toml`: its host name, `[a2a]` keys that replace the shared file's).

    Raises:
        ConfigError: the file is missing, not TOML, or a key is wrong (file and key named).
    """
    root = Path(workspace)
    path = root / CONFIG_FILE
    raw = _read_toml(path)
    host, a2a = _local_settings(root)
    if a2a:
        shared = raw.get("a2a", {})
        raw["a2a"] = {**(shared if isinstance(shared, dict) else {}), **a2a}
    try:
        config = WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = field_name(err)
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        where = root / LOCAL_FILE if a2a and key and key.startswith("a2a") else path
        raise ConfigError(where, key, f"{problem_text(err)}{more}") from None
    if host is not None:
        config._local_host = host
    return config


def current_host(config: WorkspaceConfig, override: str | None = None) -> str:
    """This process's host name: `--host`, else `$SPRINTBOARD_HOST`, else the folder's own
    `.sprintboard/host.toml` (a folder made by `join`), else the board owner."""
    return override or os.environ.get("SPRINTBOARD_HOST") or config.local_host or config.board.owner
