"""Where the LLM lives and how patiently to ask it: `[llm]` settings and the retry policy."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, Field

__all__ = ["DEFAULT_BASE_URL", "LLMSettings", "RetryPolicy"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class LLMSettings(BaseModel, frozen=True, extra="forbid"):
    """Where the model lives: `[llm]` of sprintboard.toml, with the OpenAI env vars as defaults.

    ``base_url`` None means `$OPENAI_BASE_URL`, else the OpenAI API. The key is read from the
    environment variable named by ``api_key_env`` so no secret sits in a synced file.
    """

    base_url: str | None = None
    model: str = "default_model"
    """Model name sent to the endpoint; a local `mlx_lm server` serves the model it loaded."""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    """Seconds to wait for one HTTP answer."""

    def resolved_base_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The endpoint: the configured URL, else `$OPENAI_BASE_URL`, else the OpenAI API."""
        env = os.environ if environ is None else environ
        return (self.base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The key from the environment variable ``api_key_env``, or None when unset."""
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) or None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before asking again.

    Waits grow as ``backoff_s * multiplier ** n``, capped at ``max_wait_s``; a server's
    Retry-After wins when it is longer. A Retry-After beyond ``max_wait_s`` is not waited
    out: the call ends with `LLMUnavailable` carrying ``retry_after`` for the caller.
    """

    attempts: int = 3
    """Total tries, the first included."""
    backoff_s: float = 0.5
    """Seconds before the second try."""
    multiplier: float = 2.0
    max_wait_s: float = 30.0
    """Longest single wait in seconds."""

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.max_wait_s < 0:
            raise ValueError(f"RetryPolicy needs attempts >= 1 and waits >= 0, got {self}")

    def wait_before(self, retry: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number `retry` (1-based)."""
        wait = min(self.backoff_s * self.multiplier ** (retry - 1), self.max_wait_s)
        return max(wait, retry_after or 0.0)
