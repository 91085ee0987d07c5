"""audit: every kind of bad row found by file:line and reason; --fix drops nothing silently."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.cli import main
from sprintboard.errors import ToolError
from sprintboard.files import sha256_file
from sprintboard.tools.audit import AuditConfig, audit
from sprintboard.tools.registry import run_step, validate_step

Chat = Callable[..., dict[str, Any]]
Write = Callable[..., Path]

U, A = "user", "assistant"


def _msgs(*turns: tuple[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


def _bad_file(tmp_path: Path, ds_chat: Chat, ds_write: Write) -> Path:
    rows: list[dict[str, Any] | bytes] = [
        ds_chat(1),  # 1 clean
        _msgs((U, "hi"), (A, "")),  # 2 empty_assistant
        _msgs((U, "hi"), (U, "again"), (A, "ok")),  # 3 alternation
        b"{not json",  # 4 invalid_json
        b"",  # 5 blank_line
        {"messages": [{"role": "bot", "content": "x"}]},  # 6 unknown_role
        {"messages": [{"content": "x"}, {"role": A, "content": "y"}]},  # 7 missing_role
        {"messages": [{"role": U, "content": 5}, {"role": A, "content": "y"}]},  # 8 wrong_type
        {"messages": "hello"},  # 9 wrong_type
        _msgs((U, "   "), (A, "fine")),  # 10 empty_content
        _msgs((U, "only a question")),  # 11 no_assistant
        {"prompt": "p", "completion": "c"},  # 12 format_mismatch
        b"[1, 2]",  # 13 not_object
        b'{"text": "\xff\xfe bad bytes"}',  # 14 invalid_utf8
        {**_msgs((U, "q"), (A, "a")), "source": "web"},  # 15 extra_keys (warning, kept)
        {"foo": 1},  # 16 unknown_format
        _msgs((A, "answer first"), (U, "q")),  # 17 alternation + (ends on user)
    ]
    path = ds_write(tmp_path / "bad.jsonl", rows)
    with path.open("ab") as fh:
        fh.write(b'{"messages": [{"role": "user", "content": "cut')  # 18 truncated
    return path


def test_every_kind_of_bad_row_is_found_with_its_line(
    tmp_path: Path, ds_chat: Chat, ds_write: Write
) -> None:
    path = _bad_file(tmp_path, ds_chat, ds_write)
    report = audit(AuditConfig(inputs=[path], out_dir=tmp_path / "out", plot=False))
    found = {(e.line, e.reason) for found in report.examples.values() for e in found}
    expected = {
        (2, "empty_assistant"),
        (3, "alternation"),
        (4, "invalid_json"),
        (5, "blank_line"),
        (6, "unknown_role"),
        (7, "missing_role"),
        (8, "wrong_type"),
        (9, "wrong_type"),
        (10, "empty_content"),
        (11, "no_assistant"),
        (12, "format_mismatch"),
        (13, "not_object"),
        (14, "invalid_utf8"),
        (15, "extra_keys"),
        (16, "unknown_format"),
        (17, "alternation"),
        (18, "truncated"),
    }
    assert found == expected
    assert report.counts["wrong_type"] == 2 and report.counts["alternation"] == 2
    assert (report.rows, report.clean, report.rejected) == (18, 2, 16)
    assert report.files[0].format == "messages" and report.files[0].warned == 1
    assert not report.ok


def test_fix_writes_clean_rows_and_every_reject_with_line_and_reason(
    tmp_path: Path, ds_chat: Chat, ds_write: Write
) -> None:
    path = _bad_file(tmp_path, ds_chat, ds_write)
    out = tmp_path / "out"
    report = audit(AuditConfig(inputs=[path], out_dir=out, fix=True, plot=False))
    clean = (out / "bad.clean.jsonl").read_bytes().splitlines()
    rejects = [orjson.loads(x) for x in (out / "bad.rejects.jsonl").read_bytes().splitlines()]
    assert len(clean) + len(rejects) == report.rows  # nothing dropped silently
    assert clean[0] == path.read_bytes().splitlines()[0]  # clean rows are kept byte for byte
    assert [r["line"] for r in rejects] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18]
    assert rejects[-1]["reasons"] == ["truncated"] and rejects[-1]["row"].endswith('"cut')
    assert "\ufffd" in rejects[12]["row"]  # invalid bytes shown, not lost
    manifest = orjson.loads((out / "audit.manifest.json").read_bytes())
    assert manifest["inputs"][0]["sha256"] == sha256_file(path)
    assert {o["path"] for o in manifest["outputs"]} == {
        str(out / "bad.clean.jsonl"),
        str(out / "bad.rejects.jsonl"),
    }
    assert all(o["sha256"] == sha256_file(Path(o["path"])) for o in manifest["outputs"])


def test_other_formats_are_detected_and_fix_can_normalise_to_messages(
    tmp_path: Path, ds_write: Write
) -> None:
    files = {
        "pc": [{"prompt": "What is 2+2?", "completion": "4"}, {"prompt": "x", "completion": " "}],
        "text": [{"text": "Once upon a time."}, {"text": ""}],
        "inst": [
            {"instruction": "Add.", "input": "2+2", "output": "4"},
            {"instruction": "Hi", "output": ""},
        ],
    }
    paths = [ds_write(tmp_path / f"{k}.jsonl", rows) for k, rows in files.items()]
    out = tmp_path / "out"
    report = audit(
        AuditConfig(inputs=paths, out_dir=out, fix=True, fix_format="messages", plot=False)
    )
    assert [f.format for f in report.files] == ["prompt_completion", "text", "instruction"]
    assert [f.rejected for f in report.files] == [1, 1, 1]
    assert report.counts == {"empty_assistant": 2, "empty_content": 1}
    inst = orjson.loads((out / "inst.clean.jsonl").read_bytes())
    assert inst == {
        "messages": [
            {"role": "user", "content": "Add.\n\n2+2"},
            {"role": "assistant", "content": "4"},
        ]
    }
    text = orjson.loads((out / "text.clean.jsonl").read_bytes())
    assert text == {"messages": [{"role": "assistant", "content": "Once upon a time."}]}


def test_forced_format_length_limit_and_gzip_input(tmp_path: Path, ds_chat: Chat) -> None:
    path = tmp_path / "data.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(orjson.dumps(ds_chat(1, 20)) + b"\n" + orjson.dumps(ds_chat(2, 400)) + b"\n")
    report = audit(AuditConfig(inputs=[path], max_chars=1000, out_dir=tmp_path / "o", plot=False))
    assert report.counts == {"too_long": 1}
    assert report.examples["too_long"][0].line == 2
    forced = audit(AuditConfig(inputs=[path], format="text", out_dir=tmp_path / "o", plot=False))
    assert forced.counts == {"format_mismatch": 2}


def test_histograms_are_written_as_json_and_png(
    tmp_path: Path, ds_chat: Chat, ds_write: Write
) -> None:
    path = ds_write(tmp_path / "d.jsonl", [ds_chat(i, 10 * (i + 1)) for i in range(20)])
    report = audit(AuditConfig(inputs=[path], out_dir=tmp_path / "o"))
    hist = report.histograms[0]
    assert hist.rows == 20 and sum(hist.counts) == 20 and len(hist.edges) == len(hist.counts) + 1
    assert (tmp_path / "o" / "lengths.png").read_bytes()[:4] == b"\x89PNG"
    assert orjson.loads((tmp_path / "o" / "lengths.json").read_bytes())[0]["rows"] == 20


def test_registry_runs_audit_as_a_step_and_rejects_typos(
    tmp_path: Path, ds_chat: Chat, ds_write: Write
) -> None:
    path = ds_write(tmp_path / "d.jsonl", [ds_chat(1)])
    report = run_step(
        "audit", {"inputs": [str(path)], "out_dir": str(tmp_path / "o"), "plot": False}
    )
    assert report.model_dump()["ok"] is True
    with pytest.raises(ToolError, match="max_char"):
        validate_step("audit", {"inputs": [str(path)], "max_char": 5})
    with pytest.raises(ToolError, match="no such file"):
        audit(AuditConfig(inputs=[tmp_path / "missing.jsonl"]))


def test_cli_json_and_exit_code(
    tmp_path: Path, ds_chat: Chat, ds_write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    good = ds_write(tmp_path / "g.jsonl", [ds_chat(1)])
    main(["tools", "audit", str(good), "--out", str(tmp_path / "o"), "--json"])
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["rows"] == 1
    bad = _bad_file(tmp_path, ds_chat, ds_write)
    with pytest.raises(SystemExit) as exc:
        main(["tools", "audit", str(bad), "--out", str(tmp_path / "o2")])
    assert exc.value.code == 1
    assert "bad.jsonl:2: empty_assistant" in capsys.readouterr().out


def test_tokens_are_counted_with_a_tokenizer_json(tmp_path: Path, ds_write: Write) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    rows = [_msgs((U, "hi"), (A, "one two three")), _msgs((U, "hi"), (A, " ".join(["w"] * 30)))]
    path = ds_write(tmp_path / "d.jsonl", rows)
    report = audit(
        AuditConfig(
            inputs=[path], tokenizer=tmp_path, max_tokens=10, out_dir=tmp_path / "o", plot=False
        )
    )
    assert report.counts == {"too_many_tokens": 1}
    assert report.examples["too_many_tokens"][0].detail == "31 tokens > max 10"
    assert [h.unit for h in report.histograms] == ["chars", "tokens"]
    assert (report.histograms[1].min, report.histograms[1].max) == (4, 31)
    with pytest.raises(ToolError, match="needs a tokenizer"):
        audit(AuditConfig(inputs=[path], max_tokens=10))


def test_instruction_files_are_flagged_as_not_trainable_by_mlx(
    tmp_path: Path, ds_write: Write
) -> None:
    inst = ds_write(tmp_path / "i.jsonl", [{"instruction": "Add.", "output": "4"}])
    pc = ds_write(tmp_path / "p.jsonl", [{"prompt": "Add.", "completion": "4"}])
    report = audit(AuditConfig(inputs=[inst, pc], out_dir=tmp_path / "o", plot=False))
    assert [f.mlx_ready for f in report.files] == [False, True]


def test_progress_bar_runs_on_plain_and_gzip_inputs(
    tmp_path: Path, ds_chat: Chat, ds_write: Write
) -> None:
    plain = ds_write(tmp_path / "p.jsonl", [ds_chat(i, 10) for i in range(5)])
    packed = tmp_path / "g.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    report = audit(
        AuditConfig(inputs=[plain, packed], out_dir=tmp_path / "o", plot=False), show_progress=True
    )
    assert report.rows == 10 and report.ok


S, T = "system", "tool"


@pytest.mark.parametrize(
    ("roles", "bad_at"),
    [
        ((U, A, A), 2),
        ((S, S, U, A), 1),
        ((S, A), 1),
        ((U, T, A), 1),
        ((U, A, S, U, A), 2),
        ((U, A, U, A, A), 4),
        ((U, A, T, S), 3),
        ((T, U, A), 0),
        ((U, A), None),
        ((S, U, A, U, A), None),
        ((U, A, T, T, A, U, A), None),
        ((U, A, T, U, A), None),
        ((U, A, U), None),
    ],
)
def test_every_role_order_is_checked(
    tmp_path: Path, ds_write: Write, roles: tuple[str, ...], bad_at: int | None
) -> None:
    """An optional system turn, then user and assistant alternating; tool results follow an
    assistant (or another tool). Checked on the fast path and the worded one alike."""
    row = _msgs(*[(r, f"turn {i}") for i, r in enumerate(roles)])
    path = ds_write(tmp_path / "d.jsonl", [row, {**row, "id": 1}])  # the 2nd takes the slow path
    report = audit(AuditConfig(inputs=[path], out_dir=tmp_path / "out", plot=False))
    if bad_at is None:
        assert (report.clean, report.rejected, report.counts) == (2, 0, {"extra_keys": 1})
        return
    assert report.rejected == 2 and report.counts["alternation"] == 2
    (first, *_) = report.examples["alternation"]
    after = f"after {roles[bad_at - 1]!r}" if bad_at else "first"
    assert first.line == 1 and first.detail == f"messages[{bad_at}] is {roles[bad_at]!r} {after}"
