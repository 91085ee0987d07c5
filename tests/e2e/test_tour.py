"""Issue 27: the README's tour, run top to bottom as a newcomer types it, both hosts included.

The commands come out of README.md's "A short tour" and "Any machine" code blocks, so the
README cannot drift from what works. A newcomer's own terminal differs from a script in a
few places only, and each is one rewrite below (each must still match, or the test fails):
the owner's folder as beta mounts it, the pair key pasted from keygen's output, and the
daemon left running in its own terminal. The tour must end with every task done or waiting
(on its dependencies or for a person): never on a host nobody runs, never stuck.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"

# README text -> what a script types instead (all of them must be used).
REWRITES = {
    "/mnt/alpha/finetune": "~/boards/finetune",  # beta's mount of alpha's workspace
    "sprintboard a2a keygen beta ": "sprintboard a2a keygen beta > ~/beta.key ",
    "sprintboard a2a serve ": "sprintboard a2a serve > ~/serve.log 2>&1 & SERVE=$! ",
    "sprintboard a2a pair alpha - -w ~/finetune ": (
        "sprintboard a2a pair alpha - -w ~/finetune < ~/beta.key "
    ),
}


def _blocks(readme: str, heading: str) -> list[str]:
    section = readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def _script() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    text = "\n".join(_blocks(readme, "A short tour") + _blocks(readme, "Any machine"))
    for old, new in REWRITES.items():
        assert old in text, f"README tour no longer has {old!r}: update REWRITES"
        text = text.replace(old, new)
    # "# on alpha" / "# on beta": the newcomer is in that host's folder
    text = text.replace("# on alpha", "cd ~/boards/finetune # on alpha")
    return "set -euo pipefail\ntrap '[ -n \"${SERVE:-}\" ] && kill $SERVE' EXIT\n" + text


def test_the_readme_tour_ends_with_nothing_stuck(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "boards").mkdir(parents=True)
    shutil.copytree(SHARED / "examples", home / "boards" / "shared" / "examples")
    bindir = Path(sys.executable).parent
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SPRINTBOARD_") and k != "NO_COLOR"
    }
    env.update(HOME=str(home), PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run(
        ["bash", "-c", _script()],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "next steps:" in out and "sprintboard a2a keygen beta" in out  # init said what to do
    assert "T001 waits for a person" not in out  # done by then
    assert "waits for host" not in out  # nothing stranded on a host nobody runs
    assert "ok    host beta: alive" in out and "all good" in out  # doctor on alpha, at the end
    report = json.loads(
        subprocess.run(
            ["sprintboard", "status", "--json"],
            cwd=home / "boards" / "finetune",
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    stuck = [
        (t["id"], t["waits"])
        for t in report["tasks"]
        if t["status"] != "done" and (t["waits"] or {}).get("on") not in ("person", "tasks")
    ]
    assert stuck == []
    assert report["counters"]["done"] == 1 and "blocked" not in report["counters"]
    waiting = [t["id"] for t in report["tasks"] if t["state"] == "waiting"]
    assert report["counters"]["waiting"] == len(waiting) >= 4  # on dependencies, not "blocked"
    assert {"T004", "T008"} <= set(waiting)
