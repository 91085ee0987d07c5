"""sprintboard."""
