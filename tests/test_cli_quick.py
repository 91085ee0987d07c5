"""`next --json`, `status --json` and `show TASK --json` answered without typer (sprintboard/commands/quick.py).

The quick path must print the typer commands' documents byte for byte, decline whatever it
does not know, and trust its settings cache only for the exact bytes it was made from.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from sprintboard.board.client import EventDraft
from sprintboard.board.clock import CounterIds, FrozenClock
from sprintboard.board.local import LocalBoard
from sprintboard.cli import _typer_main, main
from sprintboard.commands.quick import answer
from sprintboard.config_cache import CACHE_FILE, board_settings
from sprintboard.files import FileRef
from sprintboard.status import board_status
from sprintboard.workspace import init_workspace, open_board, policy_from_config

ARGS = [
    ["next", "--json"],
    ["next", "--json", "-n", "50"],
    ["next", "--json", "--limit=2", "--role", "auditor"],
    ["next", "--json", "--caps", "mlx", "--caps", "gpu,cuda"],
    ["next", "--json", "--agent", "builder-beta"],
    ["next", "--json", "--agent", "builder-alpha", "--host", "alpha"],
    ["next", "--json", "--agent", "nobody"],
    ["status", "--json"],
    ["status", "--json", "--host", "alpha", "--timeout", "2"],
    ["show", "S", "--json"],  # criteria (one failed), notes, questions, a dependency's outputs
    ["show", "--json", "S", "--host=alpha", "--timeout", "1"],
    ["show", "A", "--json"],  # leased
    ["show", "B", "--json"],  # an open dependency, no outputs
    ["show", "E", "--json"],  # an estimate
    ["show", "H", "--json"],
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A board with most task shapes: leases, assignments, caps, reasons, done work."""
    root = init_workspace(tmp_path / "ws", hosts=[("alpha", []), ("beta", ["mlx"])], git=False)
    board = open_board(root, host="alpha")
    board.create_tasks(
        [
            {"id": "A", "title": "audit", "status": "ready", "priority": 1},
            {"id": "B", "title": "dedup", "status": "blocked", "dependencies": ["A"]},
            {"id": "C", "title": "train", "status": "ready", "caps": ["mlx"], "priority": 0},
            {"id": "D", "title": "check", "status": "ready", "role": "auditor"},
            {"id": "E", "title": "mix", "status": "ready", "estimate": {"low": 30, "high": 90}},
            {"id": "F", "title": "split", "status": "blocked", "blocked_reason": "waiting on IT"},
            {"id": "G", "title": "done", "status": "done"},
            {"id": "H", "title": "eval", "status": "ready", "dependencies": ["E"], "priority": 1},
        ]
    )
    board.claim("A", agent="builder-alpha", host="alpha", ttl=900)
    board.add_decision("ship it", actor="human:ana")
    _show_scene(board)
    return root


def _show_scene(board: LocalBoard) -> None:
    """Task S: everything `show` prints (as tests/board/test_document.py's scene)."""
    board.create_tasks(
        [
            {"id": "R", "title": "rows", "status": "ready"},
            {
                "id": "S",
                "title": "train",
                "status": "blocked",
                "dependencies": ["R", "G"],
                "description": "Fine-tune.\nTwo lines.",
                "criteria": [
                    {"text": "rows exist", "check": "file_exists rows.jsonl"},
                    {"text": "loss below 2", "check": "metric loss < 2"},
                    {"text": "a person likes it"},
                ],
                "steps": [{"tool": "audit", "config": {"max": 3, "roles": ["a", "b"]}}],
            },
        ]
    )
    dep = board.claim("R", "builder-alpha", "alpha", 600)
    board.submit("R", dep.fence, [FileRef("runs/R/1/rows.jsonl", "ab" * 32, 42)], {"rows": 10})
    board.move("R", "done", "human:ana", force=True)
    lease = board.claim("S", "builder-beta", "beta", 600)
    board.apply(
        [
            EventDraft("criterion.check", "S", {"index": 0, "done": True, "result": "found"},
                       "auditor-1@alpha"),
            EventDraft("criterion.check", "S",
                       {"index": 1, "done": False, "result": "loss is 2.7, not < 2"},
                       "auditor-1@alpha"),
            EventDraft("metric.set", "S", {"name": "loss", "value": 2.7},
                       "builder-beta@beta", lease.fence),
        ]
    )  # fmt: skip
    board.note("S", "epoch 3 of 5\nstill going", "builder-beta", lease.fence)
    asked = board.ask("S", "Use the 4-bit base?", "builder-beta")
    board.answer("S", "Yes", "human:ana", asked.id)
    board.ask("S", "And the learning rate?", "builder-beta")
    board.add_decision("train on beta only", "human:ana", task="S")


def _printed(capsys: pytest.CaptureFixture[str], run: object) -> str:
    capsys.readouterr()
    run()  # type: ignore[operator]
    return capsys.readouterr().out


@pytest.mark.parametrize("args", ARGS, ids=" ".join)
def test_the_quick_path_prints_what_the_typer_command_prints(
    ws: Path, args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    assert answer(args)  # answered here, not declined
    quick = _printed(capsys, lambda: answer(args))
    typer_ = _printed(capsys, lambda: _typer_main(args))
    assert quick == typer_
    assert orjson.loads(quick)  # one JSON document


def test_show_document_is_the_task_document_schema(ws: Path) -> None:
    from sprintboard.board.document import task_document
    from sprintboard.commands.quick import show_document

    state = open_board(ws).snapshot()
    for task_id in state.tasks:
        typed = task_document(state, task_id).model_dump(mode="json")
        plain = show_document(state, task_id)
        assert orjson.dumps(plain) == orjson.dumps(typed), task_id  # same keys, same order
    shown = show_document(state, "S")
    assert [c["failed"] for c in shown["criteria"]] == [False, True, False]
    assert shown["dependencies"][0]["artifacts"][0]["path"] == "runs/R/1/rows.jsonl"
    assert shown["dependencies"][0]["status"] == "done"
    assert len(shown["questions"]) == 2 and shown["waiting_for_person"]
    assert [n["text"] for n in shown["notes"]] == ["epoch 3 of 5\nstill going"]
    assert shown["metrics"] == {"loss": 2.7}
    assert open_board(ws).snapshot().task("R").metrics == {"rows": 10}


def test_status_document_is_the_status_report_schema(ws: Path) -> None:
    from sprintboard.commands.quick import status_document

    board = open_board(ws)
    report = board_status(board).model_dump(mode="json", exclude={"stale"})
    assert status_document(board.root, board.host, board.snapshot()) == report


@pytest.mark.parametrize(
    "args",
    [
        ["next"],  # text output: rich, through typer
        ["next", "--json", "--help"],
        ["next", "--json", "--limit", "lots"],  # typer says what is wrong (exit 2)
        ["next", "--json", "--unknown", "x"],
        ["next", "--json", "-n"],
        ["--debug", "next", "--json"],
        ["status", "--json", "--role", "builder"],
        ["claim", "A", "--json"],
        ["show", "S"],  # the page: through typer
        ["show", "--json"],  # no task: typer says so
        ["show", "S", "T", "--json"],
        ["show", "-", "--json"],
        ["show", "--", "-S", "--json"],
        ["show", "S", "--json", "--timeout", "soon"],
        [],
    ],
    ids=" ".join,
)
def test_it_declines_what_it_does_not_know(
    ws: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    assert not answer(args)


def test_another_host_is_answered_by_the_owner_not_here(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    monkeypatch.setenv("SPRINTBOARD_HOST", "beta")
    assert not answer(["next", "--json"])
    assert not answer(["status", "--json"])
    monkeypatch.delenv("SPRINTBOARD_HOST")
    assert not answer(["status", "--json", "--host", "beta"])
    assert not answer(["show", "S", "--json", "--host", "beta"])
    assert answer(["next", "--json", "--host", "beta"])  # next's --host is the agent's host


def test_errors_are_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["next", "--json"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line: with --json, one JSON object (issue 27)
    doc = orjson.loads(err)["error"]
    assert "not inside a workspace" in doc["message"] and doc["exit_code"] == 1


def test_an_unknown_task_is_one_line_and_exit_1_on_both_paths(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ws)
    errors = []
    for run in (main, _typer_main):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            run(["show", "NOPE", "--json"])
        assert exc.value.code == 1
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1]
    assert "NOPE" in errors[0] and errors[0].count("\n") == 1


def test_settings_come_from_the_cache_only_for_the_same_bytes(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sprintboard import config

    first = board_settings(ws)
    assert (ws / CACHE_FILE).is_file()
    assert first.policy == policy_from_config(config.load_config(ws))

    def refuse(_: Path) -> None:
        raise AssertionError("validated again")

    monkeypatch.setattr(config, "load_config", refuse)
    assert board_settings(ws) == first  # same bytes: no validation
    monkeypatch.undo()

    toml = ws / "sprintboard.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("builder = 3", "builder = 7"))
    changed = board_settings(ws)
    assert changed.policy.wip_per_role["builder"] == 7  # a changed file is validated again

    (ws / ".sprintboard" / "host.toml").write_text('host = "beta"\n', encoding="utf-8")
    assert board_settings(ws).local_host == "beta"  # so is a folder's own host file


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{not json",
        b'{"format": 1, "digest": "0", "settings": {}}',
        b'{"format": 1, "digest": 5, "settings": {"owner": "mallory"}}',
    ],
)
def test_a_damaged_settings_cache_is_rebuilt_not_trusted(
    ws: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    good = board_settings(ws)
    (ws / CACHE_FILE).write_bytes(damage)
    with caplog.at_level(logging.WARNING):
        assert board_settings(ws) == good
    assert board_settings(ws) == good
    assert orjson.loads((ws / CACHE_FILE).read_bytes())["settings"]["owner"] == "alpha"


def test_a_stale_cache_does_not_hide_a_broken_config(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ws)
    main(["next", "--json"])
    toml = ws / "sprintboard.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[board]\nowner = 'x'\n")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["next", "--json"])
    assert exc.value.code == 1
    assert "sprintboard.toml" in capsys.readouterr().err


def test_a_snapshot_with_a_bad_value_is_replayed_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Even with its digest recorded, a snapshot whose values do not fit the model (here a
    status that does not exist) is damaged: the journal is replayed and the snapshot rewritten."""
    from sprintboard.board.journal import content_digest

    root = tmp_path / "b"
    board = LocalBoard(root, host="alpha", clock=FrozenClock(), ids=CounterIds())
    board.create_tasks([{"id": "T1", "title": "a", "status": "ready"}])
    expected = board.snapshot()
    snap = board.snapshot_path
    bad = snap.read_bytes().replace(b'"status": "ready"', b'"status": "readyish"')
    snap.write_bytes(bad)
    head = orjson.loads((root / ".sprintboard" / "head.json").read_bytes())
    head["snapshot"] = content_digest(bad)
    (root / ".sprintboard" / "head.json").write_bytes(orjson.dumps(head))
    with caplog.at_level(logging.WARNING):
        again = LocalBoard(root, host="alpha")
    assert "rebuilding it from the journal" in caplog.text
    assert again.snapshot().tasks == expected.tasks
    assert b"readyish" not in snap.read_bytes()


def test_a_cache_written_by_other_code_is_not_read(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade keeps the version number during development: the validating modules'
    size and mtime are part of the digest."""
    from sprintboard import config, config_cache

    board_settings(ws)
    calls: list[Path] = []
    real = config.load_config

    def counting(root: Path) -> config.WorkspaceConfig:
        calls.append(root)
        return real(root)

    monkeypatch.setattr(config, "load_config", counting)
    board_settings(ws)
    assert calls == []
    monkeypatch.setattr(config_cache, "_code_stamp", lambda: "another build")
    board_settings(ws)
    assert calls == [ws]
