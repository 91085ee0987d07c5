"""Worker processes: every worker count and range size gives the same bytes as one process.

The dataset tools cut inputs into byte ranges, scan them apart and merge by (file, line);
these tests hold that to "byte for byte the same" over generated corpora with faults, exact
duplicates written other ways and near duplicates, and check the pieces it rests on.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sprintboard.errors import ToolError
from sprintboard.tools.audit import AuditConfig, audit
from sprintboard.tools.chat_rows import ERROR_REASONS, conversation_key
from sprintboard.tools.dedup import DedupConfig, dedup
from sprintboard.tools.engine import Engine, LocalEngine
from sprintboard.tools.jsonl_stream import ByteRange, plan_ranges
from sprintboard.tools.mix import MixConfig, MixSource, mix
from sprintboard.tools.row_scan import KeySpec, ScanJob, ScanSpec, _check_general, scan_range
from sprintboard.tools.split import SplitConfig, split

Corpus = Callable[[Callable[..., Any]], tuple[list[bytes], bool]]
WriteCorpus = Callable[[Path, list[tuple[list[bytes], bool]]], list[Path]]
Outputs = Callable[[Path], dict[str, Any]]
_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def pool() -> Iterator[LocalEngine]:
    """Two worker processes, started once for the module."""
    with LocalEngine(2) as engine:
        yield engine


def _runs(paths: list[Path], out: Path) -> list[Callable[[Engine], object]]:
    return [
        lambda e: dedup(DedupConfig(inputs=paths, out_dir=out / "exact"), engine=e),
        lambda e: dedup(DedupConfig(inputs=paths, out_dir=out / "near", near=True), engine=e),
        lambda e: audit(
            AuditConfig(inputs=paths, out_dir=out / "audit", fix=True, plot=False), engine=e
        ),
    ]


@_SETTINGS
@given(data=st.data())
def test_outputs_are_the_same_bytes_for_every_worker_count(
    tmp_path_factory: pytest.TempPathFactory,
    pool: LocalEngine,
    ds_corpus: Corpus,
    ds_write_corpus: WriteCorpus,
    ds_outputs: Outputs,
    data: Any,
) -> None:
    files = [ds_corpus(data.draw) for _ in range(data.draw(st.integers(1, 3)))]
    pool.range_bytes = data.draw(st.integers(1, 600))  # down to one line per range
    folder = tmp_path_factory.mktemp("corpus")
    paths = ds_write_corpus(folder, files)
    out = folder / "out"
    for run in _runs(paths, out):
        reports = []
        seen = []
        for engine in (LocalEngine(1), pool):
            reports.append(run(engine))
            seen.append(ds_outputs(out))
            shutil.rmtree(out)
        assert reports[0] == reports[1]
        assert seen[0] == seen[1]


def test_split_and_mix_are_the_same_for_every_worker_count(
    tmp_path: Path,
    pool: LocalEngine,
    ds_chat: Callable[..., dict[str, Any]],
    ds_write: Any,
    ds_outputs: Outputs,
) -> None:
    rows = [ds_chat(i, 20) for i in range(60)]
    a = ds_write(tmp_path / "a.jsonl", [*rows[:40], rows[3], b"{bad", rows[7]])
    b = ds_write(tmp_path / "b.jsonl", [*rows[40:], b"", rows[41]])
    pool.range_bytes = 300
    results = []
    for engine in (LocalEngine(1), pool):
        out = tmp_path / "out"
        split(SplitConfig(inputs=[a, b], out_dir=out / "split", seed=5), engine=engine)
        sources = [MixSource(name="a", path=a, ratio=2), MixSource(name="b", path=b, ratio=1)]
        mix(MixConfig(sources=sources, output=out / "mix.jsonl", seed=9), engine=engine)
        results.append(ds_outputs(out))
        shutil.rmtree(out)
    assert results[0] == results[1] and len(results[0]) == 7


@_SETTINGS
@given(data=st.data())
def test_the_fast_path_judges_every_row_as_the_general_path_does(
    tmp_path_factory: pytest.TempPathFactory,
    ds_corpus: Corpus,
    ds_write_corpus: WriteCorpus,
    ds_outputs: Outputs,
    data: Any,
) -> None:
    lines, newline_at_end = ds_corpus(data.draw)
    path = ds_write_corpus(tmp_path_factory.mktemp("rows"), [(lines, newline_at_end)])[0]
    scan = scan_range(
        ScanJob(
            ByteRange(0, str(path), 0, path.stat().st_size), ScanSpec("messages", key=KeySpec())
        )
    )
    good: list[int] = []
    keys: list[int] = []
    flagged = []
    import xxhash

    for i, raw in enumerate(lines):
        last = i == len(lines) - 1 and not newline_at_end
        turns, problems = _check_general(raw, "messages", last)
        if problems:
            flagged.append((i, problems, raw))
        if turns is not None and not any(r in ERROR_REASONS for r, _ in problems):
            good.append(i)
            key = conversation_key([r for r, _ in turns], [c for _, c in turns])
            keys.append(xxhash.xxh3_128_intdigest(key))
    assert (list(scan.good), scan.keys, scan.flagged) == (good, keys, flagged)
    assert scan.rows == len(lines)


def test_ranges_start_at_line_starts_and_cover_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    lines = [b"x" * n for n in (0, 5, 300, 1, 70_000, 2, 0, 9)]
    path.write_bytes(b"\n".join(lines))  # the last line has no newline
    data = path.read_bytes()
    for target in (1, 3, 100, 1000, 10**6):
        ranges = plan_ranges([path], target)
        assert ranges[0].start == 0 and ranges[-1].end == len(data)
        for before, after in zip(ranges, ranges[1:], strict=False):
            assert before.end == after.start and data[after.start - 1 : after.start] == b"\n"


def test_a_lost_worker_fails_the_run_with_the_reason() -> None:
    with LocalEngine(2) as engine, pytest.raises(ToolError, match="worker process died"):
        list(engine.map(os._exit, [3]))
