"""Sprint backlogs in the oodatcaa format: `parse_backlog` reads one, `render_backlog` writes one."""

from __future__ import annotations

from sprintboard.sprints.backlog_parse import Backlog, parse_backlog
from sprintboard.sprints.backlog_render import render_backlog

__all__ = ["Backlog", "parse_backlog", "render_backlog"]
