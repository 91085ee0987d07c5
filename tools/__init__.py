"""Deterministic tools: audit, dedup, mix, split, train, eval, generate, fuse.

Tools import no other room of sprintboard (config in, report out), so they run anywhere.
"""

from sprintboard.tools.registry import (
    ToolSpec,
    get_tool,
    register,
    run_step,
    tool_names,
    validate_step,
)

__all__ = ["ToolSpec", "get_tool", "register", "run_step", "tool_names", "validate_step"]
