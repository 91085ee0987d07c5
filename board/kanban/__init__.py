"""KANBAN.md, the board people edit by hand: model, render, parse, three-way merge, the sync
that turns a person's save into events, the file watcher, git auto-commit and mojibake repair.

Imports run one way: kanban uses the store (`sprintboard.board.*`), never the reverse.
"""
