"""split: seeded, mlx-lm file names, batch-size check, duplicate groups never straddle splits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sprintboard.errors import ToolError
from sprintboard.tools.leakage import LeakageConfig, leakage
from sprintboard.tools.split import SplitConfig, split

Chat = Callable[..., dict[str, Any]]
Write = Callable[..., Path]
Near = Callable[[dict[str, Any], int], dict[str, Any]]


@pytest.fixture
def ds_with_twins(tmp_path: Path, ds_chat: Chat, ds_near: Near, ds_write: Write) -> Path:
    base = [ds_chat(i) for i in range(120)]
    twins = [ds_near(base[i], i) for i in range(0, 120, 4)] + [base[i] for i in range(1, 120, 8)]
    return ds_write(tmp_path / "data.jsonl", [*base, *twins, b"{bad"])


def test_split_writes_mlx_files_and_keeps_twins_together(
    tmp_path: Path, ds_with_twins: Path
) -> None:
    out = tmp_path / "split"
    report = split(SplitConfig(inputs=[ds_with_twins], out_dir=out, seed=3))
    assert sorted(p.name for p in out.glob("*.jsonl")) == [
        "rejects.jsonl",
        "test.jsonl",
        "train.jsonl",
        "valid.jsonl",
    ]
    assert report.rejected == 1 and sum(report.splits.values()) == report.rows - 1 == 165
    assert report.duplicate_groups == 45
    assert 125 <= report.splits["train"] <= 140
    for held_out in ("valid", "test"):
        leak = leakage(
            LeakageConfig(
                a=out / "train.jsonl", b=out / f"{held_out}.jsonl", out_dir=tmp_path / held_out
            )
        )
        assert leak.ok, leak.examples
    no_near = split(
        SplitConfig(inputs=[ds_with_twins], out_dir=tmp_path / "nn", seed=3, near=False)
    )
    assert no_near.duplicate_groups == 15  # exact twins only


def test_same_seed_gives_identical_bytes(tmp_path: Path, ds_with_twins: Path) -> None:
    for name in ("a", "b"):
        split(SplitConfig(inputs=[ds_with_twins], out_dir=tmp_path / name, seed=11))
    split(SplitConfig(inputs=[ds_with_twins], out_dir=tmp_path / "c", seed=12))
    for f in ("train.jsonl", "valid.jsonl", "test.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert (tmp_path / "a" / "test.jsonl").read_bytes() != (
        tmp_path / "c" / "test.jsonl"
    ).read_bytes()


def test_a_split_smaller_than_the_batch_is_refused(
    tmp_path: Path, ds_chat: Chat, ds_write: Write
) -> None:
    path = ds_write(tmp_path / "small.jsonl", [ds_chat(i, 10) for i in range(20)])
    with pytest.raises(
        ToolError, match=r"valid.jsonl would hold 2 rows, fewer than the batch size 4"
    ):
        split(SplitConfig(inputs=[path], out_dir=tmp_path / "o", near=False))
    assert not (tmp_path / "o" / "train.jsonl").exists()
    report = split(
        SplitConfig(inputs=[path], out_dir=tmp_path / "o", ratios=(0.6, 0.4, 0), near=False)
    )
    assert report.splits == {"train": 12, "valid": 8}
    assert not (tmp_path / "o" / "test.jsonl").exists()


def test_cli_split(tmp_path: Path, ds_with_twins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sprintboard.cli import main

    out = tmp_path / "cli"
    main(
        [
            "tools",
            "split",
            str(ds_with_twins),
            "--out",
            str(out),
            "--ratios",
            "8,1,1",
            "--seed",
            "3",
        ]
    )
    assert "train:" in capsys.readouterr().out
    api = split(SplitConfig(inputs=[ds_with_twins], out_dir=tmp_path / "api", seed=3))
    assert (out / "test.jsonl").read_bytes() == Path(api.outputs[2]).read_bytes()
