"""`make demo`: the main job end to end (see `run`); `data`, `recipe` and `story` are its
synthetic sources, its sprint recipe and the scripted person."""

from sprintboard.demo.run import PERSON, DemoError, DemoResult, cli, main

__all__ = ["PERSON", "DemoError", "DemoResult", "cli", "main"]
