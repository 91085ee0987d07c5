"""Mutation testing of the critical modules with mutmut, one module at a time (`make mutate`).

mutmut names a mutant after its file path (`src/pkg/mod.py` -> `pkg.mod`) and activates it
by comparing that name with the running function's `__module__`. Our package-dir layout maps
`sprintboard.board` to the top-level `board/` folder, so mutating `board/state.py` in place
would give `board.state`, never `sprintboard.board.state`, and no mutant would ever run.
This script therefore copies the package into the layout it is imported as
(`build/mutate/src/sprintboard/board/state.py`), with the tests beside it, and runs mutmut
there; the worktree is never written to. Each module runs with only its related tests
(mutmut then runs, per mutant, only the tests that reach the mutated function) and a CPU
time limit per mutant (mutmut's: 15 x the tests' time, at least a few seconds).

    .venv/bin/python scripts/mutate.py                 # every module in MODULES
    .venv/bin/python scripts/mutate.py board/state.py  # one (or several) of them
    .venv/bin/python scripts/mutate.py --jobs 1        # fewer worker processes
    .venv/bin/python scripts/mutate.py board/journal.py --tests tests/board/test_journal_file.py
    .venv/bin/python scripts/mutate.py --again board/store.py  # last run's survivors, new tests

Prints, per module, killed / total and the score, then every survivor as its diff.
Not in CI: it takes tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "mutate"

# Module -> the tests that exercise it (the narrowest selection that kills its mutants).
# The KANBAN round trip (hypothesis), git, watcher and CLI tests reach the board core too,
# but slowly and without killing anything the unit tests below leave alive.
_BOARD = [
    f"tests/board/test_{name}.py"
    for name in (
        "reduce",
        "moves",
        "leases",
        "local_board",
        "authority",
        "scheduling",
        "journal",
        "journal_file",
        "kanban_merge",
        "questions",
        "store",
    )
]
_TOOLS = [
    "tests/tools/test_chat_rows.py",
    "tests/tools/test_row_scan.py",
    "tests/tools/test_audit.py",
    "tests/tools/test_dedup.py",
]
_FAULTS = [
    "tests/faults/test_two_owners.py",
    "tests/faults/test_reverted_journal.py",
    "tests/faults/test_disk_full.py",
]
MODULES: dict[str, list[str]] = {
    "board/state.py": _BOARD,
    "board/leases.py": _BOARD,
    "board/moves.py": _BOARD,
    "board/scheduling.py": _BOARD,
    "board/authority.py": _BOARD,
    "board/journal.py": _BOARD + _FAULTS,
    "board/store.py": _BOARD + _FAULTS,
    "board/kanban/merge.py": ["tests/board/test_kanban_merge.py", "tests/board/test_questions.py"],
    "a2a/envelope.py": ["tests/a2a/test_envelope.py", "tests/a2a/test_postbox.py"],
    "a2a/seen.py": [
        "tests/a2a/test_seen.py",
        "tests/a2a/test_postbox.py",
        "tests/a2a/test_quarantine.py",
        "tests/a2a/test_maildir.py",
    ],
    "a2a/postbox.py": ["tests/a2a/test_postbox.py", "tests/a2a/test_quarantine.py"],
    "tools/chat_rows.py": _TOOLS,
    "tools/row_scan.py": _TOOLS,
    "memory/daily_notes.py": ["tests/memory"],
    "memory/standup.py": ["tests/memory"],
}

# Modules of which only some functions are critical (mutmut's name globs): in row_scan, the
# exact-duplicate key and the role-order check, not the scanning around them.
ONLY: dict[str, list[str]] = {
    "tools/row_scan.py": ["x_row_key", "x__roles_clean", "xǁ_Rowsǁgood_row"],
}

# mutmut's exit codes -> what they mean for the score (a timeout is a detected mutant).
_KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass
class Score:
    module: str
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "skipped")

    @property
    def killed(self) -> int:
        return sum(n for status, n in self.counts.items() if status in _KILLED)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def _package_dirs() -> dict[str, str]:
    """`sprintboard.<room>` -> its folder, from pyproject.toml's package-dir."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = data["tool"]["setuptools"]["package-dir"]
    return mapping


def _ignore(_: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".pytest_cache", ".hypothesis")}


def stage_dir(module: str) -> Path:
    """One folder per module, so survivors stay inspectable (`mutmut show NAME` there)."""
    return STAGE / module.removesuffix(".py").replace("/", ".")


def stage(module: str, tests: list[str]) -> Path:
    """A fresh copy of the package as it is imported, the tests, and mutmut's config."""
    here = stage_dir(module)
    if here.exists():
        shutil.rmtree(here)
    src = here / "src"
    for package, folder in sorted(_package_dirs().items()):
        target = src.joinpath(*package.split("."))
        shutil.copytree(ROOT / folder, target, ignore=_ignore, dirs_exist_ok=True)
    shutil.copy2(ROOT / "conftest.py", here / "conftest.py")
    # tests find the example boards at ../shared/examples from the checkout (parents[3] of
    # mutants/tests/board/test_x.py is the stage folder)
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (here / "shared").symlink_to(shared)
    return stage_tests(module, tests)


def stage_tests(module: str, tests: list[str]) -> Path:
    """The checkout's tests and mutmut's config (test selection) into the module's stage."""
    here = stage_dir(module)
    if (here / "tests").exists():
        shutil.rmtree(here / "tests")
    shutil.copytree(ROOT / "tests", here / "tests", ignore=_ignore)
    pytest_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "pytest"
    ]["ini_options"]
    target = f"src/sprintboard/{_room_path(module)}"
    config: dict[str, object] = {
        "tool": {
            "pytest": {"ini_options": pytest_cfg},
            "mutmut": {
                "source_paths": ["src"],
                "only_mutate": [target],
                "also_copy": ["conftest.py"],
                "pytest_add_cli_args": ["-p", "no:cacheprovider", "-m", "not slow"],
                "pytest_add_cli_args_test_selection": tests,
                "timeout_multiplier": 15.0,
                "timeout_constant": 2.0,
                "use_git_change_detection": False,
                # Workers fork from a server that only imported and collected the tests, not
                # from the process that ran them all for the stats: a thread some test left
                # there (holding a lock at the fork) hung the a2a workers until their
                # timeout, which then counted as a kill.
                "process_isolation": "forkserver",
            },
        }
    }
    (here / "pyproject.toml").write_text(_to_toml(config), encoding="utf-8")
    return here / "mutants" / (target + ".meta")


def _room_path(module: str) -> str:
    """`board/state.py` -> `board/state.py` under `src/sprintboard/` (folder = room name)."""
    folders = {folder: package for package, folder in _package_dirs().items()}
    room, _, rest = module.partition("/")
    package = folders[room]
    return "/".join(package.split(".")[1:] + [rest])


def _to_toml(config: dict[str, object], prefix: str = "") -> str:
    """Just enough TOML for the staged pyproject (tables of strings, numbers, bools, lists)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, object]]] = []
    for key, value in config.items():
        if isinstance(value, dict):
            tables.append((f"{prefix}{key}", value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for name, table in tables:
        body = _to_toml(table, f"{name}.")
        if any(not isinstance(v, dict) for v in table.values()):
            out += f"\n[{name}]\n"
        out += body
    return out


def _globs(module: str) -> list[str]:
    """mutmut names to run (`module.function__mutmut_N`); all of the module's by default."""
    prefix = "sprintboard." + _room_path(module).removesuffix(".py").replace("/", ".")
    return [f"{prefix}.{name}__mutmut_*" for name in ONLY.get(module, [])]


def _survivors(meta: Path) -> list[str]:
    from mutmut.stats import status_by_exit_code

    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return sorted(
        name
        for name, code in codes.items()
        if status_by_exit_code[code] not in _KILLED and status_by_exit_code[code] != "skipped"
    )


def restage(module: str, tests: list[str]) -> tuple[Path, list[str]]:
    """The last run's stage with today's tests, and the mutants that survived that run.

    Tests only ever get added between the two runs, so what was killed stays killed; the
    source must be the one that was mutated (else the mutants are of other code).
    """
    here = stage_dir(module)
    room = _room_path(module)
    meta = here / "mutants" / f"src/sprintboard/{room}.meta"
    staged = here / "src" / "sprintboard" / room
    if not meta.exists():
        raise SystemExit(f"{module}: no earlier run to go on from; run it without --again")
    if staged.read_bytes() != (ROOT / module).read_bytes():
        raise SystemExit(f"{module}: the source changed since its last run; run it in full")
    stage_tests(module, tests)
    # the per-test stats decide which tests a mutant runs: collect them again, new tests too
    (here / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    return meta, _survivors(meta)


def run_module(module: str, tests: list[str], jobs: int, *, again: bool = False) -> Score:
    from fnmatch import fnmatchcase

    globs = _globs(module)
    if again:
        meta, names = restage(module, tests)
        globs = [n for n in names if not globs or any(fnmatchcase(n, g) for g in globs)]
        if not globs:
            return _score(module, meta, _globs(module), 0.0)
    else:
        meta = stage(module, tests)
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTANT_UNDER_TEST")}
    mutmut = Path(sys.executable).with_name("mutmut")
    proc = subprocess.run(
        [str(mutmut), "run", "--max-children", str(jobs), *globs],
        cwd=stage_dir(module),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not meta.exists():
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"mutmut failed on {module} (exit {proc.returncode})")
    return _score(module, meta, _globs(module), time.monotonic() - started)


def _score(module: str, meta: Path, globs: list[str], seconds: float) -> Score:
    """Every mutant of the module (the `ONLY` functions of it) as the meta file has it."""
    from fnmatch import fnmatchcase

    from mutmut.stats import status_by_exit_code

    score = Score(module, seconds=seconds)
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    for name, code in sorted(codes.items()):
        if globs and not any(fnmatchcase(name, g) for g in globs):
            continue
        status = status_by_exit_code[code]
        score.counts[status] = score.counts.get(status, 0) + 1
        if status not in _KILLED and status != "skipped":
            score.survivors.append(name)
    return score


def show(module: str, name: str) -> str:
    """The survivor's diff, as `mutmut show NAME` prints it (read in this process: fast)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = os.getcwd()
    os.chdir(stage_dir(module))
    try:
        return get_diff_for_mutant(name, path=f"src/sprintboard/{_room_path(module)}").strip()
    finally:
        os.chdir(here)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="paths like board/state.py (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument(
        "--tests",
        nargs="+",
        metavar="PATH",
        help="test files to run instead of the module's selection (a quicker, weaker check)",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="run only the last run's survivors, against the tests as they are now",
    )
    parser.add_argument(
        "--report", type=Path, default=ROOT / "build" / "mutate-report.md", help="survivors file"
    )
    args = parser.parse_args()
    chosen = args.modules or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"not a critical module: {', '.join(unknown)} (see MODULES)")
    scores: list[Score] = []
    report: list[str] = []
    for module in chosen:
        only = f", functions: {' '.join(ONLY[module])}" if module in ONLY else ""
        tests = args.tests or MODULES[module]
        print(f"== {module} (tests: {' '.join(tests)}{only})", flush=True)
        score = run_module(module, tests, args.jobs, again=args.again)
        scores.append(score)
        print(
            f"   {score.killed}/{score.total} killed ({score.percent:.1f}%) in "
            f"{score.seconds:.0f}s  {score.counts}",
            flush=True,
        )
        report.append(f"## {module}: {score.killed}/{score.total} ({score.percent:.1f}%)\n")
        for name in score.survivors:
            diff = show(module, name)
            print(f"   survived: {name}")
            report.append(f"```diff\n{diff}\n```\n")
    print("\nmodule                         killed  total  score")
    for s in scores:
        print(f"{s.module:<30} {s.killed:>6} {s.total:>6} {s.percent:>5.1f}%")
    killed = sum(s.killed for s in scores)
    total = sum(s.total for s in scores)
    print(f"{'all':<30} {killed:>6} {total:>6} {100.0 * killed / max(total, 1):>5.1f}%")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(report), encoding="utf-8")
    print(f"survivors with their diffs: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
