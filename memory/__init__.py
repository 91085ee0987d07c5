"""memory: standups, the sprint log and the burndown report, all generated from the journal.

Modules: `history` (the journal folded with per-task history), `daily_notes` (reading and
appending `memory/YYYY-MM-DD.md`), `standup_facts` + `standup` (`sprintboard standup`),
`sprint_log` (`sprints/SPRINT_LOG.md`), `burndown` + `report` (`sprintboard report`).
"""

from __future__ import annotations

__all__: list[str] = []
