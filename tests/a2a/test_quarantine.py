"""Replayed, forged, expired, oversized, malformed and hostile messages end in quarantine
and change nothing: not the board, not the files outside the inbox."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sprintboard.a2a import messages
from sprintboard.a2a.envelope import encode, file_name
from sprintboard.a2a.keys import KeyRing, keygen
from sprintboard.a2a.node import open_owner, open_postbox
from sprintboard.a2a.owner import OwnerHandler
from sprintboard.a2a.postbox import Postbox
from sprintboard.board.clock import FrozenClock


class Scene:
    def __init__(self, cluster: Any) -> None:
        self.ws: Path = cluster.alpha_ws
        self.a2a: Path = cluster.alpha_a2a
        self.clock = FrozenClock()
        self.owner: OwnerHandler = open_owner(self.ws, clock=self.clock)
        self.board = self.owner.board
        self.board.create_tasks([{"id": "T2", "title": "t", "status": "ready", "caps": ["mlx"]}])
        self.lease = self.board.claim("T2", "builder-beta", "beta", 600)
        self.beta: Postbox = open_postbox(self.ws, "beta", keys=cluster.beta_keys, clock=self.clock)
        self.inbox = self.a2a / "alpha" / "inbox"

    def heartbeat(self, fence: int | None = None) -> Any:
        return self.beta.seal(
            "alpha",
            "heartbeat",
            lambda m: messages.heartbeat(m, "T2", "S1"),
            task="T2",
            fence=fence or self.lease.fence,
        )

    def process(self) -> int:
        return self.owner.postbox.process(self.owner)

    def reasons(self) -> list[str]:
        return [r for _, r in self.owner.postbox.transport.inbox("alpha").quarantined()]  # type: ignore[attr-defined]

    def journal(self) -> bytes:
        return (self.ws / "sprints" / "events.jsonl").read_bytes()


@pytest.fixture
def scene(cluster: Any) -> Scene:
    return Scene(cluster)


def _unchanged(scene: Scene, action: Callable[[], None]) -> None:
    before = scene.journal()
    action()
    scene.process()
    assert scene.journal() == before
    assert not os.listdir(scene.inbox / "new") and not os.listdir(scene.inbox / "cur")


def test_a_good_heartbeat_is_handled_then_its_replay_quarantined(scene: Scene) -> None:
    env = scene.heartbeat()
    scene.beta.post([env])
    scene.clock.advance(10)
    assert scene.process() == 1
    assert scene.board.snapshot().tasks["T2"].lease.last_heartbeat.endswith("00:00:10.000Z")
    archived = scene.a2a / "alpha" / "archive" / file_name(env)

    def replay() -> None:
        shutil.copy(archived, scene.inbox / "new" / file_name(env))

    _unchanged(scene, replay)
    assert scene.reasons() == [f"replayed id {env.id} (already handled)"]
    # the ids survive a restart of the owner
    fresh = open_owner(scene.ws, clock=scene.clock)
    (scene.inbox / "new" / file_name(env)).write_bytes(archived.read_bytes())
    fresh.postbox.process(fresh)
    assert len(scene.reasons()) == 2 and "replayed" in scene.reasons()[1]


def test_forged_expired_oversized_and_wrong_recipient(scene: Scene, tmp_path: Path) -> None:
    forger = Postbox(
        "beta",
        scene.beta.transport,
        KeyRing(tmp_path / "forger"),
        seen=scene.beta.seen,
        clock=scene.clock,
    )
    keygen(tmp_path / "forger", "alpha", "beta")  # a key, but not the pair's key
    _unchanged(
        scene,
        lambda: forger.post(
            [
                forger.seal(
                    "alpha",
                    "heartbeat",
                    lambda m: messages.heartbeat(m, "T2", "S"),
                    task="T2",
                    fence=1,
                )
            ]
        ),
    )
    stale = scene.heartbeat()
    scene.clock.advance(3600 + 600 + 1)  # ttl + max_skew
    _unchanged(scene, lambda: scene.beta.post([stale]))
    _unchanged(scene, lambda: (scene.inbox / "new" / "beta-big.json").write_bytes(b" " * (2 << 20)))
    gamma = scene.beta.seal(
        "alpha", "heartbeat", lambda m: messages.heartbeat(m, "T2", "S"), task="T2", fence=1
    )
    other = scene.a2a / "beta" / "inbox" / "new"
    _unchanged(
        scene,
        lambda: (scene.inbox / "new" / file_name(gamma)).write_bytes(
            encode(gamma).replace(b'"recipient":"alpha"', b'"recipient":"beta"')
        ),
    )
    kinds = sorted(r.split(" ")[0].split(":")[0] for r in scene.reasons())
    assert kinds == ["bad", "expired", "oversized", "wrong"]
    assert not other.exists() or not os.listdir(other)  # nothing was answered


def test_hostile_entries_are_moved_never_followed(scene: Scene, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("do not touch", encoding="utf-8")
    new = scene.inbox / "new"

    def plant() -> None:
        os.symlink(secret, new / "beta-link.json")
        os.mkfifo(new / "beta-fifo.json")
        (new / "beta-dir.json").mkdir()
        (new / "..hidden").write_bytes(b"{}")
        (new / "beta-x.json").write_bytes(b'{"v":1}')

    _unchanged(scene, plant)
    assert secret.read_text(encoding="utf-8") == "do not touch"
    reasons = " | ".join(scene.reasons())
    for expected in ("symlink", "not a regular file", "hostile file name", "malformed"):
        assert expected in reasons
    quarantine = scene.a2a / "alpha" / "quarantine"
    assert os.path.islink(quarantine / "beta-link.json")  # moved as a link, target untouched


def test_a_result_naming_a_blob_outside_the_store_is_quarantined(scene: Scene) -> None:
    payload = messages.result("x", "T2", "S1", [], {})
    payload["task"]["artifacts"] = [
        {"artifactId": "../../sprints/events.jsonl", "name": "a", "parts": [{"url": "blobs/x"}]}
    ]
    env = scene.beta.seal("alpha", "result", lambda m: payload, task="T2", fence=scene.lease.fence)
    _unchanged(scene, lambda: scene.beta.post([env]))
    assert "path traversal" in scene.reasons()[0]
    assert scene.board.snapshot().tasks["T2"].status == "in_progress"


def _apply(scene: Scene, *events: dict[str, Any]) -> Any:
    return scene.beta.seal(
        "alpha", "request", lambda m: messages.request(m, "apply", {"events": list(events)})
    )


def test_a_forged_remote_metric_is_quarantined_and_changes_nothing(scene: Scene) -> None:
    # T3 is alpha's; beta pairs with the owner, so its messages are signed and verify.
    scene.board.create_tasks([{"id": "T3", "title": "eval", "status": "ready"}])
    scene.board.claim("T3", "builder-alpha", "alpha", 600)
    forged = {
        "op": "metric.set",
        "task": "T3",
        "fields": {"name": "val_loss", "value": 0.01},
        "actor": "auditor-1",
    }
    _unchanged(scene, lambda: scene.beta.post([_apply(scene, forged)]))
    assert scene.board.snapshot().tasks["T3"].metrics == {}
    (reason,) = scene.reasons()
    assert "T3: is leased to builder-alpha@alpha; beta writes about a task only under its own" in (
        reason
    )
    # On its own task, a write without the lease's fence is refused too, and a decision always.
    no_fence = {**forged, "task": "T2"}
    _unchanged(scene, lambda: scene.beta.post([_apply(scene, no_fence)]))
    assert any("T2: fence None is not the lease's (1)" in r for r in scene.reasons())
    decision = {"op": "decision.add", "task": "T2", "fields": {"text": "ship"}, "fence": 1}
    _unchanged(scene, lambda: scene.beta.post([_apply(scene, decision)]))
    assert any("and writes no decisions" in r for r in scene.reasons())
    assert len(scene.reasons()) == 3


def test_a_remote_metric_under_the_writers_own_lease_is_recorded_as_the_holder(
    scene: Scene,
) -> None:
    own = {
        "op": "metric.set",
        "task": "T2",
        "fields": {"name": "val_loss", "value": 1.5},
        "actor": "auditor-1@alpha",
        "fence": scene.lease.fence,
    }
    scene.beta.post([_apply(scene, own)])
    assert scene.process() == 1 and scene.reasons() == []
    (event,) = [e for e in scene.board.events() if e.op == "metric.set"]
    assert event.actor == "builder-beta@beta" and event.fence == scene.lease.fence
    assert scene.board.snapshot().tasks["T2"].metrics == {"val_loss": 1.5}


def test_a_replay_inside_its_window_is_caught_after_the_ids_were_pruned_and_compacted(
    scene: Scene,
) -> None:
    env = scene.heartbeat()
    scene.beta.post([env])
    assert scene.process() == 1
    seen = scene.owner.postbox.seen
    for i in range(1100):  # old ids, long past their window
        seen.add(f"beta-old-{i}", scene.clock.now() - timedelta(days=1))
    seen.flush()
    # the last moment of the replay's window: expiry + max_skew
    scene.clock.advance(3600 + 600)
    assert seen.prune(scene.clock.now()) == 1100
    assert len(seen.path.read_text(encoding="utf-8").splitlines()) == 1  # compacted
    archived = scene.a2a / "alpha" / "archive" / file_name(env)
    shutil.copy(archived, scene.inbox / "new" / file_name(env))
    assert scene.process() == 0
    assert scene.reasons() == [f"replayed id {env.id} (already handled)"]
    fresh = open_owner(scene.ws, clock=scene.clock)  # and after a restart
    shutil.copy(archived, scene.inbox / "new" / file_name(env))
    assert fresh.postbox.process(fresh) == 0
    assert scene.reasons()[1] == f"replayed id {env.id} (already handled)"
