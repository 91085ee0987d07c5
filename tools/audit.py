"""`audit`: stream JSONL fine-tuning files, report every bad row by file:line and reason.

With `fix`, clean rows go to `<stem>.clean.jsonl` and every other row to
`<stem>.rejects.jsonl` with its line and reasons, so nothing is dropped silently.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, Field

from sprintboard.errors import ToolError
from sprintboard.files import FileRef, atomic_write
from sprintboard.tools.chat_rows import ERROR_REASONS, Format
from sprintboard.tools.corpus_scan import ScannedRange, require_inputs, scan_inputs
from sprintboard.tools.engine import Engine, engine_scope
from sprintboard.tools.length_stats import LengthHistogram, LengthStats, write_histogram_png
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.output_files import HashingWriter, copy_rows, dataset_stem
from sprintboard.tools.progress import input_bytes, progress
from sprintboard.tools.registry import register
from sprintboard.tools.row_scan import ScanSpec, reject_record
from sprintboard.tools.tokenizer_count import load_token_counter

__all__ = ["AuditConfig", "AuditReport", "FileAudit", "Finding", "audit", "dataset_stem"]

VERSION = "1"
_ERRORS = frozenset(ERROR_REASONS)
_MLX_FORMATS = frozenset({"messages", "prompt_completion", "text"})


class AuditConfig(BaseModel, frozen=True, extra="forbid"):
    """What to audit and how strictly."""

    inputs: list[Path] = Field(min_length=1)
    """JSONL or .jsonl.gz files."""
    format: Format | None = None
    """Force a format instead of detecting it from each file's first good row."""
    max_chars: int | None = Field(None, gt=0)
    """Rows whose message contents add up to more characters are `too_long`."""
    tokenizer: Path | None = None
    """A tokenizer.json (or a model directory holding one) to count tokens with."""
    max_tokens: int | None = Field(None, gt=0)
    """Rows with more tokens are `too_many_tokens` (needs `tokenizer`)."""
    fix: bool = False
    """Write `<stem>.clean.jsonl` and `<stem>.rejects.jsonl` per input."""
    fix_format: Literal["keep", "messages"] = "keep"
    """With `fix`: keep each clean row as it was, or rewrite it as chat `messages`."""
    out_dir: Path | None = None
    """Where reports go; default: an `audit/` folder beside the first input."""
    max_examples: int = Field(5, ge=0)
    """Examples kept per reason."""
    plot: bool = True
    """Also draw the length histogram as a PNG (matplotlib)."""


class Finding(BaseModel, frozen=True, extra="forbid"):
    """One problem with one row."""

    file: str
    line: int
    reason: str
    detail: str


class FileAudit(BaseModel, frozen=True, extra="forbid"):
    """Counts for one input file."""

    path: str
    format: Format | None
    rows: int
    clean: int
    rejected: int
    warned: int
    mlx_ready: bool
    """Whether mlx-lm can train on this format as is (`instruction` needs `--fix --to-messages`)."""


class AuditReport(BaseModel, frozen=True, extra="forbid"):
    """What the audit found; `ok` is true when no row was rejected."""

    ok: bool
    rows: int
    clean: int
    rejected: int
    files: list[FileAudit]
    counts: dict[str, int]
    """Rows per reason (stable keys such as `invalid_json`, `empty_assistant`, `alternation`)."""
    examples: dict[str, list[Finding]]
    histograms: list[LengthHistogram]
    outputs: list[str]
    manifest: str


@dataclass
class _FileTally:
    """One input's counts and (with `fix`) its two output files."""

    name: str
    clean_out: HashingWriter | None
    rejects_out: HashingWriter | None
    rows: int = 0
    clean: int = 0
    rejected: int = 0
    warned: int = 0


class _Tally:
    """Merges range scans, in input order, into counts, examples, histograms and outputs."""

    def __init__(self, config: AuditConfig, out_dir: Path, tokens: bool) -> None:
        self.config = config
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[Finding]] = {}
        self.stats = LengthStats("chars")
        self.token_stats = LengthStats("tokens") if tokens else None
        self.files: list[_FileTally] = []
        for path in config.inputs:
            stem = dataset_stem(path)
            fix = config.fix
            self.files.append(
                _FileTally(
                    str(path),
                    HashingWriter(out_dir / f"{stem}.clean.jsonl") if fix else None,
                    HashingWriter(out_dir / f"{stem}.rejects.jsonl") if fix else None,
                )
            )

    def add(self, part: ScannedRange) -> None:
        rs, base = part.scan, part.first_line
        tally = self.files[part.source]
        tally.rows += rs.rows
        dest = [0] * rs.rows
        rejected = 0
        for index, problems, raw in rs.flagged:
            line = base + index
            for reason, detail in problems:
                self.counts[reason] += 1
                kept = self.examples.setdefault(reason, [])
                if len(kept) < self.config.max_examples:
                    kept.append(Finding(file=tally.name, line=line, reason=reason, detail=detail))
            if any(reason in _ERRORS for reason, _ in problems):
                dest[index] = -1
                rejected += 1
                if tally.rejects_out is not None:
                    tally.rejects_out.write_line(reject_record(tally.name, line, problems, raw))
            else:
                tally.warned += 1
        tally.rejected += rejected
        tally.clean += rs.rows - rejected
        if rs.chars is not None:
            self.stats.merge(rs.chars)
        if rs.tokens is not None and self.token_stats is not None:
            self.token_stats.merge(rs.tokens)
        if tally.clean_out is not None:
            copy_rows(rs, dest, [tally.clean_out], rs.rewritten)

    def writers(self) -> list[HashingWriter]:
        return [w for f in self.files for w in (f.clean_out, f.rejects_out) if w is not None]


def _check_inputs(config: AuditConfig) -> None:
    """Refuse before any work: a missing input, or a token limit without a usable tokenizer."""
    require_inputs("audit", config.inputs)
    if config.max_tokens is not None and config.tokenizer is None:
        raise ToolError("audit", "max_tokens needs a tokenizer; pass --tokenizer PATH")
    if config.tokenizer is not None:
        load_token_counter(config.tokenizer)  # a bad tokenizer fails here, before any work


def _scan(
    config: AuditConfig, tally: _Tally, engine: Engine | None, show_progress: bool
) -> tuple[list[FileRef], list[tuple[Format | None, int]]]:
    """Check every row into `tally`; the inputs' refs and each file's detected format.

    On any failure the clean and rejects files are dropped, never left half-written."""
    spec = ScanSpec(
        format=config.format,
        max_chars=config.max_chars,
        max_tokens=config.max_tokens,
        tokenizer=str(config.tokenizer) if config.tokenizer else None,
        lengths=True,
        to_messages=config.fix and config.fix_format == "messages",
    )
    total = input_bytes(config.inputs)
    try:
        with (
            engine_scope(engine, total) as eng,
            progress("audit", total, enabled=show_progress) as bar,
        ):
            scan = scan_inputs(config.inputs, spec, eng, on_bytes=bar.advance)
            for part in scan.ranges():
                tally.add(part)
            return scan.refs(), list(scan.formats)
    except BaseException:
        for writer in tally.writers():
            writer.abort()
        raise


def _write_lengths(
    config: AuditConfig, tally: _Tally, out_dir: Path
) -> tuple[list[LengthHistogram], list[str]]:
    """The length histograms (characters, then tokens) as `lengths.json`, and a PNG on ask."""
    histograms = [s.histogram() for s in (tally.stats, tally.token_stats) if s is not None]
    hist_path = out_dir / "lengths.json"
    atomic_write(
        hist_path, orjson.dumps([h.model_dump() for h in histograms], option=orjson.OPT_INDENT_2)
    )
    written = [str(hist_path)]
    if config.plot:
        written.append(str(write_histogram_png(histograms, out_dir / "lengths.png")))
    return histograms, written


def _file_audits(tally: _Tally, formats: list[tuple[Format | None, int]]) -> list[FileAudit]:
    """Each input's counts and the format it was read as (mlx-ready or not)."""
    return [
        FileAudit(
            path=f.name,
            format=fmt,
            rows=f.rows,
            clean=f.clean,
            rejected=f.rejected,
            warned=f.warned,
            mlx_ready=fmt in _MLX_FORMATS,
        )
        for f, (fmt, _) in zip(tally.files, formats, strict=True)
    ]


def audit(
    config: AuditConfig, *, engine: Engine | None = None, show_progress: bool = False
) -> AuditReport:
    """Audit JSONL fine-tuning files: findings per row, counts per reason, length histograms.

    `engine` runs the per-range checks (default: worker processes on every core here); the
    report and outputs are the same whichever engine ran them.

    Raises:
        ToolError: an input is missing, or `max_tokens` is set without a tokenizer.
    """
    started = time.perf_counter()
    _check_inputs(config)
    out_dir = config.out_dir or config.inputs[0].parent / "audit"
    out_dir.mkdir(parents=True, exist_ok=True)
    tally = _Tally(config, out_dir, tokens=config.tokenizer is not None)
    inputs, formats = _scan(config, tally, engine, show_progress)
    outputs = [w.commit() for w in tally.writers()]
    files = _file_audits(tally, formats)
    histograms, written = _write_lengths(config, tally, out_dir)
    counts, examples = tally.counts, tally.examples
    rows = sum(f.rows for f in files)
    rejected = sum(f.rejected for f in files)
    manifest_path = out_dir / "audit.manifest.json"
    report = AuditReport(
        ok=rejected == 0,
        rows=rows,
        clean=rows - rejected,
        rejected=rejected,
        files=files,
        counts=dict(sorted(counts.items())),
        examples=dict(sorted(examples.items())),
        histograms=histograms,
        outputs=[r.path for r in outputs] + written,
        manifest=str(manifest_path),
    )
    write_manifest(
        manifest_path,
        Manifest(
            tool="audit",
            version=VERSION,
            inputs=inputs,
            outputs=outputs,
            config=config.model_dump(mode="json"),
            counts={"rows": rows, "clean": rows - rejected, "rejected": rejected, **report.counts},
            timings={"total": round(time.perf_counter() - started, 4)},
            engine=engine.name if engine is not None else "local",
        ),
    )
    return report


# Registered by call, not as a decorator, so `audit` keeps its typed signature for callers.
register("audit", config=AuditConfig, report=AuditReport)(audit)
