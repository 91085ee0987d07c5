"""Data-parallel training through `mlx.launch`: the same training as one process, a run that
fails when a rank dies, exact resume, no port collisions, the Builder and the Auditor.

The launching tests start real `mlx.launch` runs of 2 local ranks (ring backend over
127.0.0.1). To stay short they share one module fixture that makes two runs at once: "a",
a Builder's train step whose `hosts` name a `[[hosts]]` entry, and "b", a direct
`distributed = 2` run with dropout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sprintboard.board.models import Criterion, Step, Task
from sprintboard.errors import ConfigError, ToolError
from sprintboard.tools import train_distributed
from sprintboard.tools.train_config import TrainConfig, TrainReport, load_train_config
from sprintboard.tools.train_distributed import RankHost, rank_hosts, reserve_ports
from sprintboard.tools.train_resume import latest_checkpoint

# Warmup + cosine make the curve depend on the optimizer's step counter; run "b" adds dropout,
# so its resume depends on every rank's random stream too.
_SETTINGS: dict[str, Any] = {
    "iters": 16, "learning_rate": 2e-3, "lr_schedule": "cosine", "warmup_steps": 3,
    "batch_size": 4, "max_seq_length": 128, "report_every": 4, "eval_every": 8,
    "save_every": 4, "val_batches": -1, "seed": 3,
}  # fmt: skip
_DROPOUT = 0.1
_LOCAL2 = ["127.0.0.1", "127.0.0.1"]
# Relative difference allowed between the 1-rank and 2-rank loss curves. The two runs do
# the same arithmetic on the same rows, but sums split over ranks (and over a narrower
# padding per shard) round differently; the curves drift apart by ~1e-6 here.
_CURVE_RTOL = 1e-4


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sprintboard.tools.tiny_model import build_tiny_dataset

    return build_tiny_dataset(tmp_path_factory.mktemp("dist-data"), sizes=(24, 8, 8))


def _config(model: Path, data: Path, output: Path, **over: Any) -> TrainConfig:
    return TrainConfig.model_validate(
        {"model": model, "data": data, "output": output, **_SETTINGS, **over}
    )


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _weights_equal(a: Path, b: Path) -> bool:
    import mlx.core as mx

    wa, wb = mx.load(str(a / "adapters.safetensors")), mx.load(str(b / "adapters.safetensors"))
    return wa.keys() == wb.keys() and all(mx.array_equal(wa[k], wb[k]).item() for k in wa)


_WORKSPACE = """\
[board]
owner = "alpha"

[[hosts]]
name = "alpha"
caps = ["mlx"]

[[hosts]]
name = "mac-b"
ssh = "127.0.0.1"

[[agents]]
name = "builder-1"
role = "builder"
host = "alpha"

[[agents]]
name = "auditor-1"
role = "auditor"
host = "alpha"
"""


@dataclass
class TwoRuns:
    """What the two runs made at once left behind."""

    a: TrainReport
    """The Builder's step (its report as the Builder saved it)."""
    b: TrainReport
    task: Task
    """The Builder's task after the Auditor's pass."""
    overlapped: bool
    """The two runs' time spans overlap."""


@pytest.fixture(scope="module")
def two_at_once(tiny_model: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> TwoRuns:
    from sprintboard.agents.hosting import board_for_host
    from sprintboard.agents.runner import Runner, RunnerOptions
    from sprintboard.agents.runtime import open_checkpointer
    from sprintboard.config import load_config
    from sprintboard.tools import run_step
    from sprintboard.tools.train import train

    spans: dict[str, tuple[float, float]] = {}

    def timed_step(tool: str, config: Any) -> Any:  # the real tool, timed
        tic = time.monotonic()
        report = run_step(tool, config)
        spans["a"] = (tic, time.monotonic())
        return report

    root = tmp_path_factory.mktemp("two-at-once")
    (root / "sprintboard.toml").write_text(_WORKSPACE, encoding="utf-8")
    board = board_for_host(root, "alpha")
    step = Step("train", {
        "model": str(tiny_model), "data": str(data), "output": "{run:T001}/adapter",
        "hosts": ["mac-b", "mac-b"], **_SETTINGS,
    })  # fmt: skip
    criteria = [
        Criterion("two ranks", check="metric world_size == 2"),
        Criterion("learnt", check="metric val_loss < 6"),
    ]
    board.create_tasks([Task(id="T001", title="train", status="ready", steps=[step], criteria=criteria)])  # fmt: skip
    with open_checkpointer(root) as saver:
        runner = Runner(
            root, "alpha", board, load_config(root), saver,
            RunnerOptions(roles=("builder", "auditor")), run_tool=timed_step,
        )  # fmt: skip
        try:
            runner.tick()  # the Builder's step starts in the runner's pool
            (building,) = runner.futures.values()
            tic = time.monotonic()
            b = train(_config(tiny_model, data, root / "b", distributed=2, dropout=_DROPOUT))
            spans["b"] = (tic, time.monotonic())
            assert building.result(timeout=280)["outcome"] == "submitted"
            runner.tick()  # the Auditor
        finally:
            runner.pool.shutdown(wait=True)
    report = root / "runs" / "T001" / "1" / "step-1-train.report.json"
    a = TrainReport.model_validate_json(report.read_text(encoding="utf-8"))
    (a_start, a_end), (b_start, b_end) = spans["a"], spans["b"]
    overlapped = a_start < b_end and b_start < a_end
    return TwoRuns(a, b, board.snapshot().tasks["T001"], overlapped)


# -- config, hosts, ports: no launch -----------------------------------------------------------


def test_launch_settings_are_checked_when_the_config_is_built(tmp_path: Path) -> None:
    base = {"model": tmp_path, "data": tmp_path, "output": tmp_path, "iters": 2}
    with pytest.raises(ValueError, match="one of `distributed`"):
        TrainConfig.model_validate({**base, "distributed": 2, "hosts": ["10.0.0.2"]})
    with pytest.raises(ValueError, match="global batch and must divide evenly among the 3"):
        TrainConfig.model_validate({**base, "batch_size": 4, "distributed": 3})
    with pytest.raises(ConfigError) as err:
        load_train_config(None, **base, batch_size=2, hosts=["a", "b", "c"])
    assert "3 ranks" in str(err.value)
    assert not TrainConfig.model_validate(base).launches


def test_rank_hosts_run_loopback_here_and_need_ips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = {"mac-a": "10.0.0.2", "localhost": "127.0.0.1"}

    def lookup(name: str) -> str:
        if name not in names:
            raise socket.gaierror(-2, "Name or service not known")
        return names[name]

    monkeypatch.setattr(train_distributed.socket, "gethostbyname", lookup)
    base = {"model": tmp_path, "data": tmp_path, "output": tmp_path, "iters": 2}
    cfg = TrainConfig.model_validate({**base, "distributed": 2})
    assert rank_hosts(cfg) == [RankHost("127.0.0.1", "127.0.0.1")] * 2
    cfg = TrainConfig.model_validate({**base, "hosts": ["mac-a", "10.0.0.3", "x", "10.0.0.4"]})
    with pytest.raises(ToolError, match="host 'x' does not resolve to an IP address"):
        rank_hosts(cfg)
    cfg = cfg.model_copy(update={"hosts": ["mac-a", "10.0.0.3", "10.0.0.3", "10.0.0.4"]})
    assert rank_hosts(cfg) == [
        RankHost("mac-a", "10.0.0.2"),
        RankHost("10.0.0.3", "10.0.0.3"),
        RankHost("10.0.0.3", "10.0.0.3"),
        RankHost("10.0.0.4", "10.0.0.4"),
    ]
    cfg = cfg.model_copy(update={"hosts": ["localhost", "127.0.0.1"]})
    local = RankHost("127.0.0.1", "127.0.0.1")  # mlx.launch runs it here, without ssh
    assert rank_hosts(cfg) == [local, local]
    cfg = cfg.model_copy(update={"hosts": ["localhost", "mac-a"]})
    with pytest.raises(ToolError, match="cannot reach 127.0.0.1 in the ring"):
        rank_hosts(cfg)
    hostfile = tmp_path / "hosts.json"
    hostfile.write_text(
        json.dumps([{"ssh": "mac-a"}, {"ssh": "mac-b", "ips": ["10.0.0.9"]}]), encoding="utf-8"
    )
    cfg = TrainConfig.model_validate({**base, "hostfile": hostfile})
    assert rank_hosts(cfg) == [RankHost("mac-a", "10.0.0.2"), RankHost("mac-b", "10.0.0.9")]
    hostfile.write_text('{"backend": "mpi", "hosts": [{"ssh": "mac-a"}]}', encoding="utf-8")
    with pytest.raises(ToolError, match="only `ring` is supported"):
        rank_hosts(cfg)
    hostfile.write_text('{"hosts": [{"name": "mac-a"}]}', encoding="utf-8")
    with pytest.raises(ToolError, match="not an mlx.launch host file"):
        rank_hosts(cfg)


def test_reserved_port_blocks_are_free_and_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    with reserve_ports(3) as first, reserve_ports(3) as second:
        assert not set(range(first, first + 3)) & set(range(second, second + 3))
    # A block with a port some other program listens on is skipped.
    busy = socket.socket()
    try:
        start = next(p for p in range(23000, 24000) if _binds(busy, p))
        busy.listen()
        tries = iter([start - 1, start + 10])  # the first block covers `start`
        monkeypatch.setattr(
            train_distributed, "random", SimpleNamespace(randrange=lambda *_: next(tries))
        )
        with reserve_ports(2) as port:
            assert port == start + 10
    finally:
        busy.close()


def _binds(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("", port))
    except OSError:
        return False
    return True


def test_each_rank_takes_its_share_of_the_same_global_batches() -> None:
    from sprintboard.tools.train_data import Split, TrainBatches

    items = [(list(range(1, 3 + i % 7)), 0) for i in range(16)]
    split = Split("train", Path("train.jsonl"), "text", items)
    one = TrainBatches(split, 4, seed=5)
    ranks = [TrainBatches(split, 4, seed=5) for _ in range(2)]
    streams = [
        b(split, 4, 64, comm_group=SimpleNamespace(rank=lambda r=r: r, size=lambda: 2))
        for r, b in enumerate(ranks)
    ]
    whole = one(split, 4, 64)
    for _ in range(6):  # past an epoch boundary (4 batches per epoch)
        full_rows = next(whole)[0].tolist()
        shards = [next(s)[0].tolist() for s in streams]
        got = [shards[0][0], shards[1][0], shards[0][1], shards[1][1]]
        assert [r[: len(g)] for r, g in zip(full_rows, got, strict=True)] == got
    assert one.consumed == ranks[0].consumed == ranks[1].consumed == 6


def test_dry_run_estimates_one_ranks_share_without_launching(
    tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    one = train(_config(tiny_model, data, tmp_path / "one", dry_run=True))
    two = train(_config(tiny_model, data, tmp_path / "two", dry_run=True, distributed=2))
    assert two.world_size == 2 and two.launch is None
    assert two.estimate.activations * 2 == one.estimate.activations


# -- real launches -----------------------------------------------------------------------------


@pytest.mark.slow
def test_two_runs_at_once_do_not_collide_on_ports(two_at_once: TwoRuns) -> None:
    a, b = two_at_once.a, two_at_once.b
    assert two_at_once.overlapped
    assert a.launch is not None and b.launch is not None
    assert a.launch.hosts == b.launch.hosts == ["127.0.0.1", "127.0.0.1"]
    assert abs(a.launch.port - b.launch.port) >= 2  # each rank r listens on port + r
    assert (a.steps, b.steps, a.world_size, b.world_size) == (16, 16, 2, 2)


@pytest.mark.slow
def test_the_builder_trains_across_named_hosts_and_the_auditor_reads_the_metrics(
    two_at_once: TwoRuns,
) -> None:
    task = two_at_once.task
    assert task.status == "done", (task.status, [c.result for c in task.criteria])
    assert task.metrics["world_size"] == 2 and task.metrics["trained_tokens"] > 0
    assert task.metrics["val_loss"] == two_at_once.a.metrics["val_loss"]
    # `mac-b` is a [[hosts]] entry: the Builder handed mlx.launch its ssh address.
    assert two_at_once.a.launch is not None
    assert two_at_once.a.launch.hosts == ["127.0.0.1", "127.0.0.1"]


@pytest.mark.slow
def test_two_ranks_train_like_one_process_with_the_same_global_batch(
    two_at_once: TwoRuns, tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    two = two_at_once.a
    one = train(_config(tiny_model, data, tmp_path / "one"))
    rows1, rows2 = _rows(one.metrics_file), _rows(two.metrics_file)
    assert {r["world_size"] for r in rows2} == {2} and {r["world_size"] for r in rows1} == {1}
    # The same rows were trained, and only rank 0 wrote (one row per report, not two).
    assert [(r["kind"], r["step"], r["trained_tokens"]) for r in rows2] == [
        (r["kind"], r["step"], r["trained_tokens"]) for r in rows1
    ]
    assert two.metrics["trained_tokens"] == one.metrics["trained_tokens"] > 0
    for r1, r2 in zip(rows1, rows2, strict=True):
        key = "train_loss" if r1["kind"] == "train" else "val_loss"
        assert r2[key] == pytest.approx(r1[key], rel=_CURVE_RTOL), (r1, r2)
        assert r2.get("learning_rate") == r1.get("learning_rate")
    assert rows2[-1]["val_loss"] < rows2[0]["val_loss"] - 1.0  # it did learn
    manifest = json.loads(two.manifest.read_text(encoding="utf-8"))
    assert manifest["extra"]["world_size"] == 2


@pytest.mark.slow
def test_resume_with_another_world_size_is_refused(
    two_at_once: TwoRuns, tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    out = tmp_path / "copy"
    shutil.copytree(two_at_once.b.output, out)
    with pytest.raises(ToolError, match=r"a run of 2 rank\(s\) and this run has 1"):
        train(_config(tiny_model, data, out, dropout=_DROPOUT))


def _rank_pid(output: Path, rank: int) -> int | None:
    """The pid of rank `rank` of the run writing `output` (Linux /proc)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if f"MLX_RANK={rank}".encode() in environ and str(output).encode() in cmdline:
            return int(entry)
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks in /proc")
def test_a_killed_rank_fails_the_command_and_a_resume_matches_an_uninterrupted_run(
    two_at_once: TwoRuns, tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    reference = two_at_once.b
    killed = tmp_path / "killed"
    argv = ["tools", "train", "--model", str(tiny_model), "--data", str(data), "-o", str(killed),
            "--distributed", "2", "--dropout", str(_DROPOUT), "--json"]  # fmt: skip
    for key, value in _SETTINGS.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    code = "import sys; from sprintboard.cli import main; main(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-P", "-c", code, *argv],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        victim = None
        while time.monotonic() < deadline and proc.poll() is None:
            ckpt = latest_checkpoint(killed)
            if ckpt is not None and ckpt.step >= 4:
                victim = _rank_pid(killed, 1)
                break
            time.sleep(0.01)
        assert victim is not None, f"no rank 1 to kill: {proc.poll()} {proc.stderr.read()!r}"  # type: ignore[union-attr]
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, (out, err)
    assert re.search(r"rank\(s\) (0, )?1 of 2 ended without finishing, killed or crashed", err)
    assert "Node with rank 1 exited with code -9" in err and "Traceback" not in err
    assert "run the same command again to resume" in err
    stopped = latest_checkpoint(killed)
    assert stopped is not None and 4 <= stopped.step < 16 and stopped.world_size == 2

    # The same two ranks, named by an mlx.launch host file this time.
    hostfile = tmp_path / "hosts.json"
    local = {"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}
    hostfile.write_text(
        json.dumps({"envs": ["MLX_METAL_FAST_SYNCH=1"], "hosts": [local] * 2}), "utf-8"
    )
    resumed = train(_config(tiny_model, data, killed, hostfile=hostfile, dropout=_DROPOUT))
    assert resumed.resumed_from == stopped.step and resumed.steps == 16
    curve = [(r["kind"], r["step"], r.get("train_loss", r.get("val_loss"))) for r in _rows(killed / "metrics.jsonl")]  # fmt: skip
    ref = [(r["kind"], r["step"], r.get("train_loss", r.get("val_loss"))) for r in _rows(reference.metrics_file)]  # fmt: skip
    assert curve == ref
    assert _weights_equal(killed, reference.output)


@pytest.mark.slow
def test_a_missing_file_is_reported_with_the_rank_and_host(
    tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    partial = tmp_path / "data"
    partial.mkdir()
    shutil.copy(data / "train.jsonl", partial / "train.jsonl")  # valid.jsonl is missing
    with pytest.raises(ToolError) as err:
        train(_config(tiny_model, partial, tmp_path / "out", distributed=2))
    # Whichever rank fails first is reported (mlx.launch may stop the other before it can).
    message = str(err.value)
    where = rf"rank [01] on {re.escape(socket.gethostname())}: "
    assert re.search(
        where + re.escape(f"train: {partial}/valid.jsonl: missing on this host"), message
    )
    assert "launch.log" in message
