"""Count the imports inside functions (lazy imports), and those of our own modules.

    .venv/bin/python -P scripts/lazy_imports.py

Each `import` statement inside a function counts once; the second number leaves out
`sprintboard/commands/` and `sprintboard/doors/`, which load their rooms lazily by design.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOMS = ("sprintboard", "board", "sprints", "agents", "a2a", "tools", "memory")
BY_DESIGN = ("sprintboard/commands/", "sprintboard/doors/")


def lazy_imports(root: Path) -> list[tuple[str, int, str]]:
    found: set[tuple[str, int, str]] = set()
    for folder in ROOMS:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            rel = path.relative_to(root).as_posix()
            for fn in ast.walk(tree):
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    for node in ast.walk(fn):
                        if isinstance(node, ast.Import | ast.ImportFrom):
                            found.add((rel, node.lineno, ast.unparse(node)))
    return sorted(found)


if __name__ == "__main__":
    rows = lazy_imports(Path(__file__).resolve().parents[1])
    own = [r for r in rows if not r[0].startswith(BY_DESIGN) and " sprintboard" in r[2]]
    print(
        f"{len(rows)} function-level imports; {len(own)} of our own modules outside commands/doors"
    )
