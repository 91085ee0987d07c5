"""The doors other programs come in by: the live web board and the MCP server.

Each door sees only a `BoardClient`-shaped board and validates what it admits like the CLI.
Like the CLI's commands, a door imports a room (or uvicorn) inside the function that needs
it, so starting one door never loads the others; tests/test_layering.py checks those too.
"""
