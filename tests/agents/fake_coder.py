"""A stand-in for a coding agent's CLI, run by the `command` worker in tests.

usage: fake_coder.py MODE PROMPT_FILE

- `ok`: reads PROMPT.md, writes report.md and notes/found.txt into $SPRINTBOARD_RUN_DIR,
  says `sprintboard note` (found on PATH: the runner puts its folder first), exits 0.
- `fail`: prints a numbered complaint and exits 1.
- `hang`: writes started.txt, starts a child that sleeps too, and sleeps (killed at the
  timeout, or by the test).
- `commit`: commits a file in its cwd (a git worktree) and exits 0.
- `env`: writes its environment to env.json, its stdin to stdin.txt, and exits 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    mode, prompt_file = sys.argv[1], Path(sys.argv[2])
    run = Path(os.environ["SPRINTBOARD_RUN_DIR"])
    task = os.environ["SPRINTBOARD_TASK"]
    prompt = prompt_file.read_text(encoding="utf-8")
    if mode == "ok":
        (run / "report.md").write_text(f"# Report for {task}\n\n{len(prompt)} bytes read\n")
        (run / "notes").mkdir(exist_ok=True)
        (run / "notes" / "found.txt").write_text("found it\n", encoding="utf-8")
        said = f"fake coder wrote report.md for {task}"
        agent = os.environ["SPRINTBOARD_AGENT"]
        subprocess.run(["sprintboard", "note", task, said, "--as", agent], check=True)
        print(f"done with {task}")
        return 0
    if mode == "fail":
        attempt = run.name
        print("working...")
        print(f"boom on attempt {attempt}", file=sys.stderr)
        return 1
    if mode == "hang":
        (run / "started.txt").write_text(str(os.getpid()), encoding="utf-8")
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        (run / "child.txt").write_text(str(child.pid), encoding="utf-8")
        time.sleep(300)
        return 0
    if mode == "commit":
        Path("feature.txt").write_text(f"made for {task}\n", encoding="utf-8")
        git = ["git", "-c", "user.name=fake", "-c", "user.email=fake@example.com"]
        subprocess.run([*git, "add", "feature.txt"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", f"feature for {task}"], check=True)
        return 0
    if mode == "env":
        (run / "env.json").write_text(json.dumps(dict(os.environ)), encoding="utf-8")
        (run / "stdin.txt").write_text(sys.stdin.read(), encoding="utf-8")
        (run / "cwd.txt").write_text(os.getcwd(), encoding="utf-8")
        return 0
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
