"""The LLM client seam: one protocol, the real OpenAI-compatible backend, and a scripted fake.

Everything that talks to a language model goes through a `ChatBackend`. `OpenAIBackend` is
the only code that imports `openai` (lazily, so importing this module stays cheap); it works
with a hosted API, OpenRouter or a local `mlx_lm server`. Every failure ends either in a
bounded retry with backoff or in `LLMUnavailable` carrying the provider's reason, never in a
crash or a silent stall.

Usage::

    settings = LLMConfig(base_url="http://127.0.0.1:8080/v1", model="default_model")
    backend = OpenAIBackend(settings)
    reply = backend.complete(ChatRequest.from_prompt("Summarise T004 in one line."))

The protocol, request/reply types and the fake `ScriptedBackend` live in the ground
(`sprintboard.llm`); `tests/conftest.py` sets `sprintboard.llm.ALLOW_MODEL_REQUESTS` off so a real
backend cannot be reached by accident.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from sprintboard import llm as seam
from sprintboard.config import LLMConfig
from sprintboard.errors import LLMUnavailable
from sprintboard.llm import ChatReply, ChatRequest, RetryPolicy, ToolCall

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIBackend"]

# Statuses worth asking again: rate limits, request timeouts and server-side trouble.
# 401/402/403/404 will not fix themselves by waiting, so they end at once.
_RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class _Call(BaseModel):
    """A tool call as the wire carries it; missing parts are left for the caller to refuse."""

    class _Function(BaseModel):
        name: str = ""
        arguments: str | dict[str, object] | None = None

    id: str | None = None
    function: _Function = _Function()

    def call(self, index: int) -> ToolCall:
        args = self.function.arguments
        text = json.dumps(args) if isinstance(args, dict) else (args or "")
        return ToolCall(id=self.id or f"call_{index}", name=self.function.name, arguments=text)


class _Completion(BaseModel):
    """The part of an OpenAI chat-completion body this seam relies on."""

    class _Choice(BaseModel):
        class _Message(BaseModel):
            content: str | None = None
            tool_calls: list[_Call] | None = None

        message: _Message
        finish_reason: str | None = None

    class _Usage(BaseModel):
        prompt_tokens: int | None = None
        completion_tokens: int | None = None

    model: str = ""
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


class _Retryable(Exception):
    """One failed try that may succeed when asked again."""

    def __init__(self, status: int | None, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.retry_after = status, reason, retry_after


class OpenAIBackend:
    """Any OpenAI-compatible chat endpoint, through the `openai` client.

    The client's own retries are off: this class retries with `policy` and an injectable
    `sleep`, so tests run the whole failure matrix without waiting.
    """

    @classmethod
    def from_config(
        cls, settings: LLMConfig, *, sleep: Callable[[float], None] = time.sleep
    ) -> OpenAIBackend:
        """The backend `[llm]` of sprintboard.toml describes (what `--llm` turns on), retrying
        `max_retries` times."""
        return cls(settings, policy=RetryPolicy(attempts=settings.max_retries + 1), sleep=sleep)

    def __init__(
        self,
        settings: LLMConfig,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.endpoint = settings.resolved_base_url(environ)
        self._key = settings.api_key(environ)
        self._client: openai.OpenAI | None = None

    def complete(self, request: ChatRequest) -> ChatReply:
        """Ask the endpoint, retrying transient failures within `policy`.

        Raises:
            LLMUnavailable: a permanent failure (401, 402, ...), or retries ran out.
            RuntimeError: `ALLOW_MODEL_REQUESTS` is off.
        """
        seam.require_model_requests(self.endpoint)
        tries = 0
        while True:
            tries += 1
            try:
                return self._send(request)
            except _Retryable as failure:
                last = failure
            too_long = last.retry_after is not None and last.retry_after > self.policy.max_wait_s
            if tries >= self.policy.attempts or too_long:
                # Waiting out a long Retry-After here would be the silent stall we must avoid:
                # the caller gets `retry_after` and decides (block the task, fall back).
                raise LLMUnavailable(
                    self.endpoint,
                    last.status,
                    f"{last.reason} (gave up after {tries} {'try' if tries == 1 else 'tries'})",
                    retry_after=last.retry_after,
                )
            self.sleep(self.policy.wait_before(tries, last.retry_after))

    def _openai(self) -> openai.OpenAI:
        if self._client is None:
            # openai loads only when the LLM is called (start-up time)
            import openai

            # The key is never empty for the client; a keyless local server ignores it and a
            # hosted one answers 401, which becomes LLMUnavailable with a hint below.
            self._client = openai.OpenAI(
                base_url=self.endpoint,
                api_key=self._key or "sprintboard-no-key",
                timeout=self.settings.timeout,
                max_retries=0,
            )
        return self._client

    def _send(self, request: ChatRequest) -> ChatReply:
        # openai loads only when the LLM is called (start-up time)
        import openai

        try:
            create: Any = self._openai().chat.completions.with_raw_response.create
            extra: dict[str, Any] = {}
            if request.tools:
                extra["tools"] = [t.wire() for t in request.tools]
            raw = create(
                model=self.settings.model,
                messages=[m.wire() for m in request.messages],
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                **extra,
            )
        except openai.APITimeoutError as exc:
            raise _Retryable(None, f"timed out after {self.settings.timeout:g}s") from exc
        except openai.APIConnectionError as exc:
            raise _Retryable(None, f"cannot connect ({exc.__cause__ or exc})") from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            reason = _provider_reason(exc.body, exc.response.text)
            if status == 401:
                reason += f"; check the key in ${self.settings.api_key_env}"
            retry_after = _retry_after(exc.response.headers)
            if status in _RETRYABLE_STATUSES:
                raise _Retryable(status, reason, retry_after) from exc
            raise LLMUnavailable(self.endpoint, status, reason, retry_after=retry_after) from exc
        return self._parse(raw.http_response.status_code, raw.http_response.text)

    def _parse(self, status: int, text: str) -> ChatReply:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            # A proxy or a half-started server can answer garbage once; ask again.
            raise _Retryable(
                status, f"malformed JSON in the reply ({exc.msg}): {text[:120]!r}"
            ) from exc
        try:
            completion = _Completion.model_validate(body)
        except ValidationError as exc:
            raise _Retryable(
                status, f"reply is not a chat completion ({_summarize(exc)}): {text[:120]!r}"
            ) from exc
        choice = completion.choices[0]
        usage = completion.usage
        return ChatReply(
            content=choice.message.content or "",
            model=completion.model or self.settings.model,
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            tool_calls=tuple(c.call(i) for i, c in enumerate(choice.message.tool_calls or ())),
        )


def _provider_reason(body: object, text: str) -> str:
    """The provider's own words: OpenAI/OpenRouter put them in ``error.message``."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return text.strip()[:200] or "no reason given"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``Retry-After`` (a number; the HTTP-date form is rare for APIs)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _summarize(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors(include_url=False)[:5]
    )
