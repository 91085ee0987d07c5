"""The LangGraph runtime: a SQLite checkpointer in `.sprintboard/`, threads keyed by task + attempt.

Each role is a small `StateGraph` compiled with the workspace's `SqliteSaver` and invoked
with `durability="sync"`, so a checkpoint is on disk before the next node starts. After a
kill, `run_thread` finds the thread's last checkpoint and LangGraph re-runs the node that
was interrupted; the nodes make that safe by checking the board and the run folder before
they act (every side effect is keyed by task + attempt).

langgraph is imported only inside functions: `import sprintboard` must stay light.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sprintboard.board.local import board_paths

if TYPE_CHECKING:
    from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = ["checkpoint_path", "linear_graph", "open_checkpointer", "run_thread", "thread_config"]


def checkpoint_path(root: Path) -> Path:
    """`<workspace>/.sprintboard/checkpoints.sqlite`: local, never synced (DESIGN.md)."""
    return board_paths(Path(root))["local"] / "checkpoints.sqlite"


@contextmanager
def open_checkpointer(root: Path) -> Iterator[SqliteSaver]:
    """A `SqliteSaver` on the workspace's checkpoint file, shared by every graph of a runner."""
    # langgraph loads only when a graph runs (start-up time)
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = checkpoint_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One connection for all builder threads (SqliteSaver serialises with its own lock);
    # WAL lets `agents plan` and a runner write at the same time.
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def linear_graph(state: type, nodes: Sequence[tuple[str, Callable[..., Any]]], saver: Any) -> Any:
    """A graph that runs `nodes` in order (START -> first -> ... -> last -> END), checkpointed."""
    # langgraph loads only when a graph runs (start-up time)
    from langgraph.graph import END, START, StateGraph

    g: Any = StateGraph(state)
    previous = START
    for name, node in nodes:
        g.add_node(name, node)
        g.add_edge(previous, name)
        previous = name
    g.add_edge(previous, END)
    return g.compile(checkpointer=saver)


def thread_config(thread_id: str) -> dict[str, Any]:
    """The LangGraph config naming a thread."""
    return {"configurable": {"thread_id": thread_id}}


def run_thread(graph: Any, thread_id: str, start: Mapping[str, Any]) -> dict[str, Any]:
    """Run a thread to its end: resume it if it was interrupted, start it if it is new.

    A thread that already finished is not run again; its final values are returned.
    """
    config = thread_config(thread_id)
    snapshot = graph.get_state(config)
    # A kill after a node's writes were saved but before the next checkpoint leaves a
    # checkpoint whose task already has its result: LangGraph reports `next == ()` then,
    # as for a finished thread, but lists the task. Only a finished thread has no tasks.
    if snapshot.next or snapshot.tasks:
        result = graph.invoke(None, config, durability="sync")
    elif snapshot.values:
        return dict(snapshot.values)
    else:
        result = graph.invoke(dict(start), config, durability="sync")
    return dict(result)
