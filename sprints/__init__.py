"""Sprint formats (backlog markdown, SPRINT_QUEUE.json) and the dependency graph.

Modules are imported on use: `sprintboard.sprints.graph` for the ready set, critical path
and phases; `sprintboard.sprints.backlog` and `sprintboard.sprints.queue_format` for the
files; `sprintboard.sprints.importer` to load either into a board.
"""

__all__: list[str] = []
