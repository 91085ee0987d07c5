"""The A2A HTTP endpoint: the a2a-sdk client against a real uvicorn server on 127.0.0.1.

A message over HTTP and the same message through the directory end in the same
`OwnerHandler` and the same journal events; replays, forgeries and strangers are refused
before the handler and commit nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from a2a.client import A2ACardResolver, ClientConfig, create_client
from a2a.types import a2a_pb2 as pb

from sprintboard.a2a import messages
from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.envelope import Envelope
from sprintboard.a2a.http_client import HttpReply, send_over_http_sync
from sprintboard.a2a.http_server import HttpEndpoint, agent_card, open_http_endpoint
from sprintboard.a2a.keys import keygen, pair
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.owner import OwnerHandler
from sprintboard.a2a.postbox import Outcome, Postbox, Received
from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.codec import event_to_dict
from sprintboard.config import load_config
from sprintboard.errors import NotOwner
from sprintboard.workspace import init_workspace, open_board


@dataclass
class Side:
    """One workspace: alpha owns the board, beta (paired, keys outside the tree) sends."""

    ws: Path
    clock: FrozenClock
    owner: OwnerHandler
    beta: Postbox

    def journal(self) -> bytes:
        return (self.ws / "sprints" / "events.jsonl").read_bytes()

    def events(self) -> list[dict[str, Any]]:
        return [event_to_dict(e) for e in self.owner.board.events()]

    def seal(self, kind: Any, build: Callable[[str], dict[str, Any]], **kw: Any) -> Envelope:
        return self.beta.seal("alpha", kind, build, **kw)


def make_side(root: Path) -> Side:
    ws = init_workspace(
        root / "ws", owner="alpha", hosts=[("alpha", []), ("beta", ["mlx"])], git=False
    )
    beta_keys = root / "beta-keys"
    pair(beta_keys, "alpha", "beta", keygen(ws / ".sprintboard" / "keys", "alpha", "beta"))
    clock = FrozenClock()
    config = load_config(ws)
    owner = OwnerHandler(
        open_board(ws, host="alpha", clock=clock, ids=CounterIds()),
        open_postbox(ws, "alpha", clock=clock, ids=CounterIds()),
        BlobStore(ws / ".a2a" / "blobs"),
        workspace=ws,
        agent_hosts={a.name: a.host for a in config.agents},
        default_ttl=config.board.default_ttl,
    )
    beta = open_postbox(ws, "beta", keys=beta_keys, clock=clock, ids=CounterIds())
    owner.board.create_tasks([{"id": "T2", "title": "train", "status": "ready", "caps": ["mlx"]}])
    return Side(ws, clock, owner, beta)


@contextmanager
def running(endpoint: HttpEndpoint) -> Iterator[str]:
    """uvicorn in a thread on the endpoint's socket (already listening: no wait needed)."""
    server = uvicorn.Server(uvicorn.Config(endpoint.app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [endpoint.sock]}, daemon=True)
    thread.start()
    try:
        yield endpoint.url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        endpoint.sock.close()


@pytest.fixture
def side(tmp_path: Path) -> Side:
    return make_side(tmp_path)


@pytest.fixture
def url(side: Side) -> Iterator[str]:
    with running(open_http_endpoint(side.ws, owner=side.owner)) as where:
        assert where.startswith("http://127.0.0.1:")
        yield where


# -- one scenario, two roads -----------------------------------------------------------------

Deliver = Callable[[Envelope], list[Received]]


def by_directory(side: Side) -> Deliver:
    def deliver(env: Envelope) -> list[Received]:
        side.beta.post([env])
        side.owner.postbox.process(side.owner)
        got: list[Received] = []

        def keep(r: Received) -> Outcome:
            got.append(r)
            return Outcome("answer")

        side.beta.process(keep)
        return [r for r in got if r.env.reply_to == env.id]

    return deliver


def by_http(side: Side, url: str) -> Deliver:
    return lambda env: send_over_http_sync(url, side.beta, env).replies


def scenario(side: Side, deliver: Deliver) -> list[tuple[str, Any]]:
    """claim, accept, heartbeat, progress, a fenced note, result with a blob, a stale heartbeat."""
    seen: list[tuple[str, Any]] = []

    def send(kind: Any, build: Callable[[str], dict[str, Any]], **kw: Any) -> list[Received]:
        answers = deliver(side.seal(kind, build, **kw))
        seen.extend(
            (a.env.kind, a.parsed.data if a.env.kind == "reply" else a.env.fence) for a in answers
        )
        return answers

    claim = {"task": "T2", "agent": "builder-beta", "ttl": 60}
    (assigned,) = send("request", lambda m: messages.request(m, "claim", claim))
    assert assigned.env.kind == "assignment"
    fence = int(assigned.env.fence or 0)
    send(
        "accept",
        lambda m: messages.accept(m, "T2", "S1", "builder-beta@beta"),
        task="T2",
        fence=fence,
    )
    side.clock.advance(30)
    send("heartbeat", lambda m: messages.heartbeat(m, "T2", "S1"), task="T2", fence=fence)
    send(
        "progress", lambda m: messages.progress(m, "T2", "S1", "epoch 1/2"), task="T2", fence=fence
    )
    note = {"op": "note.add", "task": "T2", "fields": {"text": "half way"}, "fence": fence}
    send("request", lambda m: messages.request(m, "apply", {"events": [note]}))
    src = side.ws / "out.bin"
    src.write_bytes(b"weights")
    art = BlobStore(side.ws / ".a2a" / "blobs").put(src, name="adapter.bin")
    send(
        "result",
        lambda m: messages.result(m, "T2", "S1", [art], {"loss": 0.5}),
        task="T2",
        fence=fence,
    )
    send("heartbeat", lambda m: messages.heartbeat(m, "T2", "S1"), task="T2", fence=fence + 5)
    return seen


def test_http_and_directory_end_in_the_same_journal_events(tmp_path: Path) -> None:
    by_dir = make_side(tmp_path / "dir")
    dir_answers = scenario(by_dir, by_directory(by_dir))
    over_http = make_side(tmp_path / "http")
    with running(open_http_endpoint(over_http.ws, owner=over_http.owner)) as url:
        http_answers = scenario(over_http, by_http(over_http, url))
    events = over_http.events()
    assert events == by_dir.events()  # ids, fences, actors, times, prev chain: all the same
    assert [e["op"] for e in events if e["op"] != "task.create"] == [
        "lease.grant",
        "lease.heartbeat",
        "note.add",
        "artifact.add",
        "metric.set",
        "task.move",
    ]
    assert http_answers == dir_answers
    assert http_answers[-1][1]["value"]["type"] == "StaleFence"  # refusals come back too
    task = over_http.owner.board.snapshot().tasks["T2"]
    assert task.status == "awaiting_test" and task.metrics == {"loss": 0.5}
    assert (over_http.ws / "runs/T2/1/adapter.bin").read_bytes() == b"weights"
    ledger = [(x.action, x.target, x.ref) for x in over_http.owner.postbox.ledger.lines()]  # type: ignore[union-attr]
    assert ledger == [(x.action, x.target, x.ref) for x in by_dir.owner.postbox.ledger.lines()]  # type: ignore[union-attr]
    # nothing for beta was left in its directory inbox: the answers went back over HTTP
    assert over_http.beta.transport.inbox("beta").pending() == []


def _claim(side: Side, url: str) -> tuple[Envelope, HttpReply]:
    env = side.seal(
        "request",
        lambda m: messages.request(m, "claim", {"task": "T2", "agent": "builder-beta", "ttl": 60}),
    )
    return env, send_over_http_sync(url, side.beta, env)


def test_a_replayed_http_message_commits_nothing_new(side: Side, url: str) -> None:
    env, first = _claim(side, url)
    assert first.state == "TASK_STATE_COMPLETED"
    (assigned,) = first.replies
    assert assigned.env.reply_to == env.id and assigned.parsed.meta["lease"]["fence"] == 1
    journal = side.journal()
    again = send_over_http_sync(url, side.beta, env)
    assert again.state == "TASK_STATE_REJECTED" and "replayed id" in again.text
    assert again.replies == []
    assert side.journal() == journal
    # the handled id is durable: a restarted endpoint refuses the replay too
    with running(open_http_endpoint(side.ws, owner=open_owner(side.ws, clock=side.clock))) as fresh:
        later = send_over_http_sync(fresh, side.beta, env)
    assert later.state == "TASK_STATE_REJECTED" and "replayed id" in later.text
    assert side.journal() == journal
    reasons = [x.context for x in side.owner.postbox.ledger.lines() if x.action == "quarantine"]  # type: ignore[union-attr]
    assert len(reasons) == 2 and all("replayed id" in r for r in reasons)


def test_a_replay_inside_the_skew_window_is_refused_after_a_compaction(
    side: Side, url: str
) -> None:
    """An id handled over HTTP is kept until expiry + skew, like one the daemon handled: the
    envelope still verifies until then, so a compaction must not drop the id earlier."""
    seen = side.owner.postbox.seen
    gone = side.clock.now() - timedelta(seconds=1)
    for i in range(1100):  # mostly stale: the next prune rewrites the file
        seen.add(f"beta-old-{i}", gone)
    seen.flush()
    env, first = _claim(side, url)
    assert first.state == "TASK_STATE_COMPLETED"
    side.clock.advance((env.expires_at - side.clock.now()).total_seconds() + 60)
    assert seen.prune(side.clock.now()) == 1100
    assert len((seen.path).read_text(encoding="utf-8").splitlines()) == 1  # rewritten
    again = send_over_http_sync(url, side.beta, env)
    assert again.state == "TASK_STATE_REJECTED" and "replayed id" in again.text


def test_a_message_the_directory_daemon_handled_is_a_replay_over_http(side: Side, url: str) -> None:
    env = side.seal(
        "request",
        lambda m: messages.request(m, "claim", {"task": "T2", "agent": "builder-beta", "ttl": 60}),
    )
    side.beta.post([env])
    daemon = open_owner(side.ws, clock=side.clock)  # as in `a2a serve`: its own postbox and ids
    assert daemon.postbox.process(daemon) == 1
    journal = side.journal()
    got = send_over_http_sync(url, side.beta, env)
    assert got.state == "TASK_STATE_REJECTED" and "replayed id" in got.text
    assert side.journal() == journal


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda e: replace(e, sig="0" * 64), "bad signature"),
        (lambda e: replace(e, payload={**e.payload, "x": 1}), "payload"),
        (lambda e: replace(e, recipient="beta"), "wrong recipient"),
        (lambda e: replace(e, sender="gamma"), "unknown sender"),
    ],
    ids=["signature", "payload", "recipient", "sender"],
)
def test_forged_envelopes_are_refused_before_the_handler(
    side: Side, url: str, forge: Callable[[Envelope], Envelope], reason: str
) -> None:
    journal = side.journal()
    env = forge(
        side.seal(
            "request",
            lambda m: messages.request(m, "claim", {"task": "T2", "agent": "builder-beta"}),
        )
    )
    got = send_over_http_sync(url, side.beta, env)
    assert got.state == "TASK_STATE_REJECTED" and reason in got.text
    assert side.journal() == journal


def test_an_expired_envelope_is_refused(side: Side, url: str) -> None:
    env = side.seal("progress", lambda m: messages.progress(m, "T2", "S1", "late"), task="T2")
    side.clock.advance(side.beta.ttl + side.beta.max_skew + 1)
    got = send_over_http_sync(url, side.beta, env)
    assert got.state == "TASK_STATE_REJECTED" and "expired" in got.text


async def _plain_text(url: str) -> Any:
    async with httpx.AsyncClient() as http:
        client = await create_client(url, ClientConfig(streaming=False, httpx_client=http))
        message = pb.Message(message_id="m1", role=pb.Role.ROLE_USER, parts=[pb.Part(text="hi")])
        tasks = [
            e.task
            async for e in client.send_message(pb.SendMessageRequest(message=message))
            if e.HasField("task")
        ]
        card = await A2ACardResolver(http, url).get_agent_card()
    return tasks[-1], card


def test_the_card_names_the_skills_and_a_message_without_envelope_is_rejected(
    side: Side, url: str
) -> None:
    journal = side.journal()
    task, card = asyncio.run(_plain_text(url))
    assert pb.TaskState.Name(task.status.state) == "TASK_STATE_REJECTED"
    assert "application/vnd.sprintboard.envelope+json" in task.status.message.parts[0].text
    assert side.journal() == journal
    assert card.supported_interfaces[0].url == url
    skills = {s.id for s in card.skills}
    assert skills == {
        "sprintboard.envelope",
        "role.planner",
        "role.negotiator",
        "role.auditor",
        "role.builder",
    }
    beta = agent_card(load_config(side.ws), "beta", url)
    assert {s.id for s in beta.skills} == {"sprintboard.envelope", "cap.mlx", "role.builder"}


def test_the_cli_does_not_load_the_sdk() -> None:
    code = "import sys, sprintboard.cli; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(out.stdout.split())
    assert "a2a" not in loaded and "uvicorn" not in loaded
    assert "sprintboard.a2a.http_server" not in loaded


def test_answers_are_verified_with_the_senders_key(side: Side, url: str) -> None:
    env, reply = _claim(side, url)
    (assigned,) = reply.replies
    raw = reply.task.artifacts[0].parts[0].raw
    assert orjson.loads(raw)["reply_to"] == env.id  # the very bytes a directory file would hold
    assert assigned.env.sender == "alpha" and assigned.env.recipient == "beta"
    stored = asyncio.run(_get_task(url, reply.task.id))  # the task stays readable by id
    assert pb.TaskState.Name(stored.status.state) == "TASK_STATE_COMPLETED"
    assert [a.artifact_id for a in stored.artifacts] == [assigned.env.id]


async def _get_task(url: str, task_id: str) -> Any:
    async with httpx.AsyncClient() as http:
        client = await create_client(url, ClientConfig(streaming=False, httpx_client=http))
        return await client.get_task(pb.GetTaskRequest(id=task_id))


def test_the_cli_serves_the_owner_endpoint(side: Side, tmp_path: Path) -> None:
    """`sprintboard a2a http --port 0` as its own process, with a sender on the real clock."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-c",
            "import sys; from sprintboard.cli import main; main(sys.argv[1:])",
        ]
        + ["a2a", "http", "-w", str(side.ws), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # printed once the socket listens
        assert "a2a http: host alpha on http://127.0.0.1:" in line, line
        where = line.split(" on ", 1)[1].split(" ", 1)[0]
        beta = open_postbox(side.ws, "beta", keys=tmp_path / "beta-keys")
        env = beta.seal(
            "alpha",
            "request",
            lambda m: messages.request(m, "claim", {"task": "T2", "agent": "builder-beta"}),
        )
        got = send_over_http_sync(where, beta, env)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert got.state == "TASK_STATE_COMPLETED", got.text
    (assigned,) = got.replies
    assert assigned.env.kind == "assignment"
    lease = open_board(side.ws, host="alpha").snapshot().tasks["T2"].lease
    assert lease is not None and lease.host == "beta" and lease.fence == assigned.env.fence


def test_only_the_owner_serves_the_endpoint(side: Side) -> None:
    with pytest.raises(NotOwner, match="'beta' is not the board owner"):
        open_http_endpoint(side.ws, host="beta")


def test_the_endpoint_answers_without_waiting_for_nagle() -> None:
    """Connections the endpoint accepts have Nagle off: on a kept-alive connection each
    answer otherwise waited ~40 ms for the client's delayed ACK (bench_remote.py)."""
    import socket

    from sprintboard.a2a.http_server import listen

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                got.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await loop.create_server(Probe, sock=listen("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(got, 10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0
