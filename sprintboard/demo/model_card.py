"""The demo's command worker: a stand-in for a coding agent that writes the model card.

Run by the `writer-alpha` builder (`worker = "command"`) for the step-less "Write the
model card" task, with its run folder as cwd. It reads task.json (`show --json`) for the
task it depends on, asks the board for that task's metrics with `sprintboard show --json`,
writes MODEL_CARD.md into `$SPRINTBOARD_RUN_DIR`, and says so with `sprintboard note`
(both found on PATH, where the runner put the running sprintboard first). A real coding
agent would get the same PROMPT.md, task.json and environment.

usage: python -m sprintboard.demo.model_card PROMPT_FILE
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["card_text", "main"]


def card_text(title: str, task: str, metrics: dict[str, float], artifacts: list[str]) -> str:
    """MODEL_CARD.md from the evaluation's metrics and files."""
    lines = [
        "# Model card: tiny chat model + LoRA adapter (sprintboard demo)",
        "",
        f"Written by a command worker for task {task}, from {title!r}.",
        "",
        "## Evaluation (held-out test split)",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items())]
    lines += ["", "## Files", ""]
    lines += [f"- `{path}`" for path in artifacts] or ["- (none)"]
    lines += [
        "",
        "## Limits",
        "",
        "A two-layer model built on the spot and trained for a few iterations on a generated "
        "dataset: it shows the pipeline, not a useful model.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the card and leave a note; exit 0, or 1 with the reason on stderr."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sprintboard.demo.model_card PROMPT_FILE", file=sys.stderr)
        return 2
    run = Path(os.environ["SPRINTBOARD_RUN_DIR"])
    task = os.environ["SPRINTBOARD_TASK"]
    agent = os.environ["SPRINTBOARD_AGENT"]
    doc = json.loads((run / "task.json").read_text(encoding="utf-8"))
    if not doc["dependencies"]:
        print(f"{task} depends on no evaluation task; nothing to describe", file=sys.stderr)
        return 1
    evaluation = doc["dependencies"][0]["id"]
    shown = subprocess.run(
        ["sprintboard", "show", evaluation, "--json"], capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        print(f"sprintboard show {evaluation} failed: {shown.stderr.strip()}", file=sys.stderr)
        return 1
    source = json.loads(shown.stdout)
    metrics = {k: float(v) for k, v in source["metrics"].items()}
    files = [a["path"] for a in source["artifacts"]]
    (run / "MODEL_CARD.md").write_text(
        card_text(source["title"], task, metrics, files), encoding="utf-8"
    )
    loss = metrics.get("test_loss")
    said = f"MODEL_CARD.md written from {evaluation}" + (
        f" (test_loss {loss:.3f})" if loss is not None else ""
    )
    subprocess.run(["sprintboard", "note", task, said, "--as", agent], check=True)
    print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
