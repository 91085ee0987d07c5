"""`audit`: stream JSONL fine-tuning files, report every bad row by file:line and reason.

With `fix`, clean rows go to `<stem>.clean.jsonl` and every other row to
`<stem>.rejects.jsonl` with its line and reasons, so nothing is dropped silently.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, Field

from sprintboard.errors import ToolError
from sprintboard.tools.chat_rows import ERROR_REASONS, Format, to_messages_row
from sprintboard.tools.length_stats import LengthHistogram, LengthStats, write_histogram_png
from sprintboard.tools.manifest import FileRef, Manifest, write_manifest
from sprintboard.tools.output_files import HashingWriter
from sprintboard.tools.progress import input_bytes, progress
from sprintboard.tools.registry import register
from sprintboard.tools.row_scan import FileScan, RowLimits, reject_record
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


def dataset_stem(path: Path) -> str:
    """`data/train.jsonl.gz` -> `train`."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def _audit_file(
    scan: FileScan,
    config: AuditConfig,
    out_dir: Path,
    counts: Counter[str],
    examples: dict[str, list[Finding]],
    stats: LengthStats,
    token_stats: LengthStats | None,
) -> tuple[FileAudit, list[FileRef]]:
    clean_out = rejects_out = None
    if config.fix:
        stem = dataset_stem(scan.path)
        clean_out = HashingWriter(out_dir / f"{stem}.clean.jsonl")
        rejects_out = HashingWriter(out_dir / f"{stem}.rejects.jsonl")
    rows = clean = rejected = warned = 0
    to_messages = config.fix_format == "messages"
    name = str(scan.path)
    try:
        for line_no, raw, turns, problems in scan:
            rows += 1
            bad = False
            if problems:
                for reason, detail in problems:
                    counts[reason] += 1
                    kept = examples.setdefault(reason, [])
                    if len(kept) < config.max_examples:
                        kept.append(Finding(file=name, line=line_no, reason=reason, detail=detail))
                bad = any(reason in _ERRORS for reason, _ in problems)
                warned += not bad
            if turns is not None:
                stats.add(sum(len(c) for _, c in turns))
                if token_stats is not None and scan.last_tokens is not None:
                    token_stats.add(scan.last_tokens)
            if bad:
                rejected += 1
                if rejects_out is not None:
                    rejects_out.write_line(reject_record(name, line_no, problems, raw))
                continue
            clean += 1
            if clean_out is not None:
                if to_messages and scan.format != "messages" and turns is not None:
                    clean_out.write_line(to_messages_row(turns))
                else:
                    clean_out.write_line(raw)
    except BaseException:
        for writer in (clean_out, rejects_out):
            if writer is not None:
                writer.abort()
        raise
    refs = [w.commit() for w in (clean_out, rejects_out) if w is not None]
    return FileAudit(
        path=name,
        format=scan.format,
        rows=rows,
        clean=clean,
        rejected=rejected,
        warned=warned,
        mlx_ready=scan.format in _MLX_FORMATS,
    ), refs


def audit(config: AuditConfig, *, show_progress: bool = False) -> AuditReport:
    """Audit JSONL fine-tuning files: findings per row, counts per reason, length histograms.

    Raises:
        ToolError: an input is missing, or `max_tokens` is set without a tokenizer.
    """
    started = time.perf_counter()
    for path in config.inputs:
        if not path.is_file():
            raise ToolError("audit", f"{path}: no such file; check the path")
    if config.max_tokens is not None and config.tokenizer is None:
        raise ToolError("audit", "max_tokens needs a tokenizer; pass --tokenizer PATH")
    count_tokens = load_token_counter(config.tokenizer) if config.tokenizer else None
    limits = RowLimits(config.max_chars, config.max_tokens, count_tokens)
    out_dir = config.out_dir or config.inputs[0].parent / "audit"
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    examples: dict[str, list[Finding]] = {}
    stats = LengthStats("chars")
    token_stats = LengthStats("tokens") if count_tokens else None
    files: list[FileAudit] = []
    inputs: list[FileRef] = []
    outputs: list[FileRef] = []
    total = input_bytes(config.inputs)
    with progress("audit", total, enabled=show_progress) as bar:
        for path in config.inputs:
            scan = FileScan(path, config.format, limits, on_bytes=bar.advance)
            file_audit, refs = _audit_file(
                scan, config, out_dir, counts, examples, stats, token_stats
            )
            files.append(file_audit)
            inputs.append(scan.ref())
            outputs.extend(refs)
    histograms = [s.histogram() for s in (stats, token_stats) if s is not None]
    hist_path = out_dir / "lengths.json"
    hist_path.write_bytes(
        orjson.dumps([h.model_dump() for h in histograms], option=orjson.OPT_INDENT_2)
    )
    written = [str(hist_path)]
    if config.plot:
        written.append(str(write_histogram_png(histograms, out_dir / "lengths.png")))
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
        ),
    )
    return report


# Registered by call, not as a decorator, so `audit` keeps its typed signature for callers.
register("audit", config=AuditConfig, report=AuditReport)(audit)
