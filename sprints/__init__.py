"""sprints."""
