"""run_thread after a kill at each point of a node's life: the interrupted node runs again or
its saved result is used, and the thread always reaches its end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, TypedDict

import pytest

from sprintboard.agents.runtime import linear_graph, open_checkpointer, run_thread


class Two(TypedDict):
    log: str
    a: str
    b: str


def _nodes(log: Path) -> list[tuple[str, Any]]:
    def note(name: str) -> Any:
        def node(state: Two) -> dict[str, str]:
            with log.open("a", encoding="utf-8") as fh:
                fh.write(name + "\n")
            return {name: "ran"}

        return node

    return [("a", note("a")), ("b", note("b"))]


# The same graph in a child process that dies (os._exit, as kill -9 would) at one point.
CHILD = textwrap.dedent(
    """
    import os, sys, threading
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from test_runtime import Two, _nodes
    from sprintboard.agents.runtime import linear_graph, open_checkpointer, run_thread

    root, point = Path(sys.argv[1]), sys.argv[2]
    a_saved = threading.Event()
    with open_checkpointer(root) as saver:
        put, put_writes = saver.put, saver.put_writes

        def dying_put(config, checkpoint, metadata, versions):
            if point == "before-checkpoint" and metadata.get("step") == 1:
                # LangGraph saves a node's writes from a background thread: wait for them,
                # so the kill lands with a's writes saved and the checkpoint after it not.
                assert a_saved.wait(30)
                os._exit(9)
            return put(config, checkpoint, metadata, versions)

        def dying_writes(config, writes, task_id, task_path=""):
            if point == "before-writes" and ("a", "ran") in writes:
                os._exit(9)  # node a ran; nothing of it is saved
            put_writes(config, writes, task_id, task_path)
            if ("a", "ran") in writes:
                a_saved.set()

        saver.put, saver.put_writes = dying_put, dying_writes
        graph = linear_graph(Two, _nodes(root / "nodes.log"), saver)
        run_thread(graph, "t:1", {"log": "", "a": "", "b": ""})
    """
)


@pytest.mark.parametrize(
    ("point", "a_runs"),
    [("before-writes", 2), ("before-checkpoint", 1)],
)
def test_a_thread_killed_inside_a_step_resumes_to_its_end(
    tmp_path: Path, point: str, a_runs: int
) -> None:
    (tmp_path / ".sprintboard").mkdir()
    child = subprocess.run(
        [sys.executable, "-P", "-c", CHILD, str(tmp_path), point, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 9, child.stderr
    log = tmp_path / "nodes.log"
    assert log.read_text(encoding="utf-8").split() == ["a"]

    with open_checkpointer(tmp_path) as saver:
        graph = linear_graph(Two, _nodes(log), saver)
        result = run_thread(graph, "t:1", {"log": "", "a": "", "b": ""})
        assert result["a"] == result["b"] == "ran"
        # a finished thread is not run again
        assert run_thread(graph, "t:1", {"log": "", "a": "", "b": ""}) == result

    assert log.read_text(encoding="utf-8").split() == ["a"] * a_runs + ["b"]
