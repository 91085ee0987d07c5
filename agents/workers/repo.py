"""`repo` mode: each attempt works in a git worktree of the agent's repository.

The worktree is made from the repository's current HEAD on a new branch
`sprintboard/<task>-<attempt>`, under the workspace's local `.sprintboard/worktrees/`
(never synced). When the worker exits 0, the branch's new commits (`commits.txt`) and
its diff against the base (`diff.patch`) are written into the run folder and so become
artifacts. Nothing is merged: a person, a check or a later task does that. The worktree
is removed when the attempt ends; the branch stays.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sprintboard.errors import ConfigError, WorkspaceError
from sprintboard.files import atomic_write

__all__ = ["Worktree", "branch_name", "open_worktree", "record_changes", "remove_worktree"]


def branch_name(task: str, attempt: int) -> str:
    """`sprintboard/<task>-<attempt>`."""
    return f"sprintboard/{task}-{attempt}"


@dataclass(frozen=True, slots=True)
class Worktree:
    """An attempt's checkout."""

    repo: Path
    path: Path
    branch: str
    base: str
    """The commit the branch started from."""


def _repo(path: Path) -> object:
    import git  # gitpython costs ~100 ms to import; only repo mode needs it

    try:
        return git.Repo(path)
    except (git.exc.NoSuchPathError, git.exc.InvalidGitRepositoryError):
        raise ConfigError(
            path, "repo", "is not a git repository; point the agent's repo at one"
        ) from None


def _place(root: Path, task: str, attempt: int) -> Path:
    return root / ".sprintboard" / "worktrees" / f"{task}-{attempt}"


def open_worktree(repo: Path, root: Path, task: str, attempt: int) -> Worktree:
    """A new worktree of `repo` on `sprintboard/<task>-<attempt>` from its HEAD.

    Raises:
        ConfigError: `repo` is not a git repository.
        WorkspaceError: git refused (the branch exists, HEAD has no commit, ...).
    """
    import git  # gitpython costs ~100 ms to import; only repo mode needs it

    handle = _repo(repo)
    assert isinstance(handle, git.Repo)
    path = _place(root, task, attempt)
    branch = branch_name(task, attempt)
    try:
        base = handle.head.commit.hexsha
        path.parent.mkdir(parents=True, exist_ok=True)
        handle.git.worktree("add", "-b", branch, str(path), base)
    except (git.exc.GitCommandError, ValueError) as exc:
        raise WorkspaceError(repo, f"cannot make a worktree on {branch}: {exc}") from None
    return Worktree(repo=Path(repo), path=path, branch=branch, base=base)


def record_changes(tree: Worktree, run_dir: Path) -> int:
    """Write `commits.txt` and `diff.patch` (the branch against its base) into the run
    folder; returns how many commits the worker made. Uncommitted changes are listed in
    `uncommitted.txt`: the worktree goes away, so commit what should be kept."""
    import git  # gitpython costs ~100 ms to import; only repo mode needs it

    handle = git.Repo(tree.path)
    span = f"{tree.base}..{tree.branch}"
    commits = handle.git.log("--format=%H %s", span)
    atomic_write(run_dir / "commits.txt", (commits + "\n" if commits else "").encode("utf-8"))
    diff = handle.git.diff(tree.base, tree.branch)
    atomic_write(run_dir / "diff.patch", (diff + "\n" if diff else "").encode("utf-8"))
    dirty = handle.git.status("--porcelain")
    if dirty:
        atomic_write(run_dir / "uncommitted.txt", (dirty + "\n").encode("utf-8"))
    return len(commits.splitlines())


def remove_worktree(repo: Path, root: Path, task: str, attempt: int) -> None:
    """Remove the attempt's worktree if there is one; its branch is kept."""
    import git  # gitpython costs ~100 ms to import; only repo mode needs it

    path = _place(root, task, attempt)
    handle = _repo(repo)
    assert isinstance(handle, git.Repo)
    try:
        handle.git.worktree("remove", "--force", str(path))
    except git.exc.GitCommandError:
        shutil.rmtree(path, ignore_errors=True)  # half made, or already gone
        handle.git.worktree("prune")
