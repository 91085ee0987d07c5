"""Command allow-lists: which argv a `check: command` may run (`[auditor] allow_commands`;
the same rule serves any later list of commands, such as `[workers] allow_commands`).

An entry is a whole argv, written as a shell would split it: `"make check"`,
`"pytest -q tests/unit"`. A command is allowed when its argv, as written (in KANBAN.md,
a backlog, an import, an MCP call or an A2A message alike) and before any placeholder
such as `{run:T4}` is filled in, equals an entry token for token. Two tokens stand for
arguments that are data, never options or settings:

- `*` matches exactly one argument that neither starts with `-` nor contains `=`;
- `...`, as the last token, matches any number of such arguments.

So `"make check"` allows `make check` and nothing longer (never `make check
"--eval=$(shell id)"`), and `"python -c *"` allows `python -c 'print(1)'` but not
`python -c x -m y`. `=` is excluded because many programs read `NAME=VALUE` as a setting
(`make`, `env`). Allowed commands run without a shell, so quotes and `$(...)` in an
argument reach the program as text.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["AllowList", "CommandPattern"]

_ONE = "*"
_REST = "..."


def _is_data(arg: str) -> bool:
    return not arg.startswith("-") and "=" not in arg


@dataclass(frozen=True, slots=True)
class CommandPattern:
    """One allow-list entry, split into tokens."""

    tokens: tuple[str, ...]
    rest: bool = False
    """The entry ends in `...`: any number of data arguments may follow."""

    @classmethod
    def parse(cls, entry: str) -> CommandPattern:
        """Split an entry like a shell would.

        Raises:
            ValueError: empty, unbalanced quotes, `...` anywhere but last, or a pattern
                token in the program's place.
        """
        tokens = shlex.split(entry)
        rest = bool(tokens) and tokens[-1] == _REST
        if rest:
            tokens = tokens[:-1]
        if not tokens:
            raise ValueError(f"{entry!r} names no command")
        if _REST in tokens:
            raise ValueError(f"{entry!r}: `...` may only be the last token")
        if tokens[0] == _ONE:
            raise ValueError(f"{entry!r}: the program itself must be named, not `*`")
        return cls(tuple(tokens), rest)

    def matches(self, argv: Sequence[str]) -> bool:
        """`argv` is allowed by this entry."""
        if len(argv) < len(self.tokens) or (len(argv) > len(self.tokens) and not self.rest):
            return False
        for want, arg in zip(self.tokens, argv, strict=False):
            if want == _ONE:
                if not _is_data(arg):
                    return False
            elif want != arg:
                return False
        return all(_is_data(arg) for arg in argv[len(self.tokens) :])


@dataclass(frozen=True, slots=True)
class AllowList:
    """The commands a config allows.

    ```python
    allow = AllowList.parse(["make check", "python -c *"])
    allow.permits(["make", "check"])                      # True
    allow.permits(["make", "check", "--eval=$(shell id)"])  # False
    ```
    """

    patterns: tuple[CommandPattern, ...] = ()

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AllowList:
        """Parse config entries.

        Raises:
            ValueError: an entry does not parse (see `CommandPattern.parse`).
        """
        return cls(tuple(CommandPattern.parse(e) for e in entries))

    def permits(self, argv: Sequence[str]) -> bool:
        """Whether some entry allows `argv` (as written, before placeholders are filled)."""
        return any(p.matches(argv) for p in self.patterns)
