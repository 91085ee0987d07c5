"""Run one `llm` worker attempt against a model served by `sprintboard models serve`.

    .venv/bin/python -P scripts/llm_worker_local.py MODEL_DIR [--port 8765]
    .venv/bin/python -P scripts/llm_worker_local.py --tiny      # the random-weight test model

MODEL_DIR is an mlx-lm model directory (`sprintboard models import-gguf` makes one from a
GGUF file, e.g. SmolLM2). A fresh workspace in a temporary folder gets one step-less task
("Write HELLO.md ...", checked by `file_exists {run}/HELLO.md`); `agents run --once` runs
it; the script prints how the attempt ended, the turns, and the tool calls the model made.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
[board]
owner = "alpha"

[[agents]]
name = "auditor-1"
role = "auditor"
host = "alpha"

[[agents]]
name = "writer-1"
role = "builder"
host = "alpha"
worker = "llm"
max_turns = 8
max_tokens = 20000
max_attempts = 1
timeout = 600

[llm]
base_url = "http://127.0.0.1:{port}/v1"
model = "default_model"
timeout = 300
max_retries = 0
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--tiny", action="store_true", help="serve the random-weight test model")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    from sprintboard.board.models import Criterion, Task
    from sprintboard.workspace import open_board

    tmp = Path(tempfile.mkdtemp(prefix="llm-worker-"))
    model = args.model
    if args.tiny:
        from sprintboard.tools.tiny_model import build_tiny_model

        model = build_tiny_model(tmp / "tiny")
    if model is None:
        parser.error("give MODEL_DIR or --tiny")
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [str(bin_dir / "sprintboard"), "models", "serve", str(model), "--port", str(args.port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ws = tmp / "ws"
        ws.mkdir()
        (ws / "sprintboard.toml").write_text(CONFIG.format(port=args.port), encoding="utf-8")
        board = open_board(ws)
        task = Task(
            id="T1",
            title="Write HELLO.md",
            status="ready",
            description="Write a file HELLO.md that says hello, then call finish.",
            criteria=[Criterion("HELLO.md exists", check="file_exists {run}/HELLO.md")],
        )
        board.create_tasks([task])
        time.sleep(5)  # the server loads the model; a refused first try would end the attempt
        started = time.monotonic()
        done = subprocess.run(
            [str(bin_dir / "sprintboard"), "agents", "run", "--host", "alpha", "--once",
             "--tick", "0.2", "-w", str(ws), "--json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.monotonic() - started
        state = board.snapshot().tasks["T1"]
        run = ws / "runs" / "T1" / "1"
        lines = (run / "transcript.jsonl").read_text(encoding="utf-8").splitlines()
        said = [json.loads(x)["message"] for x in lines]
        calls = [c["name"] for m in said for c in m.get("tool_calls", [])]
        texts = [m["content"][:80] for m in said if m["role"] == "assistant" and m["content"]]
        print(f"status {state.status}; reason {state.blocked_reason!r}; wall {wall:.1f}s")
        print(f"assistant turns {sum(m['role'] == 'assistant' for m in said)}; tool calls {calls}")
        print(f"first assistant texts {texts[:3]}")
        print(f"runner rc {done.returncode}; workspace {ws}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
