"""leakage: exact and near overlap between two files, reported by line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.cli import main
from sprintboard.tools.leakage import LeakageConfig, leakage

Chat = Callable[..., dict[str, Any]]
Write = Callable[..., Path]
Near = Callable[[dict[str, Any], int], dict[str, Any]]


def test_exact_and_near_overlap_are_counted_by_b_row(
    tmp_path: Path,
    ds_chat: Chat,
    ds_near: Near,
    ds_write: Write,
    capsys: pytest.CaptureFixture[str],
) -> None:
    train_rows = [ds_chat(i) for i in range(50)]
    respaced = {
        "messages": [{**m, "content": m["content"] + "  "} for m in train_rows[7]["messages"]]
    }
    test_rows = [ds_chat(100 + i) for i in range(10)] + [respaced, ds_near(train_rows[30], 1)]
    a = ds_write(tmp_path / "train.jsonl", train_rows)
    b = ds_write(tmp_path / "test.jsonl", test_rows)
    report = leakage(LeakageConfig(a=a, b=b, out_dir=tmp_path / "leak"))
    assert (report.ok, report.a_rows, report.b_rows, report.exact, report.near) == (
        False,
        50,
        12,
        1,
        1,
    )
    assert [(p.kind, p.a_line, p.b_line) for p in report.examples] == [
        ("exact", 8, 11),
        ("near", 31, 12),
    ]
    assert report.examples[1].similarity >= 0.9
    assert orjson.loads((tmp_path / "leak" / "leakage.json").read_bytes())["near"] == 1
    exact_only = leakage(LeakageConfig(a=a, b=b, near=False, out_dir=tmp_path / "leak2"))
    assert (exact_only.exact, exact_only.near) == (1, 0)
    with pytest.raises(SystemExit) as exc:
        main(["tools", "leakage", str(a), str(b), "--out", str(tmp_path / "l3"), "--json"])
    assert exc.value.code == 1
    assert orjson.loads(capsys.readouterr().out)["exact"] == 1
    clean = leakage(
        LeakageConfig(
            a=a, b=ds_write(tmp_path / "new.jsonl", test_rows[:10]), out_dir=tmp_path / "l4"
        )
    )
    assert clean.ok and clean.exact == clean.near == 0
