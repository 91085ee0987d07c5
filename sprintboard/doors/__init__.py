"""The doors other programs come in by: the live web board and the MCP server.

Each door sees only a `BoardClient`-shaped board and validates what it admits like the CLI.
"""
