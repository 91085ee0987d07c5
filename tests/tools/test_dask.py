"""The Dask engine: audit, dedup (exact and near), mix and split give the local bytes.

One 2-worker LocalCluster serves the whole module (it takes about a second to start);
hypothesis draws corpus shapes with faults, exact duplicates written other ways and near
duplicates, range sizes, shuffle partitions and dedup policies, and every output must equal
the local engine's, manifests apart from timings and the engine's name. Dedup on Dask is a
shuffle (keys by hash, bands by value) decided on the workers: it never gathers a range.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sprintboard.errors import ToolError
from sprintboard.tools.audit import AuditConfig, audit
from sprintboard.tools.dedup import DedupConfig, dedup
from sprintboard.tools.engine import Engine, LocalEngine, open_engine
from sprintboard.tools.jsonl_stream import ByteRange, plan_ranges
from sprintboard.tools.mix import MixConfig, MixSource, mix
from sprintboard.tools.row_scan import ScanJob, ScanSpec, scan_range
from sprintboard.tools.split import SplitConfig, split

pytest.importorskip("distributed")
from sprintboard.tools.dask_engine import DaskEngine

Corpus = Callable[[Callable[..., Any]], tuple[list[bytes], bool]]
WriteCorpus = Callable[[Path, list[tuple[list[bytes], bool]]], list[Path]]
Outputs = Callable[[Path], dict[str, Any]]


@pytest.fixture(scope="module")
def cluster() -> Iterator[DaskEngine]:
    with DaskEngine(2) as engine:
        yield engine


def _run_all(
    paths: list[Path], out: Path, engine: Engine, seed: int, policy: dict[str, Any]
) -> list[object]:
    sources = [MixSource(name=p.stem, path=p, ratio=i + 1) for i, p in enumerate(paths)]
    return [
        audit(
            AuditConfig(inputs=paths, out_dir=out / "audit", fix=True, plot=False), engine=engine
        ),
        dedup(DedupConfig(inputs=paths, out_dir=out / "exact", **policy), engine=engine),
        dedup(DedupConfig(inputs=paths, out_dir=out / "near", near=True, **policy), engine=engine),
        mix(MixConfig(sources=sources, output=out / "mix.jsonl", seed=seed), engine=engine),
        split(
            SplitConfig(inputs=paths, out_dir=out / "split", seed=seed, batch_size=1), engine=engine
        ),
    ]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_dask_gives_the_local_bytes_for_every_tool(
    tmp_path_factory: pytest.TempPathFactory,
    cluster: DaskEngine,
    ds_corpus: Corpus,
    ds_write_corpus: WriteCorpus,
    ds_outputs: Outputs,
    data: Any,
) -> None:
    files = [ds_corpus(data.draw) for _ in range(data.draw(st.integers(1, 3)))]
    cluster.range_bytes = data.draw(st.integers(1, 2000))
    cluster.partitions = data.draw(st.integers(1, 4))
    seed = data.draw(st.integers(0, 3))
    folder = tmp_path_factory.mktemp("corpus")
    paths = ds_write_corpus(folder, files)
    cross = data.draw(st.sampled_from(["all", "none", "first"]))
    policy = {
        "within_source": data.draw(st.booleans()),
        "cross_source": [paths[0].stem] if cross == "first" else cross,
        "verify": data.draw(st.booleans()),
    }
    out = folder / "out"
    found = []
    for engine in (LocalEngine(1), cluster):
        try:
            reports = _run_all(paths, out, engine, seed, policy)
        except ToolError as exc:  # too few rows for a split: both engines must say so
            reports = [str(exc)]
        found.append((reports, ds_outputs(out)))
        shutil.rmtree(out, ignore_errors=True)
    assert found[0] == found[1]


def test_dedup_on_dask_decides_on_the_workers_without_gathering_a_range(
    tmp_path: Path,
    cluster: DaskEngine,
    monkeypatch: pytest.MonkeyPatch,
    ds_chat: Callable[..., dict[str, Any]],
    ds_near: Callable[[dict[str, Any], int], dict[str, Any]],
    ds_write: Any,
    ds_outputs: Outputs,
) -> None:
    rows: list[Any] = [ds_chat(i % 7) for i in range(20)]
    rows += [ds_near(ds_chat(3), 1), b"{bad", ds_near(ds_chat(5), 2), ds_chat(2)]
    a = ds_write(tmp_path / "a.jsonl", rows)
    b = ds_write(tmp_path / "b.jsonl", [ds_chat(1), ds_near(ds_chat(6), 3), ds_chat(9)])
    configs = [
        DedupConfig(inputs=[a, b], out_dir=tmp_path / "out" / "exact"),
        DedupConfig(inputs=[a, b], out_dir=tmp_path / "out" / "near", near=True),
    ]
    local = [dedup(c, engine=LocalEngine(1)) for c in configs]
    expected = ds_outputs(tmp_path / "out")
    shutil.rmtree(tmp_path / "out")

    def refused(*_: object) -> None:
        raise AssertionError("dedup on Dask brought whole ranges back to the client")

    monkeypatch.setattr(cluster, "map", refused)
    monkeypatch.setattr(cluster, "range_bytes", 800)  # several ranges per file
    monkeypatch.setattr(cluster, "partitions", 3)
    on_dask = [dedup(c, engine=cluster) for c in configs]
    assert on_dask == local
    assert ds_outputs(tmp_path / "out") == expected  # no part file left behind either
    assert (local[0].exact_dropped, local[1].near_dropped) == (15, 3)


def test_the_manifest_names_the_engine(
    tmp_path: Path, cluster: DaskEngine, ds_chat: Callable[..., dict[str, Any]], ds_write: Any
) -> None:
    path = ds_write(tmp_path / "a.jsonl", [ds_chat(1), ds_chat(1), b"{bad"])
    report = dedup(DedupConfig(inputs=[path], out_dir=tmp_path / "o"), engine=cluster)
    assert (report.rows, report.rejected, report.exact_dropped) == (3, 1, 1)
    manifest = json.loads((tmp_path / "o" / "dedup.manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == "dask"
    rejected = json.loads((tmp_path / "o" / "rejects.jsonl").read_text(encoding="utf-8"))
    assert (rejected["file"], rejected["line"]) == (str(path), 3)  # file:line, from a worker


def test_an_error_on_a_worker_comes_back_as_itself(tmp_path: Path, cluster: DaskEngine) -> None:
    gone = ScanJob(ByteRange(0, str(tmp_path / "gone.jsonl"), 0, 10), ScanSpec())
    with pytest.raises(FileNotFoundError):
        list(cluster.map(scan_range, [gone]))


def test_progress_comes_from_the_workers_range_by_range(
    tmp_path: Path,
    cluster: DaskEngine,
    monkeypatch: pytest.MonkeyPatch,
    ds_chat: Callable[..., dict[str, Any]],
    ds_write: Any,
) -> None:
    import sprintboard.tools.dedup as dedup_module

    path = ds_write(tmp_path / "a.jsonl", [ds_chat(i % 5) for i in range(12)])
    advanced: list[float] = []

    class Recorder:
        def advance(self, amount: float) -> None:
            advanced.append(amount)

    @contextmanager
    def recorded(*_: object, **__: object) -> Iterator[Recorder]:
        yield Recorder()

    monkeypatch.setattr(dedup_module, "progress", recorded)
    monkeypatch.setattr(cluster, "range_bytes", 2000)
    config = DedupConfig(inputs=[path], out_dir=tmp_path / "o")
    dedup(config, engine=cluster, show_progress=True)
    size = path.stat().st_size
    assert len(advanced) == len(plan_ranges([path], 2000)) > 1  # one step per range scanned
    assert sum(advanced) == size


def test_a_worker_lost_mid_run_is_redone_or_fails_the_run_with_the_reason(
    tmp_path: Path,
    cluster: DaskEngine,
    monkeypatch: pytest.MonkeyPatch,
    ds_chat: Callable[..., dict[str, Any]],
    ds_near: Callable[[dict[str, Any], int], dict[str, Any]],
    ds_write: Any,
    ds_outputs: Outputs,
) -> None:
    rows: list[Any] = [ds_chat(i % 9) for i in range(30)] + [ds_near(ds_chat(4), 1), b"{bad"]
    path = ds_write(tmp_path / "a.jsonl", rows)
    config = DedupConfig(inputs=[path], out_dir=tmp_path / "out", near=True)
    expected_report = dedup(config, engine=LocalEngine(1))
    expected = ds_outputs(tmp_path / "out")
    shutil.rmtree(tmp_path / "out")
    client = cluster._client
    each_done = cluster.each_done
    killed: list[int] = []

    def kill_then_wait(handles: Any) -> Iterator[tuple[int, Any]]:
        # The scans and key partitions live on the workers now: lose one worker, and all
        # it held, while the run waits on it.
        if not killed:
            pid = next(iter(client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return each_done(handles)

    monkeypatch.setattr(cluster, "each_done", kill_then_wait)
    monkeypatch.setattr(cluster, "range_bytes", 1500)
    try:
        # Mostly Dask recomputes what the worker held and the run ends as locally. Under load
        # the scheduler may instead give up on a task whose inputs it forgot ("lost
        # dependencies", dask 2026.8): then the run fails with that reason and writes nothing.
        # Never a gap.
        try:
            report = dedup(config, engine=cluster)
        except ToolError as exc:
            assert "lost" in str(exc) and "run again" in str(exc)
            assert not list((tmp_path / "out").rglob("*.jsonl"))
        else:
            assert report == expected_report
            assert ds_outputs(tmp_path / "out") == expected  # no row missing, none twice
        assert killed
    finally:
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests


def test_an_existing_cluster_is_used_at_its_scheduler_address(
    tmp_path: Path,
    cluster: DaskEngine,
    capsys: pytest.CaptureFixture[str],
    ds_chat: Callable[..., dict[str, Any]],
    ds_near: Callable[[dict[str, Any], int], dict[str, Any]],
    ds_write: Any,
    ds_outputs: Outputs,
) -> None:
    from sprintboard.cli import main

    rows: list[Any] = [ds_chat(i % 4) for i in range(8)] + [ds_near(ds_chat(2), 5), b"{bad"]
    path = ds_write(tmp_path / "a.jsonl", rows)
    found = []
    for name, engine_args in (
        ("local", ["--workers", "1"]),
        ("dask", ["--engine", "dask", "--scheduler", cluster.address]),
    ):
        out = tmp_path / "out"  # one folder: the manifests name it
        for tool, extra in (("audit", ["--fix"]), ("dedup", ["--near"])):
            main(
                ["tools", tool, str(path), "--out", str(out / tool), *extra, "--json", *engine_args]
            )
        found.append(ds_outputs(out))
        capsys.readouterr()
        engines = {
            json.loads(m.read_text(encoding="utf-8"))["engine"] for m in out.rglob("*manifest.json")
        }
        assert engines == {name}
        shutil.rmtree(out)
    assert found[0] == found[1]
    assert len(cluster._client.scheduler_info()["workers"]) == 2  # a borrowed cluster stays up


@pytest.mark.slow
def test_a_job_that_keeps_killing_workers_fails_the_run_with_the_reason() -> None:
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with DaskEngine(1) as engine:
            with pytest.raises(ToolError, match="workers died"):
                list(engine.map(os._exit, [3]))
            engine._client.wait_for_workers(1, timeout=60)
            with pytest.raises(ToolError, match="workers died"):  # a shuffle stage alike
                engine.fetch([engine.submit(os._exit, 3)])


def test_without_dask_the_engine_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ToolError, match=r"pip install 'sprintboard\[dask\]'"):
        open_engine("dask", 2)


def test_without_dask_the_cli_says_how_to_install_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ds_chat: Callable[..., dict[str, Any]],
    ds_write: Any,
) -> None:
    from sprintboard.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "dask", None)
    path = ds_write(tmp_path / "a.jsonl", [ds_chat(1)])
    out = str(tmp_path / "out")
    for args in (
        ["audit", str(path), "--out", out],
        ["dedup", str(path), "--out", out],
        ["mix", str(tmp_path / "mix.jsonl"), "--source", f"a={path}:1"],
        ["split", str(path), "--out", out],
        ["leakage", str(path), str(path), "--out", out],
    ):
        with pytest.raises(SystemExit) as exc:
            main(["tools", *args, "--engine", "dask"])
        err = capsys.readouterr().err
        assert exc.value.code == 1
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "pip install 'sprintboard[dask]'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl"]  # refused before writing


@pytest.mark.slow
def test_the_cli_runs_dedup_on_dask_and_locally_alike(
    tmp_path: Path, ds_chat: Callable[..., dict[str, Any]], ds_write: Any
) -> None:
    import subprocess

    exe = Path(sys.executable).parent / "sprintboard"
    path = ds_write(tmp_path / "a.jsonl", [ds_chat(1), ds_chat(2), ds_chat(1), b"{bad"])
    outs = []
    for args in (["--workers", "1"], ["--engine", "dask", "--workers", "2"]):
        out = tmp_path / args[1]
        done = subprocess.run(
            [str(exe), "tools", "dedup", str(path), "--out", str(out), "--json", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        outs.append(
            [(out / n).read_bytes() for n in ("a.dedup.jsonl", "dropped.jsonl", "rejects.jsonl")]
        )
    assert outs[0] == outs[1]
    refused = subprocess.run(
        [str(exe), "tools", "dedup", str(path), "--out", str(tmp_path / "x"), "--scheduler", "x:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "--scheduler needs --engine dask" in refused.stderr
