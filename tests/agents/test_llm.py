"""The LLM seam against a real HTTP server on 127.0.0.1: every row of the failure matrix."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import BaseModel

from sprintboard import llm
from sprintboard.agents.llm import OpenAIBackend
from sprintboard.agents.llm_structured import extract_json, structured
from sprintboard.config import DEFAULT_LLM_BASE_URL, LLMConfig
from sprintboard.errors import LLMOutputInvalid, LLMUnavailable
from sprintboard.llm import ChatReply, ChatRequest, RetryPolicy, ScriptedBackend


@dataclass
class Answer:
    """One scripted HTTP answer; `hang` holds the reply until the test ends."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


def completion(content: str, model: str = "fake-model") -> Answer:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }
    return Answer(body=json.dumps(body).encode())


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    body = json.dumps({"error": {"message": message, "code": status}}).encode()
    return Answer(status=status, body=body, headers=headers or {})


class FakeServer:
    """An OpenAI-shaped HTTP server that answers from a script and records what it got."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.requests: list[dict[str, object]] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                server.requests.append(json.loads(self.rfile.read(length)))
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                answer = server.answers.pop(0) if server.answers else error(500, "script empty")
                if answer.hang:
                    server.release.wait(timeout=10)  # bounded: the test releases it at teardown
                    return
                self.send_response(answer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def script(self, *answers: Answer) -> None:
        self.answers.extend(answers)


@pytest.fixture
def allow_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm, "ALLOW_MODEL_REQUESTS", True)


@pytest.fixture
def server(allow_requests: None) -> Iterator[FakeServer]:
    fake = FakeServer()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def backend_for(
    url: str, sleeps: list[float], attempts: int = 3, timeout: float = 5.0
) -> OpenAIBackend:
    settings = LLMConfig(base_url=url, model="fake-model", timeout=timeout)
    policy = RetryPolicy(attempts=attempts, backoff_s=0.5, multiplier=2.0, max_wait_s=30.0)
    return OpenAIBackend(settings, policy=policy, sleep=sleeps.append, environ={})


PROMPT = ChatRequest.from_prompt("Which task is next?", system="You plan sprints.", max_tokens=20)


def test_success_returns_reply_and_sends_the_request(
    server: FakeServer, sleeps: list[float]
) -> None:
    server.script(completion("T004"))
    reply = backend_for(server.url, sleeps).complete(PROMPT)
    assert reply == ChatReply(
        content="T004",
        model="fake-model",
        finish_reason="stop",
        prompt_tokens=11,
        completion_tokens=3,
    )
    (sent,) = server.requests
    assert sent["model"] == "fake-model"
    assert sent["max_tokens"] == 20
    assert sent["messages"] == [
        {"role": "system", "content": "You plan sprints."},
        {"role": "user", "content": "Which task is next?"},
    ]
    assert sleeps == []


def test_402_ends_at_once_with_the_providers_reason(
    server: FakeServer, sleeps: list[float]
) -> None:
    server.script(error(402, "Insufficient credits. Add more using https://openrouter.ai/settings"))
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(server.url, sleeps).complete(PROMPT)
    assert caught.value.status == 402
    assert "Insufficient credits" in caught.value.reason
    assert caught.value.endpoint == server.url
    assert len(server.requests) == 1 and sleeps == []


def test_401_names_the_key_variable(server: FakeServer, sleeps: list[float]) -> None:
    server.script(error(401, "Invalid API key"))
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(server.url, sleeps).complete(PROMPT)
    assert caught.value.status == 401
    assert "Invalid API key" in caught.value.reason and "$OPENAI_API_KEY" in caught.value.reason
    assert len(server.requests) == 1


def test_429_waits_the_retry_after_then_succeeds(server: FakeServer, sleeps: list[float]) -> None:
    server.script(error(429, "Rate limit", {"Retry-After": "7"}), completion("ok"))
    assert backend_for(server.url, sleeps).complete(PROMPT).content == "ok"
    assert sleeps == [7.0]
    assert len(server.requests) == 2


def test_429_with_a_long_retry_after_is_reported_not_waited(
    server: FakeServer, sleeps: list[float]
) -> None:
    server.script(error(429, "Daily quota used", {"Retry-After": "3600"}))
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(server.url, sleeps).complete(PROMPT)
    assert caught.value.status == 429 and caught.value.retry_after == 3600.0
    assert "Daily quota used" in caught.value.reason
    assert sleeps == [] and len(server.requests) == 1


def test_500_retries_with_growing_backoff_then_gives_up(
    server: FakeServer, sleeps: list[float]
) -> None:
    server.script(*(error(500, "upstream exploded") for _ in range(3)))
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(server.url, sleeps).complete(PROMPT)
    assert caught.value.status == 500
    assert "upstream exploded" in caught.value.reason and "3 tries" in caught.value.reason
    assert sleeps == [0.5, 1.0]
    assert len(server.requests) == 3


def test_500_once_then_success(server: FakeServer, sleeps: list[float]) -> None:
    server.script(error(503, "warming up"), completion("ready"))
    assert backend_for(server.url, sleeps).complete(PROMPT).content == "ready"
    assert sleeps == [0.5]


def test_timeout_is_bounded(server: FakeServer, sleeps: list[float]) -> None:
    server.script(Answer(hang=True), Answer(hang=True))
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(server.url, sleeps, attempts=2, timeout=0.2).complete(PROMPT)
    assert caught.value.status is None
    assert "timed out after 0.2s" in caught.value.reason
    assert sleeps == [0.5] and len(server.requests) == 2


def test_connection_refused(allow_requests: None, sleeps: list[float]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(f"http://127.0.0.1:{port}/v1", sleeps).complete(PROMPT)
    assert caught.value.status is None
    assert "cannot connect" in caught.value.reason
    assert sleeps == [0.5, 1.0]


def test_malformed_json_is_retried_then_reported(server: FakeServer, sleeps: list[float]) -> None:
    server.script(*(Answer(body=b'{"choices": [tru') for _ in range(3)))
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(server.url, sleeps).complete(PROMPT)
    assert caught.value.status == 200
    assert "malformed JSON" in caught.value.reason
    assert len(server.requests) == 3


def test_malformed_json_once_then_success(server: FakeServer, sleeps: list[float]) -> None:
    server.script(Answer(body=b"<html>502 Bad Gateway</html>"), completion("fine"))
    assert backend_for(server.url, sleeps).complete(PROMPT).content == "fine"


def test_valid_json_of_the_wrong_shape(server: FakeServer, sleeps: list[float]) -> None:
    server.script(*(Answer(body=b'{"result": "Paris"}') for _ in range(2)))
    with pytest.raises(LLMUnavailable) as caught:
        backend_for(server.url, sleeps, attempts=2).complete(PROMPT)
    assert "not a chat completion" in caught.value.reason and "choices" in caught.value.reason


def test_switch_off_refuses_before_any_request(server: FakeServer, sleeps: list[float]) -> None:
    llm.ALLOW_MODEL_REQUESTS = False  # restored by the monkeypatch in `allow_requests`
    with pytest.raises(RuntimeError, match="ALLOW_MODEL_REQUESTS"):
        backend_for(server.url, sleeps).complete(PROMPT)
    assert server.requests == []


def test_conftest_switches_model_requests_off() -> None:
    assert llm.ALLOW_MODEL_REQUESTS is False


def test_env_gives_base_url_and_key(server: FakeServer, sleeps: list[float]) -> None:
    env = {"OPENAI_BASE_URL": server.url + "/", "LOCAL_KEY": "sk-test-123"}
    backend = OpenAIBackend(LLMConfig(api_key_env="LOCAL_KEY"), sleep=sleeps.append, environ=env)
    server.script(completion("hi"))
    assert backend.endpoint == server.url
    assert backend.complete(PROMPT).content == "hi"
    assert server.headers[0]["authorization"] == "Bearer sk-test-123"
    assert server.requests[0]["model"] == "default_model"


def test_configured_base_url_wins_over_env() -> None:
    settings = LLMConfig(base_url="http://127.0.0.1:9/v1")
    assert settings.resolved_base_url({"OPENAI_BASE_URL": "https://x.example/v1"}) == (
        "http://127.0.0.1:9/v1"
    )
    assert LLMConfig().resolved_base_url({}) == DEFAULT_LLM_BASE_URL


class Estimate(BaseModel):
    task: str
    hours: float


def test_structured_feeds_back_the_validation_error() -> None:
    backend = ScriptedBackend.replying(
        '{"task": "T004"}', '```json\n{"task": "T004", "hours": 3}\n```'
    )
    assert structured(backend, PROMPT, Estimate) == Estimate(task="T004", hours=3)
    first, second = backend.requests
    assert first.messages[0].role == "system" and '"hours"' in first.messages[0].content
    assert second.messages[-2].content == '{"task": "T004"}'
    assert "hours: Field required" in second.messages[-1].content


def test_structured_gives_up_after_the_retries() -> None:
    backend = ScriptedBackend.replying("no", "still no", "never")
    with pytest.raises(LLMOutputInvalid) as caught:
        structured(backend, PROMPT, Estimate, retries=2)
    assert caught.value.attempts == 3 and len(backend.requests) == 3
    assert isinstance(caught.value, LLMUnavailable)  # callers that block on it catch both


def test_structured_passes_backend_failures_through() -> None:
    def refuse(request: ChatRequest) -> ChatReply:
        raise LLMUnavailable("http://x/v1", 402, "Insufficient credits")

    with pytest.raises(LLMUnavailable, match="402"):
        structured(ScriptedBackend(refuse), PROMPT, Estimate)


def test_structured_over_http(server: FakeServer, sleeps: list[float]) -> None:
    server.script(completion('{"task": 4}'), completion('{"task": "T004", "hours": 1.5}'))
    assert structured(backend_for(server.url, sleeps), PROMPT, Estimate).hours == 1.5
    assert "task: Input should be a valid string" in json.dumps(server.requests[1]["messages"])


def test_extract_json_finds_the_object() -> None:
    assert extract_json('Sure! {"a": {"b": 1}} Hope it helps.') == '{"a": {"b": 1}}'
    assert extract_json("no json here") == "no json here"


def test_backend_from_the_toml_llm_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from sprintboard.config import LLMConfig

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    backend = OpenAIBackend.from_config(LLMConfig(model="smol", timeout=5, max_retries=1))
    assert backend.endpoint == "http://127.0.0.1:1/v1"
    assert backend.settings.model == "smol" and backend.settings.timeout == 5
    assert backend.policy.attempts == 2


def test_importing_the_seam_does_not_load_openai() -> None:
    code = "import sys, sprintboard.agents.llm, sprintboard.agents.llm_structured; print('openai' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
