"""Sprint formats (backlog markdown, SPRINT_QUEUE.json) and the dependency graph.

Modules are imported on use: `sprintboard.sprints.graph` for the graph report people read
(critical path, phases, named cycles; what can be taken next is `board/scheduling.py`);
`sprintboard.sprints.backlog` and `sprintboard.sprints.queue_format` for the files;
`sprintboard.sprints.importer` to load either into a board.
"""

__all__: list[str] = []
