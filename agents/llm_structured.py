"""Structured answers: ask a `ChatBackend` for JSON, validate it with pydantic, retry on errors.

The JSON schema goes into the system message (not the provider's `response_format`, which a
local `mlx_lm server` and many proxies do not support). An answer that does not validate is
sent back with the validation errors, a bounded number of times.

Usage::

    class Estimate(BaseModel):
        task: str
        hours: float

    estimate = structured(backend, ChatRequest.from_prompt("Estimate T004."), Estimate)
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from sprintboard.errors import LLMOutputInvalid
from sprintboard.llm import ChatBackend, ChatMessage, ChatRequest

__all__ = ["extract_json", "schema_instruction", "structured"]

T = TypeVar("T", bound=BaseModel)


def schema_instruction(model: type[BaseModel]) -> str:
    """The system-message text that asks for one JSON object of `model`'s schema."""
    schema = json.dumps(model.model_json_schema(), separators=(",", ":"), sort_keys=True)
    return (
        "Answer with exactly one JSON object and nothing else (no prose, no code fence). "
        f"It must match this JSON schema: {schema}"
    )


def extract_json(text: str) -> str:
    """The JSON object inside `text`: models like to wrap it in prose or a ``` fence."""
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end < start:
        return text.strip()
    return text[start : end + 1]


def structured(
    backend: ChatBackend, request: ChatRequest, model: type[T], *, retries: int = 2
) -> T:
    """Ask `backend` and return its answer validated as `model`.

    An invalid answer is retried up to `retries` times, each time with the model's previous
    answer and the validation errors added to the conversation, so it can correct itself.

    Raises:
        LLMOutputInvalid: no valid answer after ``retries + 1`` tries.
        LLMUnavailable: the backend itself failed (passed through unchanged).
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    instruction = ChatMessage(role="system", content=schema_instruction(model))
    convo = request.model_copy(update={"messages": (instruction, *request.messages)})
    reason, reply_model = "", "unknown"
    for _ in range(retries + 1):
        reply = backend.complete(convo)
        reply_model = reply.model
        try:
            return model.model_validate_json(extract_json(reply.content))
        except ValidationError as exc:
            reason = _errors_for_model(exc)
        convo = convo.followed_by(
            ChatMessage(role="assistant", content=reply.content),
            ChatMessage(
                role="user",
                content=f"That answer is not valid: {reason}. "
                "Reply again with only the corrected JSON object.",
            ),
        )
    raise LLMOutputInvalid(reply_model, retries + 1, reason)


def _errors_for_model(exc: ValidationError) -> str:
    """Validation errors in a form a model can act on: field path, message, what it sent."""
    parts = []
    for err in exc.errors(include_url=False)[:8]:
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
