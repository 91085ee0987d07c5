"""List functions longer than a limit (default 60 lines), longest first.

    .venv/bin/python -P scripts/long_functions.py [LIMIT]

Lines are counted from `def` to the function's last line, docstring included.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOMS = ("sprintboard", "board", "sprints", "agents", "a2a", "tools", "memory")


def long_functions(root: Path, limit: int) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    for folder in ROOMS:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > limit:
                        where = f"{path.relative_to(root).as_posix()}:{node.lineno}"
                        found.append((length, where, node.name))
    return sorted(found, reverse=True)


if __name__ == "__main__":
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    rows = long_functions(Path(__file__).resolve().parents[1], limit)
    for length, where, name in rows:
        print(f"{length:4d}  {where}  {name}")
    print(f"{len(rows)} functions over {limit} lines")
