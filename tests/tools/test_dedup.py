"""dedup: exact duplicates by canonical form, per-source policies, near-duplicates by MinHash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from sprintboard.errors import ToolError
from sprintboard.tools.dedup import DedupConfig, dedup
from sprintboard.tools.near_dup import MinHasher, candidate_pairs, cluster_pairs, jaccard

Chat = Callable[..., dict[str, Any]]
Write = Callable[..., Path]
Near = Callable[[dict[str, Any], int], dict[str, Any]]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _dropped(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in _lines(out / "dropped.jsonl")]


def test_duplicates_differing_in_key_order_spacing_or_metadata_are_dropped(
    tmp_path: Path, ds_chat: Chat, ds_write: Write
) -> None:
    row = ds_chat(1)
    reordered = {
        "messages": [{"content": m["content"], "role": m["role"]} for m in row["messages"]]
    }
    padded = {
        "messages": [{**m, "content": f"  {m['content']}\n"} for m in row["messages"]],
        "id": 9,
    }
    inner = {
        "messages": [{**m, "content": m["content"].replace(" ", "  ", 1)} for m in row["messages"]]
    }
    path = ds_write(tmp_path / "a.jsonl", [row, ds_chat(2), reordered, padded, inner, b"oops"])
    out = tmp_path / "out"
    report = dedup(DedupConfig(inputs=[path], out_dir=out))
    assert (report.rows, report.rejected, report.exact_dropped, report.kept) == (6, 1, 2, 3)
    assert [(d["line"], d["kept_line"], d["kind"]) for d in _dropped(out)] == [
        (3, 1, "exact"),
        (4, 1, "exact"),
    ]
    assert _lines(out / "a.dedup.jsonl") == [_lines(path)[i] for i in (0, 1, 4)]
    folded = dedup(DedupConfig(inputs=[path], out_dir=tmp_path / "o2", normalize_whitespace=True))
    assert folded.exact_dropped == 3  # inner double space folds too
    assert orjson.loads(_lines(out / "rejects.jsonl")[0])["line"] == 6


def test_chosen_keys_compare_only_those_keys(tmp_path: Path, ds_write: Write) -> None:
    rows = [
        {"prompt": "a", "completion": "x", "id": 1},
        {"prompt": "a ", "completion": "y", "id": 2},
        {"prompt": "b", "completion": "x", "id": 3},
    ]
    path = ds_write(tmp_path / "pc.jsonl", rows)
    report = dedup(DedupConfig(inputs=[path], out_dir=tmp_path / "o", keys=["prompt"]))
    assert report.exact_dropped == 1 and _dropped(tmp_path / "o")[0]["line"] == 2


@pytest.mark.parametrize("near", [False, True], ids=["streaming", "fingerprint-pass"])
def test_source_policies_within_and_cross(
    tmp_path: Path, ds_chat: Chat, ds_write: Write, near: bool
) -> None:
    shared, own = ds_chat(1), ds_chat(2)
    web = ds_write(tmp_path / "web.jsonl", [shared, own, own])
    books = ds_write(tmp_path / "books.jsonl", [shared, ds_chat(3)])
    code = ds_write(tmp_path / "code.jsonl", [shared, shared])
    inputs = [web, books, code]
    everything = dedup(DedupConfig(inputs=inputs, out_dir=tmp_path / "all", near=near))
    assert [s.exact_dropped for s in everything.sources] == [1, 1, 2]
    named = dedup(
        DedupConfig(
            inputs=inputs, out_dir=tmp_path / "named", cross_source=["web", "books"], near=near
        )
    )
    assert [s.exact_dropped for s in named.sources] == [1, 1, 1]  # code only deduped within itself
    drops = _dropped(tmp_path / "named")
    assert {
        "kind": "exact",
        "source": "books",
        "line": 1,
        "kept_source": "web",
        "kept_line": 1,
        "similarity": None,
    } in drops
    no_within = dedup(
        DedupConfig(inputs=inputs, out_dir=tmp_path / "nw", within_source=False, near=near)
    )
    assert [s.exact_dropped for s in no_within.sources] == [0, 1, 2]
    with pytest.raises(ToolError, match="cross_source"):
        dedup(DedupConfig(inputs=inputs, out_dir=tmp_path / "x", cross_source=["nope"]))


def test_near_duplicates_are_clustered_and_the_earliest_row_kept(
    tmp_path: Path, ds_chat: Chat, ds_near: Near, ds_write: Write
) -> None:
    base = [ds_chat(i) for i in range(40)]
    rows = base + [ds_near(base[3], 1), ds_near(base[3], 2), ds_near(base[10], 3), base[20]]
    path = ds_write(tmp_path / "d.jsonl", rows)
    out = tmp_path / "out"
    report = dedup(DedupConfig(inputs=[path], out_dir=out, near=True))
    assert (report.exact_dropped, report.near_dropped, report.near_clusters) == (1, 3, 2)
    near = sorted((d["line"], d["kept_line"]) for d in _dropped(out) if d["kind"] == "near")
    assert near == [(41, 4), (42, 4), (43, 11)]
    assert all(d["similarity"] is None or d["similarity"] >= 0.8 for d in _dropped(out))
    assert len(_lines(out / "d.dedup.jsonl")) == 40
    clusters = [orjson.loads(x) for x in _lines(out / "near_clusters.jsonl")]
    assert [(c["kept"]["line"], [m["line"] for m in c["members"]]) for c in clusters] == [
        (4, [41, 42]),
        (11, [43]),
    ]
    again = dedup(DedupConfig(inputs=[path], out_dir=tmp_path / "again", near=True))
    assert (out / "d.dedup.jsonl").read_bytes() == (
        tmp_path / "again" / "d.dedup.jsonl"
    ).read_bytes()
    assert again == report.model_copy(
        update={"outputs": again.outputs, "manifest": again.manifest, "sources": again.sources}
    )


def test_minhash_recall_and_no_false_merges() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(3000)]
    base = [" ".join(rng.choice(vocab, 200)) for _ in range(300)]
    copies = []
    for i in range(0, 300, 3):
        words = base[i].split()
        words[int(rng.integers(len(words)))] = "zzz"
        copies.append(" ".join(words))
    hasher = MinHasher()
    bands, has = hasher.band_hashes(base + copies)
    pairs = {(int(i), int(j)) for i, j in candidate_pairs(bands, has)}
    planted = {(i, 300 + k) for k, i in enumerate(range(0, 300, 3))}
    assert planted <= pairs
    assert all(
        jaccard(hasher.shingle_set((base + copies)[i]), hasher.shingle_set((base + copies)[j]))
        > 0.9
        for i, j in pairs
    )
    assert cluster_pairs([(5, 9), (9, 2), (7, 8)]) == {2: [5, 9], 7: [8]}
    shingles, rows = hasher.shingles(["a b c", "", "one two three four five six"])
    assert rows.tolist() == [0, 2, 2]  # short text: one shingle; empty text: none
    assert len(set(shingles.tolist())) == 3


def test_minhash_agreement_estimates_jaccard() -> None:
    rng = np.random.default_rng(3)
    hasher = MinHasher()
    errors = []
    for trial in range(40):
        words = [f"t{trial}w{i}" for i in range(300)]
        keep = int(rng.integers(150, 300))
        other = words[:keep] + [f"x{trial}w{i}" for i in range(300 - keep)]
        a, b = " ".join(words), " ".join(other)
        sig, rows = hasher.signatures([a, b])
        assert rows.tolist() == [0, 1]
        estimate = float((sig[0] == sig[1]).mean())
        errors.append(estimate - jaccard(hasher.shingle_set(a), hasher.shingle_set(b)))
    assert abs(float(np.mean(errors))) < 0.03  # unbiased
    assert float(np.std(errors)) < 0.07  # about sqrt(J(1-J)/112) or better


def test_cli_dedup_json(
    tmp_path: Path, ds_chat: Chat, ds_write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    from sprintboard.cli import main

    a = ds_write(tmp_path / "a.jsonl", [ds_chat(1), ds_chat(2)])
    b = ds_write(tmp_path / "b.jsonl", [ds_chat(2), ds_chat(3)])
    main(
        ["tools", "dedup", str(a), str(b), "--out", str(tmp_path / "o"), "--names", "x,y", "--json"]
    )
    doc = orjson.loads(capsys.readouterr().out)
    assert [(s["name"], s["exact_dropped"]) for s in doc["sources"]] == [("x", 0), ("y", 1)]
    with pytest.raises(SystemExit) as exc:
        main(["tools", "dedup", str(a), "--out", str(tmp_path / "o"), "--cross", "nope"])
    assert exc.value.code == 1
    assert "cross_source names ['nope']" in capsys.readouterr().err


def test_rows_split_across_read_chunks_keep_their_lines_and_offsets(
    tmp_path: Path,
    ds_chat: Chat,
    ds_near: Near,
    ds_write: Write,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sprintboard.tools import jsonl_stream

    base = [ds_chat(i) for i in range(12)]
    path = ds_write(tmp_path / "d.jsonl", [*base, ds_near(base[2], 1), base[5], b"{cut"])
    with path.open("ab") as fh:
        fh.write(b"no newline at the end")
    whole = dedup(DedupConfig(inputs=[path], out_dir=tmp_path / "whole", near=True))
    monkeypatch.setattr(jsonl_stream, "CHUNK_BYTES", 97)  # far smaller than a row
    pieces = dedup(DedupConfig(inputs=[path], out_dir=tmp_path / "pieces", near=True))
    assert (pieces.rows, pieces.rejected, pieces.exact_dropped, pieces.near_dropped) == (
        16,
        2,
        1,
        1,
    )
    assert pieces.examples == whole.examples
    for name in ("d.dedup.jsonl", "dropped.jsonl", "rejects.jsonl"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "pieces" / name).read_bytes()


def _turns(*turns: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


@pytest.mark.parametrize(
    "options",
    [{}, {"normalize_whitespace": True}, {"near": True}],
    ids=["streaming", "whitespace-folded", "fingerprint-pass"],
)
def test_the_exact_key_is_the_roles_and_the_contents(
    tmp_path: Path, ds_write: Write, options: dict[str, Any]
) -> None:
    """The same texts under other roles are another conversation: both rows are kept."""
    shifted = [
        _turns(("system", "x"), ("user", "q"), ("assistant", "a")),
        _turns(("user", "x"), ("assistant", "q"), ("user", "a")),
        _turns(("user", "x"), ("assistant", "q a")),  # the contents joined differently
        _turns(("user", "x q"), ("assistant", "a")),
        _turns(("system", "x"), ("user", "q"), ("assistant", " a ")),  # same as the first
        {**_turns(("user", "x"), ("assistant", "q"), ("user", "a")), "id": 7},  # slow path
    ]
    path = ds_write(tmp_path / "d.jsonl", shifted)
    out = tmp_path / "out"
    report = dedup(DedupConfig(inputs=[path], out_dir=out, near_threshold=1.0, **options))
    assert report.exact_dropped == 2
    exact = [(d["line"], d["kept_line"]) for d in _dropped(out) if d["kind"] == "exact"]
    assert exact == [(5, 1), (6, 2)]
    if not options.get("near"):  # the near pass compares texts only: those rows are alike
        kept = [orjson.loads(x) for x in _lines(out / "d.dedup.jsonl")]
        assert kept == shifted[:4]


def test_row_key_of_a_conversation_keys_on_roles_too() -> None:
    """`row_key` without chosen keys is the conversation key: roles and stripped contents."""
    from sprintboard.tools.row_scan import row_key

    def key(*turns: tuple[str, str]) -> bytes:
        return row_key(b"{}", list(turns), None, False)

    first = key(("system", "x"), ("user", "q"), ("assistant", "a"))
    assert first != key(("user", "x"), ("assistant", "q"), ("user", "a"))
    assert first == key(("system", " x"), ("user", "q "), ("assistant", "a"))
    assert key(("user", "a  b"), ("assistant", "c")) != key(("user", "a b"), ("assistant", "c"))
    folded = row_key(b"{}", [("user", "a  b"), ("assistant", "c")], None, True)
    assert folded == row_key(b"{}", [("user", "a b"), ("assistant", "c")], None, True)
