"""Throughput of `sprintboard tools train` against mlx-lm's own `mlx_lm lora` (the baseline).

Both run as fresh processes on the same tiny llama, data and settings (LoRA rank 16,
scale 2.0 = alpha 32 / rank 16, all layers, batch 4, the same iterations, report and
validation cadence). Runs are interleaved (baseline, ours, baseline, ...) after one untimed
warm-up each, which fills mlx's compile cache. Two numbers per run:

- wall tokens/s: trained tokens / whole-process seconds (start-up, loading, validation,
  metric rows and checkpoints included): what a user waits for;
- loop tokens/s: mlx-lm's own per-report figure (time inside its steps), averaged.

Usage: python benchmarks/bench_train.py [--full] [--repeats N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

_ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+\S+\s+([\d,]+)\s+([\d.]+)k\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _parse_ui(text: str) -> tuple[float, list[float]]:
    """Trained tokens and the per-report tokens/s from mlx-lm's training table."""
    tokens, rates = 0.0, []
    for line in _ANSI.sub("", text).splitlines():
        match = _ROW.match(line)
        if match:
            rates.append(float(match.group(3).replace(",", "")))
            tokens = float(match.group(4)) * 1000
    return tokens, rates


def _run(argv: list[str], cwd: Path) -> float:
    tic = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - tic


def main() -> None:
    """Run the comparison and print medians, spreads and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="bigger model, more iterations")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (make bench)")
    args = parser.parse_args()
    hidden, layers, iters = (256, 4, 400) if args.full else (64, 2, 60 if args.quick else 200)
    repeats = args.repeats or (7 if args.full else 2 if args.quick else 5)
    report, batch, seq = 10, 4, 128

    from sprintboard.tools.tiny_model import build_tiny_dataset, build_tiny_model

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp_name:
        tmp = Path(tmp_name)
        model = build_tiny_model(tmp / "model", hidden_size=hidden, num_layers=layers)
        data = build_tiny_dataset(tmp / "data", sizes=(256, 32, 32))
        (tmp / "lora.yaml").write_text(
            "lora_parameters:\n  rank: 16\n  scale: 2.0\n  dropout: 0.0\n", encoding="utf-8"
        )
        common = ["--model", str(model), "--data", str(data), "--iters", str(iters),
                  "--batch-size", str(batch), "--max-seq-length", str(seq),
                  "--learning-rate", "1e-4", "--val-batches", "2", "--seed", "0"]  # fmt: skip
        baseline_out, ours_out = tmp / "baseline", tmp / "ours"
        baseline = [sys.executable, "-m", "mlx_lm", "lora", "--train", *common,
                    "-c", str(tmp / "lora.yaml"), "--num-layers", "-1",
                    "--steps-per-report", str(report), "--steps-per-eval", str(iters),
                    "--save-every", str(iters), "--adapter-path", str(baseline_out)]  # fmt: skip
        ours = [sys.executable, "-P", "-c", "from sprintboard.cli import main; main()",
                "tools", "train", *common, "--rank", "16", "--alpha", "32", "--layers", "-1",
                "--report-every", str(report), "--eval-every", str(iters),
                "--save-every", str(iters), "--no-resume", "--json", "-o", str(ours_out)]  # fmt: skip

        def run_baseline() -> tuple[float, float, float]:
            log = tmp / "baseline.log"
            with log.open("w", encoding="utf-8") as fh:
                tic = time.perf_counter()
                subprocess.run(baseline, cwd=tmp, check=True, stdout=fh, stderr=subprocess.DEVNULL)
                wall = time.perf_counter() - tic
            tokens, rates = _parse_ui(log.read_text(encoding="utf-8"))
            return tokens / wall, statistics.fmean(rates[1:]), wall

        def run_ours() -> tuple[float, float, float]:
            import shutil

            shutil.rmtree(ours_out, ignore_errors=True)
            wall = _run(ours, tmp)
            tokens, rates = _parse_ui((ours_out / "train.log").read_text(encoding="utf-8"))
            return tokens / wall, statistics.fmean(rates[1:]), wall

        print(
            f"model hidden={hidden} layers={layers}, iters={iters}, batch={batch}, repeats={repeats}"
        )
        run_baseline(), run_ours()  # warm-up: mlx compiles its CPU kernels once per machine
        results: dict[str, list[tuple[float, float, float]]] = {
            "mlx_lm lora": [],
            "sprintboard": [],
        }
        for i in range(repeats):
            order = [("mlx_lm lora", run_baseline), ("sprintboard", run_ours)]
            for name, fn in order if i % 2 == 0 else order[::-1]:
                results[name].append(fn())

    base_wall = statistics.median(r[0] for r in results["mlx_lm lora"])
    base_loop = statistics.median(r[1] for r in results["mlx_lm lora"])
    print(
        f"{'':<14}{'wall tok/s':>12}{'(min-max)':>20}{'loop tok/s':>12}{'(min-max)':>20}{'wall s':>8}{'ratio':>8}"
    )
    for name, rows in results.items():
        wall = [r[0] for r in rows]
        loop = [r[1] for r in rows]
        med_wall, med_loop = statistics.median(wall), statistics.median(loop)
        print(
            f"{name:<14}{med_wall:>12.0f}{f'{min(wall):.0f}-{max(wall):.0f}':>20}"
            f"{med_loop:>12.0f}{f'{min(loop):.0f}-{max(loop):.0f}':>20}"
            f"{statistics.median(r[2] for r in rows):>8.2f}{med_wall / base_wall:>8.3f}"
        )
    ours_loop = statistics.median(r[1] for r in results["sprintboard"])
    print(f"loop ratio (sprintboard / mlx_lm lora): {ours_loop / base_loop:.3f}")
    from result_line import result

    ours_wall = statistics.median(r[0] for r in results["sprintboard"])
    result("train wall tokens/s vs mlx_lm lora", ours_wall, "tok/s", baseline=base_wall)
    result("train loop tokens/s vs mlx_lm lora", ours_loop, "tok/s", baseline=base_loop)


if __name__ == "__main__":
    main()
