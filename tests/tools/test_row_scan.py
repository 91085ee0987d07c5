"""One byte range scanned: the exact-duplicate keys, the near-duplicate text, and the fast
path that clean chat rows take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import xxhash

from sprintboard.tools import row_scan
from sprintboard.tools.chat_rows import Format, Problem, Turns
from sprintboard.tools.jsonl_stream import ByteRange
from sprintboard.tools.near_dup import MinHashParams, min_hasher
from sprintboard.tools.row_scan import KeySpec, ScanJob, ScanSpec, row_key, scan_range


def _scan(tmp_path: Path, rows: list[Any], **spec: Any) -> row_scan.RangeScan:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return scan_range(ScanJob(ByteRange(0, str(path), 0, path.stat().st_size), ScanSpec(**spec)))


def _msgs(*turns: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


def test_clean_chat_rows_take_the_fast_path_and_only_bad_rows_the_worded_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged: list[bytes] = []
    general = row_scan._check_general

    def spy(raw: bytes, fmt: Format | None, last: bool) -> tuple[Turns | None, list[Problem]]:
        judged.append(raw)
        return general(raw, fmt, last)

    monkeypatch.setattr(row_scan, "_check_general", spy)
    clean = [
        _msgs(("user", "q"), ("assistant", "a")),
        _msgs(("system", "s"), ("user", "q"), ("assistant", "a")),
        _msgs(("user", "q"), ("assistant", "a"), ("tool", "t"), ("tool", "t"), ("assistant", "b")),
        _msgs(("user", "q"), ("assistant", "a"), ("tool", "t"), ("user", "q2"), ("assistant", "b")),
    ]
    bad = [_msgs(("user", "q")), _msgs(("user", "q"), ("user", "q"), ("assistant", "a"))]
    out = _scan(tmp_path, clean + bad, format="messages", key=KeySpec())
    assert list(out.good) == [0, 1, 2, 3]
    assert [i for i, _, _ in out.flagged] == [4, 5]
    assert judged == [orjson.dumps(r) for r in bad]


def test_row_key_of_chosen_keys_strips_or_folds_strings_and_sorts_the_keys() -> None:
    raw = orjson.dumps({"q": " a  b\n", "n": 1, "z": "x"})
    assert row_key(raw, [], ("z", "q", "n"), False) == b'{"n":1,"q":"a  b","z":"x"}'
    assert row_key(raw, [], ("q", "missing"), True) == b'{"missing":null,"q":"a b"}'


@pytest.mark.parametrize("fold", [False, True])
def test_chosen_keys_fold_whitespace_only_when_asked(tmp_path: Path, fold: bool) -> None:
    rows = [{"text": "a  b", "id": 1}, {"text": " a b ", "id": 2}]
    spec = KeySpec(keys=("text",), normalize_whitespace=fold)
    out = _scan(tmp_path, rows, format="text", key=spec)
    assert list(out.good) == [0, 1]
    expected = [row_key(orjson.dumps(r), [], ("text",), fold) for r in rows]
    assert list(out.keys) == [xxhash.xxh3_128_intdigest(k) for k in expected]
    assert (out.keys[0] == out.keys[1]) is fold


def test_near_duplicate_hashes_are_of_the_contents_one_per_line(tmp_path: Path) -> None:
    params = MinHashParams(bands=4, rows=2, shingle=1)
    row = _msgs(("user", "alpha beta gamma"), ("assistant", "delta epsilon"))
    out = _scan(tmp_path, [row], format="messages", minhash=params)
    bands, has = min_hasher(params).band_hashes(["alpha beta gamma\ndelta epsilon"])
    assert out.bands is not None and out.bands.tolist() == bands.tolist()
    assert has.tolist() == [True]
