"""The LLM seam's ground: what a chat request and reply are, the `ChatBackend` protocol every
model answers through, a scripted fake for tests, and the retry policy.

Every room may use this module (memory's standup `--llm`, the agents); only
`sprintboard.agents.llm.OpenAIBackend` talks to a real endpoint, and it imports `openai`
lazily. `ALLOW_MODEL_REQUESTS` is the one switch tests turn off so that no real backend is
reached by accident (pydantic-ai's `ALLOW_MODEL_REQUESTS` pattern).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

__all__ = [
    "ALLOW_MODEL_REQUESTS",
    "ChatBackend",
    "ChatMessage",
    "ChatReply",
    "ChatRequest",
    "RetryPolicy",
    "ScriptedBackend",
    "ToolCall",
    "ToolDefinition",
    "require_model_requests",
]

ALLOW_MODEL_REQUESTS = True
"""When False, real backends refuse to send anything (tests turn it off in conftest)."""

Role = Literal["system", "user", "assistant", "tool"]


def require_model_requests(endpoint: str) -> None:
    """Refuse to send a model request while `ALLOW_MODEL_REQUESTS` is off.

    Raises:
        RuntimeError: model requests are switched off (a test reached a real backend).
    """
    if not ALLOW_MODEL_REQUESTS:
        raise RuntimeError(
            f"model requests are switched off (sprintboard.llm.ALLOW_MODEL_REQUESTS); "
            f"refusing to call {endpoint}. Use ScriptedBackend, or turn the switch on in the test."
        )


class ToolCall(BaseModel, frozen=True, extra="forbid"):
    """One function call a model asked for; `arguments` is its JSON text as written (a
    model may write garbage there: the caller parses it and answers what was wrong)."""

    id: str
    name: str
    arguments: str = ""


class ToolDefinition(BaseModel, frozen=True, extra="forbid"):
    """A function tool offered to the model (OpenAI `tools` entry of type "function")."""

    name: str
    description: str
    parameters: dict[str, Any]
    """The arguments' JSON schema."""

    def wire(self) -> dict[str, Any]:
        """The OpenAI `tools` list entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class ChatMessage(BaseModel, frozen=True, extra="forbid"):
    """One message of a chat conversation.

    An assistant message may carry `tool_calls` and no text; a `tool` message answers the
    call named by `tool_call_id`.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def wire(self) -> dict[str, Any]:
        """The message as an OpenAI chat-completions request carries it."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["content"] = self.content or None
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


class ChatRequest(BaseModel, frozen=True, extra="forbid"):
    """What a backend is asked: the conversation and the sampling limits."""

    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    max_tokens: int = Field(512, ge=1)
    """Upper bound on generated tokens."""
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    """0 asks for the most likely answer, which keeps agent runs repeatable where possible."""
    tools: tuple[ToolDefinition, ...] = ()
    """Function tools the model may call instead of (or besides) answering in text."""

    @classmethod
    def from_prompt(cls, prompt: str, *, system: str | None = None, **limits: Any) -> ChatRequest:
        """Build a request from one user prompt and an optional system message."""
        messages = [ChatMessage(role="system", content=system)] if system else []
        messages.append(ChatMessage(role="user", content=prompt))
        return cls(messages=tuple(messages), **limits)

    def followed_by(self, *messages: ChatMessage) -> ChatRequest:
        """The same request with `messages` appended to the conversation."""
        return self.model_copy(update={"messages": (*self.messages, *messages)})


class ChatReply(BaseModel, frozen=True, extra="forbid"):
    """What a backend answered."""

    content: str
    model: str
    """The model name the endpoint reported (or the fake's name)."""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    """Calls the model asked for (then `content` is often empty)."""

    def message(self) -> ChatMessage:
        """The reply as the assistant message that continues the conversation."""
        return ChatMessage(role="assistant", content=self.content, tool_calls=self.tool_calls)


class ChatBackend(Protocol):
    """Anything that answers a chat request; the one seam between agents and models."""

    def complete(self, request: ChatRequest) -> ChatReply:
        """Answer `request`.

        Raises:
            LLMUnavailable: the model cannot answer; the caller falls back or blocks the task.
        """
        ...


class ScriptedBackend:
    """Answers from a function; keeps every request so tests can assert on prompts.

    ``ScriptedBackend.replying("ok", '{"x": 1}')`` answers the given texts in turn. The
    function may raise `LLMUnavailable` to play a failing provider.
    """

    __test__ = False

    def __init__(self, answer: Callable[[ChatRequest], ChatReply]) -> None:
        self.answer = answer
        self.requests: list[ChatRequest] = []

    @classmethod
    def replying(cls, *texts: str, model: str = "scripted") -> ScriptedBackend:
        """A backend that answers `texts` one by one; asking once more is a test bug."""
        queue = list(texts)

        def answer(request: ChatRequest) -> ChatReply:
            if not queue:
                raise AssertionError(f"ScriptedBackend ran out of replies ({len(texts)} given)")
            return ChatReply(content=queue.pop(0), model=model, finish_reason="stop")

        return cls(answer)

    @classmethod
    def answering(cls, *replies: ChatReply) -> ScriptedBackend:
        """A backend that answers whole replies (tool calls included) one by one."""
        queue = list(replies)

        def answer(request: ChatRequest) -> ChatReply:
            if not queue:
                raise AssertionError(f"ScriptedBackend ran out of replies ({len(replies)} given)")
            return queue.pop(0)

        return cls(answer)

    def complete(self, request: ChatRequest) -> ChatReply:
        """Record `request` and answer it with the script."""
        self.requests.append(request)
        return self.answer(request)


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
