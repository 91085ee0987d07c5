"""Imports point one way (DESIGN.md "Code layout"), checked two ways.

By source: every `import` in every module, lazy ones inside functions and `TYPE_CHECKING`
blocks included, is held against the one-way rules below (a planted lazy upward import in
a copy of the tree proves the check sees it). By process: what actually loads at import
time, so the front door stays light.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The folder of each installed room (pyproject's package-dir).
ROOMS = {
    "board": "board",
    "sprints": "sprints",
    "agents": "agents",
    "a2a": "a2a",
    "tools": "tools",
    "memory": "memory",
}
# The front door's ground: what every room may use. `workspace` and `status` sit on the
# board (they open it and shape its JSON), so the board itself may not use them.
GROUND = {"errors", "files", "config", "allowlist", "llm", "workspace", "status"}
BOARD_GROUND = {"errors", "files", "config", "allowlist", "llm"}
TOOLS_GROUND = {"errors", "files"}
# Which rooms each room may import (besides itself and its ground).
MAY_USE: dict[str, set[str]] = {
    "board": set(),
    "tools": set(),
    "sprints": {"board"},
    "memory": {"board"},
    "a2a": {"board"},
    "agents": {"board", "sprints", "tools", "a2a"},
}


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.importer} imports {self.imported}"


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[0] in ROOMS.values():
        room = next(name for name, folder in ROOMS.items() if folder == parts[0])
        parts = ["sprintboard", room, *parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    package = module.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                base = ".".join([*package[: len(package) - node.level], *filter(None, [base])])
            # `from sprintboard import agents` imports the room, not just the package
            names = (
                [f"{base}.{alias.name}" for alias in node.names] if base == "sprintboard" else []
            )
            found += [(node.lineno, name) for name in names] or [(node.lineno, base)]
    return [(line, name) for line, name in found if name.split(".")[0] == "sprintboard"]


def _layer(module: str) -> tuple[str, str]:
    """('room', name) for a room module, ('ground', name) or ('door', name) for the front door."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ROOMS:
        return "room", parts[1]
    if len(parts) >= 2 and parts[1] in GROUND:
        return "ground", parts[1]
    return "door", parts[1] if len(parts) > 1 else ""


def _allowed(importer: str, imported: str) -> bool:
    kind, name = _layer(importer)
    target_kind, target = _layer(imported)
    if kind == "door":
        return True  # the CLI, doors and demo may use everything
    if kind == "ground":
        if name in {"errors"}:
            return target_kind == "ground" and target == "errors"
        if name in BOARD_GROUND:
            return target_kind == "ground" and target in BOARD_GROUND
        return target_kind == "ground" or (target_kind == "room" and target == "board")
    # a room
    if target_kind == "door":
        return False
    if target_kind == "ground":
        return target in {"tools": TOOLS_GROUND, "board": BOARD_GROUND}.get(name, GROUND)
    if target == name:
        # inside board: KANBAN.md code uses the store, never the reverse
        return not (
            name == "board"
            and importer.split(".")[2:3] != ["kanban"]
            and imported.split(".")[2:3] == ["kanban"]
        )
    return target in MAY_USE[name]


def layering_violations(root: Path) -> list[Violation]:
    """Every import under `root`'s package folders that breaks the one-way rules."""
    out: list[Violation] = []
    for folder in [*ROOMS.values(), "sprintboard"]:
        for path in sorted((root / folder).rglob("*.py")):
            module = _module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, imported in _imports(tree, module):
                if not _allowed(module, imported):
                    rel = path.relative_to(root).as_posix()
                    out.append(Violation(rel, line, module, imported))
    return out


def test_every_import_in_the_source_points_one_way() -> None:
    violations = layering_violations(REPO)
    assert not violations, "\n".join(map(str, violations))


@pytest.mark.parametrize(
    ("file", "lazy_import"),
    [
        ("board/models.py", "from sprintboard.agents.runner import run"),
        ("tools/audit.py", "import sprintboard.board.state"),
        ("memory/standup.py", "from sprintboard import agents"),
        ("board/journal.py", "from sprintboard.board.kanban.parse import parse_kanban"),
        ("board/state.py", "from sprintboard.workspace import open_board"),
        ("a2a/owner.py", "from sprintboard.commands import core"),
    ],
)
def test_a_planted_lazy_upward_import_is_caught(
    tmp_path: Path, file: str, lazy_import: str
) -> None:
    for folder in [*ROOMS.values(), "sprintboard"]:
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.pyc"))
    before = set(layering_violations(tmp_path))
    target = tmp_path / file
    source = target.read_text(encoding="utf-8")
    target.write_text(f"{source}\n\ndef _planted() -> None:\n    {lazy_import}\n", encoding="utf-8")
    found = set(layering_violations(tmp_path)) - before
    assert [(v.file, v.imported.split(".")[:3]) for v in found] == [
        (file, _planted_target(lazy_import))
    ]


# The CLI's commands and the doors import the room they serve inside each function on
# purpose (start-up, tests/test_cli_lazy.py); their package docstrings say so once.
LAZY_BY_DESIGN = ("sprintboard/commands/", "sprintboard/doors/")


def unexplained_lazy_imports(root: Path) -> list[str]:
    """Function-level imports with no comment on them or just above their block of imports:
    one is kept only where it buys start-up time (or breaks a cycle), and says so."""
    out: list[str] = []
    for folder in [*ROOMS.values(), "sprintboard"]:
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(LAZY_BY_DESIGN):
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            tree = ast.parse("\n".join(lines), filename=str(path))
            imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
            covered = {i for n in imports for i in range(n.lineno, (n.end_lineno or n.lineno) + 1)}
            functions = [
                f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            lazy = {n for f in functions for n in ast.walk(f) if n in imports}
            for node in sorted(lazy, key=lambda n: n.lineno):
                above = node.lineno - 1
                while above in covered or (above > 0 and not lines[above - 1].strip()):
                    above -= 1
                if "#" not in lines[node.lineno - 1] and not (
                    above > 0 and lines[above - 1].strip().startswith("#")
                ):
                    out.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return out


def test_every_lazy_import_says_why() -> None:
    unexplained = unexplained_lazy_imports(REPO)
    assert not unexplained, "\n".join(unexplained)


def test_an_unexplained_lazy_import_is_caught(tmp_path: Path) -> None:
    shutil.copytree(REPO / "memory", tmp_path / "memory", ignore=shutil.ignore_patterns("*.pyc"))
    target = tmp_path / "memory" / "standup.py"
    source = target.read_text(encoding="utf-8")
    planted = "\n\ndef _planted() -> None:\n    x = 1\n    import json\n"
    target.write_text(source + planted, encoding="utf-8")
    found = unexplained_lazy_imports(tmp_path)
    assert [f.split(": ", 1)[1] for f in found] == ["import json"]


def _planted_target(statement: str) -> list[str]:
    words = statement.split()
    name = words[1] if words[0] == "from" else words[1]
    if name == "sprintboard":
        name = f"sprintboard.{words[3]}"
    return name.split(".")[:3]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_tools_import_no_other_room() -> None:
    mods = _loaded_after(
        "import sprintboard.tools, sprintboard.tools.registry, sprintboard.tools.manifest"
    )
    for room in (
        "sprintboard.board",
        "sprintboard.agents",
        "sprintboard.sprints",
        "sprintboard.a2a",
        "sprintboard.memory",
    ):
        assert not any(m == room or m.startswith(room + ".") for m in mods), room
    assert "langgraph" not in mods and "mlx" not in mods


def test_import_sprintboard_loads_no_heavy_library() -> None:
    mods = _loaded_after("import sprintboard")
    for heavy in ("mlx", "mlx_lm", "langgraph", "openai", "git", "matplotlib", "typer"):
        assert heavy not in mods, heavy


def test_the_cli_loads_no_heavy_library() -> None:
    mods = _loaded_after("import sprintboard.cli")
    for heavy in ("mlx", "mlx_lm", "langgraph", "openai", "matplotlib", "transformers"):
        assert heavy not in mods, heavy
