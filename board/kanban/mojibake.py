"""Mojibake in KANBAN.md: find it, and propose (never apply unasked) ftfy's repair.

A file saved through the wrong encoding (UTF-8 read as cp1252/cp1254 and saved again)
turns `—` into `â€”` and emoji into `ðŸ“‹`. Reading such a file as a board would write the
garbage back into the journal, so the parser refuses it. The repair is a guess: some
bytes are lost for good (cp1252 has no character for 0x81, 0x8d, 0x8f, 0x90, 0x9d), and
ftfy then fills a plausible byte in, which may be a different character.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

__all__ = ["RepairProposal", "find_mojibake", "propose_repair"]

# ftfy steps that put back a byte the bad save dropped: the result is a guess.
_LOSSY_STEPS = frozenset({"restore_byte_a0", "replace_lossy_sequences"})


@dataclass(frozen=True, slots=True)
class RepairProposal:
    """What ftfy would make of the text; `lossy` when it had to guess lost bytes."""

    text: str
    changed_lines: list[int] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    lossy: bool = True
    original: str = ""
    """The text as it was, for `diff`."""

    def diff(self, name: str) -> str:
        """The repair as a unified diff of `name` (empty when nothing changes)."""
        before = self.original.splitlines(keepends=True)
        after = self.text.splitlines(keepends=True)
        lines = difflib.unified_diff(before, after, f"{name} (now)", f"{name} (repaired)")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    def summary(self) -> str:
        """One paragraph for a person: what changes and how far to trust it."""
        how = " -> ".join(self.steps) or "no steps"
        trust = (
            "bytes were lost in the bad save and ftfy guessed them; check the emoji and "
            "punctuation on the changed lines before you keep it"
            if self.lossy
            else "no byte had to be guessed, but it is still a guess about the encoding"
        )
        return (
            f"proposed repair changes {len(self.changed_lines)} line(s) ({how}); this is a "
            f"guess: {trust}"
        )


def find_mojibake(text: str) -> list[tuple[int, str]]:
    """Lines that look like mojibake, as (line number, the first odd snippet)."""
    # ftfy loads only when a text is checked (start-up time)
    import ftfy  # only needed once a file is actually read
    from ftfy.badness import is_bad

    found = []
    for number, line in enumerate(text.split("\n"), 1):
        # Odd-looking but unfixable text (a person's symbols) is not mojibake: only lines
        # that ftfy both flags and can decode into something else count.
        if line and not line.isascii() and is_bad(line) and ftfy.fix_encoding(line) != line:
            found.append((number, _snippet(line)))
    return found


def _snippet(line: str) -> str:
    start = next((i for i, ch in enumerate(line) if not ch.isascii()), 0)
    return line[max(0, start - 4) : start + 8]


def propose_repair(text: str) -> RepairProposal:
    """ftfy's fix for `text`, the lines it changes and whether it had to guess bytes."""
    # ftfy loads only when a text is checked (start-up time)
    import ftfy

    fixed = ftfy.fix_and_explain(text)
    steps = [f"{kind} {name}" for kind, name in fixed.explanation or []]
    before, after = text.split("\n"), fixed.text.split("\n")
    changed: list[int] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            changed.extend(range(i1 + 1, max(i2, i1 + 1) + 1))
    lossy = any(name in _LOSSY_STEPS for _kind, name in fixed.explanation or []) or (
        "\ufffd" in fixed.text and "\ufffd" not in text
    )
    return RepairProposal(fixed.text, changed, steps, lossy, original=text)
