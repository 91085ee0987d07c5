"""CLI command groups, one module per room; each is a thin layer over the public API."""
