"""The git transport: messages travel as files in a git repository (its own branch).

Each host keeps a private clone (`.sprintboard/a2a-git/<host>/`). Sending writes
`to/<recipient>/<message>.json` (and `blobs/<sha256>`), commits and pushes; a rejected
push is read from gitpython's `PushInfo` flags (git does not raise for it), followed by
`pull --rebase` and a retry; never a force push. `sync` pulls, copies the files addressed
to this host into its local Maildir (durably), then removes them from the branch and
pushes, so the tree stays small. Files are only added by senders and only removed by
their recipient, so rebases never conflict.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sprintboard.a2a.blobs import BlobStore
from sprintboard.a2a.envelope import MAX_MESSAGE_BYTES, check_host
from sprintboard.a2a.maildir import SAFE_NAME, Maildir
from sprintboard.errors import MessageRejected
from sprintboard.files import file_digest

__all__ = ["GitTransport"]

log = logging.getLogger(__name__)

_PUSH_TRIES = 8


class GitTransport:
    """Messages through a git remote (any URL git understands, a bare repo path included)."""

    def __init__(
        self, a2a_dir: Path, host: str, remote: str, *, clone: Path, branch: str = "a2a"
    ) -> None:
        self.host = check_host(host)
        self.remote = remote
        self.clone = Path(clone)
        self.branch = branch
        self.maildir = Maildir(Path(a2a_dir) / host)
        self.blobs = BlobStore(Path(a2a_dir) / "blobs")
        self._repo: Any = None
        self.rejected_pushes = 0
        """Pushes the remote refused (someone pushed first); each was retried after a pull."""

    # -- the clone --------------------------------------------------------------------------

    def repo(self) -> Any:
        """The local clone, made on first use (and the branch, if the remote lacks it)."""
        if self._repo is not None:
            return self._repo
        import git  # gitpython costs ~100 ms to import: only the git transport needs it

        if (self.clone / ".git").is_dir():
            repo = git.Repo(self.clone)
        else:
            self.clone.parent.mkdir(parents=True, exist_ok=True)
            repo = git.Repo.clone_from(self.remote, self.clone)
            with repo.config_writer() as cfg:
                cfg.set_value("user", "name", f"sprintboard-{self.host}")
                cfg.set_value("user", "email", f"{self.host}@sprintboard.invalid")
            repo.git.fetch("origin")
            remote_refs = [r.name for r in repo.remotes.origin.refs]
            if f"origin/{self.branch}" in remote_refs:
                repo.git.checkout("-B", self.branch, f"origin/{self.branch}")
            else:
                repo.git.checkout("--orphan", self.branch)
                (self.clone / "README.md").write_text(
                    "sprintboard A2A messages (to/<host>/) and blobs; written by machines.\n",
                    encoding="utf-8",
                )
                repo.index.add(["README.md"])
                repo.index.commit("a2a: start the message branch")
                if not self._push(repo, first=True):
                    # another host made the branch first: take theirs (ours holds only a README)
                    repo.git.fetch("origin")
                    repo.git.reset("--hard", f"origin/{self.branch}")
            repo.git.branch("--set-upstream-to", f"origin/{self.branch}")
        self._repo = repo
        return repo

    def _push(self, repo: Any, *, first: bool = False) -> bool:
        """Push; on a rejection pull --rebase and retry. True once the remote has our commits."""
        # GitPython loads only when git is used (start-up time)
        import git

        for attempt in range(_PUSH_TRIES):
            try:
                infos = repo.remotes.origin.push(f"{self.branch}:{self.branch}")
            except git.GitCommandError as exc:
                log.warning("a2a git push failed: %s", exc)
                infos = []
            bad = git.PushInfo.REJECTED | git.PushInfo.REMOTE_REJECTED | git.PushInfo.ERROR
            if infos and not any(info.flags & bad for info in infos):
                return True
            self.rejected_pushes += 1
            if first:
                return False
            time.sleep(0.01 * (attempt + 1))  # another host is pushing: let it finish
            self._pull(repo)
        log.warning(
            "a2a git: push still rejected after %d tries; will retry at next sync", _PUSH_TRIES
        )
        return False

    def _pull(self, repo: Any) -> None:
        # GitPython loads only when git is used (start-up time)
        import git

        try:
            repo.git.pull("--rebase", "--quiet", "origin", self.branch)
        except git.GitCommandError as exc:
            log.warning("a2a git pull failed: %s", exc)

    # -- Transport --------------------------------------------------------------------------

    def send(self, recipient: str, items: Sequence[tuple[str, bytes]]) -> None:
        repo = self.repo()
        folder = self.clone / "to" / check_host(recipient)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, data in items:
            if not SAFE_NAME.fullmatch(name):
                raise ValueError(f"unsafe message file name {name!r}")
            (folder / name).write_bytes(data)
            paths.append(str(Path("to") / recipient / name))
        repo.index.add(paths)
        repo.index.commit(f"a2a: {self.host} -> {recipient}: {len(paths)} message(s)")
        self._push(repo)

    def send_blob(self, sha256: str, source: Path) -> None:
        repo = self.repo()
        target = self.clone / "blobs" / sha256
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        repo.index.add([str(Path("blobs") / sha256)])
        repo.index.commit(f"a2a: {self.host} blob {sha256[:12]}")  # pushed with the result

    def inbox(self, host: str) -> Maildir:
        return self.maildir

    def sync(self) -> int:
        """Pull, take this host's messages into its Maildir, drop them from the branch, push."""
        repo = self.repo()
        self._pull(repo)
        self._import_blobs()
        folder = self.clone / "to" / self.host
        if not folder.is_dir():
            self._push_if_ahead(repo)
            return 0
        items, taken = [], []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            info = os.lstat(entry.path)
            rel = str(Path("to") / self.host / entry.name)
            taken.append(rel)
            if not SAFE_NAME.fullmatch(entry.name) or not stat.S_ISREG(info.st_mode):
                self.maildir.quarantine(
                    entry.name, "hostile entry in the git transport", source="none"
                )
                continue
            if info.st_size > MAX_MESSAGE_BYTES:
                self.maildir.quarantine(
                    entry.name, f"oversized: {info.st_size} bytes", source="none"
                )
                continue
            with open(entry.path, "rb") as fh:
                items.append((entry.name, fh.read()))
        delivered = self.maildir.deliver_many(items)  # durable before it leaves the branch
        if taken:
            repo.index.remove(taken, working_tree=True)
            repo.index.commit(f"a2a: {self.host} took {len(taken)} message(s)")
            self._push(repo)
        return delivered

    def _push_if_ahead(self, repo: Any) -> None:
        ahead = repo.git.rev_list("--count", f"origin/{self.branch}..{self.branch}")
        if int(ahead or 0):
            self._push(repo)

    def _import_blobs(self) -> None:
        folder = self.clone / "blobs"
        if not folder.is_dir():
            return
        for entry in os.scandir(folder):
            if entry.is_symlink() or not entry.is_file():
                continue
            try:
                target = self.blobs.path(entry.name)
            except MessageRejected:  # not a sha256 name: never copied
                continue
            if target.exists():
                continue
            sha, _ = file_digest(Path(entry.path))
            if sha == entry.name:  # verified on arrival; a bad blob is simply not imported
                self.blobs.put(Path(entry.path))
