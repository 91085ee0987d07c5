"""The Planner: recipe expansion, validation before queueing, the LLM draft and its 402 fallback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sprintboard.agents.hosting import run_host
from sprintboard.agents.recipe import expand_recipe, load_recipe, parse_params
from sprintboard.agents.runner import PlanRequest, RunnerOptions
from sprintboard.errors import BoardError, ConfigError, LLMUnavailable
from sprintboard.llm import ChatReply, ChatRequest, ScriptedBackend
from sprintboard.workspace import open_board

PLAN_ONLY = RunnerOptions(roles=("planner",), once=True, max_ticks=1)


def test_shipped_recipe_expands_to_parallel_audits_then_a_chain() -> None:
    tasks = expand_recipe(
        load_recipe("finetune"), {"sources": ["data/a.jsonl", "data/b.jsonl"], "model": "m"}
    )
    by_id = {t.id: t for t in tasks}
    assert [t.extra["recipe_key"] for t in tasks] == [
        "audit", "audit", "dedup", "mix", "split", "train", "eval",
    ]  # fmt: skip
    assert by_id["T001"].dependencies == [] and by_id["T002"].dependencies == []
    assert by_id["T003"].dependencies == ["T001", "T002"]
    assert by_id["T003"].steps[0].config["inputs"] == [
        "{run:T001}/a.clean.jsonl",
        "{run:T002}/b.clean.jsonl",
    ]
    assert by_id["T006"].steps[0].config["iters"] == 20  # a whole placeholder keeps its type
    assert by_id["T006"].caps == ["mlx"]
    assert [c.check for c in by_id["T007"].criteria] == [
        "metric test_loss < 5.5",
        "metric T006.val_loss < 5.5",
    ]
    assert {t.status for t in tasks[2:]} == {"blocked"}  # waiting on dependencies


def test_recipe_errors_name_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[recipe]\nname = "x"\n[[tasks]]\nkey = "a"\ntitle = "A"\nafter = ["nope"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"bad.toml \[tasks.0.after\]: unknown task key 'nope'"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="no shipped recipe 'nosuch'"):
        load_recipe("nosuch")
    with pytest.raises(ConfigError, match="missing parameter"):
        expand_recipe(load_recipe("finetune"), {"sources": ["a.jsonl"]})
    assert parse_params(["sources=a.jsonl,b.jsonl", "iters=5", "model=m"]) == {
        "sources": ["a.jsonl", "b.jsonl"], "iters": 5, "model": "m",
    }  # fmt: skip


def test_a_plan_that_does_not_validate_queues_nothing(workspace: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "broken.toml"
    recipe.write_text(
        '[recipe]\nname = "broken"\n'
        '[[tasks]]\nkey = "a"\ntitle = "A"\n'
        'steps = [{ tool = "dedup", config = { inputs = ["x.jsonl"], near_threshold = 7 } }]\n'
        '[[tasks]]\nkey = "b"\ntitle = "B"\n'
        'steps = [{ tool = "nosuchtool", config = {} }]\n',
        encoding="utf-8",
    )
    with pytest.raises(BoardError, match="plan refused") as err:
        run_host(workspace, "alpha", PLAN_ONLY, plan=PlanRequest("x", str(recipe)))
    assert "T001 step 1: dedup: invalid step config" in str(err.value)
    assert "out_dir" in str(err.value) and "near_threshold" in str(err.value)
    assert "T002 step 1: nosuchtool: unknown tool" in str(err.value)
    assert open_board(workspace).snapshot().tasks == {}

    cyclic = tmp_path / "cyclic.toml"
    cyclic.write_text(
        '[recipe]\nname = "cyclic"\n'
        '[[tasks]]\nkey = "a"\ntitle = "A"\nafter = ["b"]\n'
        '[[tasks]]\nkey = "b"\ntitle = "B"\nafter = ["a"]\n',
        encoding="utf-8",
    )
    with pytest.raises(BoardError, match="dependency cycle"):
        run_host(workspace, "alpha", PLAN_ONLY, plan=PlanRequest("x", str(cyclic)))
    assert open_board(workspace).snapshot().tasks == {}


def _params(workspace: Path, sources: Callable[..., list[str]]) -> dict[str, object]:
    return {"sources": sources(workspace, count=2), "model": "models/base"}


def test_llm_402_falls_back_to_the_recipe_and_says_why(
    workspace: Path, sources: Callable[..., list[str]]
) -> None:
    def refuse(request: ChatRequest) -> ChatReply:
        raise LLMUnavailable("http://llm.test/v1", 402, "Insufficient credits")

    backend = ScriptedBackend(refuse)
    plan = PlanRequest("tune it", "finetune", _params(workspace, sources))
    summary = run_host(workspace, "alpha", PLAN_ONLY, plan=plan, backend=backend)

    assert len(backend.requests) == 1 and "tune it" in backend.requests[0].messages[-1].content
    assert summary.plan_source == "recipe" and summary.planned == 7
    board = open_board(workspace)
    fallback = [
        e for e in board.events() if e.op == "decision.add" and "fell back" in e.fields["text"]
    ]
    assert len(fallback) == 1
    assert (
        "HTTP 402" in fallback[0].fields["text"]
        and "Insufficient credits" in fallback[0].fields["text"]
    )
    assert fallback[0].actor == "planner-1@alpha"


def test_llm_draft_is_used_when_valid_and_refused_when_not(
    workspace: Path, sources: Callable[..., list[str]]
) -> None:
    params = _params(workspace, sources)
    good = {
        "tasks": [
            {"key": "audit", "title": "Audit {item_stem}", "foreach": "sources",
             "steps": [{"tool": "audit", "config": {"inputs": ["{item}"], "out_dir": "{run}"}}],
             "criteria": [{"text": "report", "check": "file_exists {run}/audit.manifest.json"}]},
        ]
    }  # fmt: skip
    backend = ScriptedBackend.replying(json.dumps(good))
    summary = run_host(
        workspace,
        "alpha",
        PLAN_ONLY,
        plan=PlanRequest("audit", "finetune", params),
        backend=backend,
    )
    assert summary.plan_source == "llm" and summary.planned == 2
    assert open_board(workspace).snapshot().tasks["T002"].title == "Audit src1"

    bad = {"tasks": [{"key": "x", "title": "X", "steps": [{"tool": "rm_rf", "config": {}}]}]}
    backend = ScriptedBackend.replying(json.dumps(bad))
    plan = PlanRequest("again", "finetune", params, sprint="S2")
    summary = run_host(workspace, "alpha", PLAN_ONLY, plan=plan, backend=backend)
    assert summary.plan_source == "recipe"
    texts = [d.text for d in open_board(workspace).snapshot().decisions]
    assert any("the model's plan was refused" in t and "rm_rf" in t for t in texts)


@pytest.fixture
def server_402() -> Iterator[str]:
    """A local OpenAI-compatible endpoint that answers every request with HTTP 402."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = json.dumps({"error": {"message": "Insufficient credits", "code": 402}})
            self.send_response(402)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_cli_run_with_llm_402_exits_0_and_plans_from_the_recipe(
    workspace: Path, sources: Callable[..., list[str]], server_402: str
) -> None:
    with (workspace / "sprintboard.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[llm]\nbase_url = "{server_402}"\nmodel = "m"\nmax_retries = 0\n')
    srcs = ",".join(sources(workspace, count=2))
    done = subprocess.run(
        [sys.executable, "-c", "from sprintboard.cli import main; main()",
         "agents", "run", "--once", "--llm", "--roles", "planner,negotiator", "--json",
         "--objective", "tune", "--recipe", "finetune", "--param", f"sources={srcs}",
         "--param", "model=m"],
        cwd=workspace, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["plan_source"] == "recipe" and doc["planned"] == 7
    journal = (workspace / "sprints" / "events.jsonl").read_text(encoding="utf-8")
    assert "HTTP 402" in journal and "Insufficient credits" in journal
    decisions = [d.text for d in open_board(workspace).snapshot().decisions]
    assert any("402" in d for d in decisions)
    assert "HTTP 402" in (workspace / "KANBAN.md").read_text(encoding="utf-8")  # on the board


def test_cli_plan_queues_the_recipe_once(
    workspace: Path, sources: Callable[..., list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    from sprintboard.cli import main

    srcs = ",".join(sources(workspace, count=3))
    argv = ["agents", "plan", "--objective", "tune", "--recipe", "finetune",
            "-p", f"sources={srcs}", "-p", "model=m",
            "-w", str(workspace), "--json"]  # fmt: skip
    main(argv)
    assert json.loads(capsys.readouterr().out) == {"sprint": "S1", "planned": 8, "source": "recipe"}
    main(argv)  # the same plan again: the finished planning thread is not run twice
    capsys.readouterr()
    state = open_board(workspace).snapshot()
    assert sorted(state.tasks) == [f"T00{n}" for n in range(1, 9)]
    assert state.sprint.id == "S1" and state.sprint.goal == "tune"
    assert (workspace / "sprints" / "S1" / "BACKLOG.md").is_file()
