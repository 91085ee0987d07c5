"""Throughput of `sprintboard tools train` on 2 local ranks (mlx.launch) against 1 process.

Same tiny llama, data and global batch (4) for both; the 2-rank run trains the same rows,
2 per rank per step. Runs are fresh processes, interleaved (1 rank, 2 ranks, 2 ranks,
1 rank, ...) after one untimed warm-up each. Per run:

- wall tok/s: trained tokens / seconds of the whole command (process start-up, imports,
  joining the ring, loading, validation, checkpoints included);
- loop tok/s: mlx-lm's own figure (tokens / time inside its steps), and ms per step;
- start-up s: command seconds minus the training loop's;
- CPU: CPU seconds of every process of the run / wall seconds (2.0 = both cores busy).

Where the time goes is measured apart, so the table can be read:
- "1 rank, batch 2" is one rank's share of the work, alone on the machine: what each rank
  would cost if its core were its own and nothing were exchanged;
- the ring's `all_sum` latency on this machine for a scalar (the global token count, once
  per step) and for the LoRA gradient (once per step), from a 2-rank mlx.launch probe;
- the CPU mlx.launch itself burns while its 2 ranks sleep for 3 s, with its stdin on
  /dev/null (how it is usually run) and as `train` runs it (see `_STDIN_FILL` in
  tools/train_distributed.py).

On a 2-core machine that stands in for two Macs, 2 ranks are expected to be slower: the
ranks share the cores the single process already had, and each step adds two all_sums
over loopback TCP. The speed-up needs one machine per rank.

Usage: python benchmarks/bench_train_distributed.py [--full] [--repeats N] [--iters N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["main"]

_PROBE = """
import sys, time
import mlx.core as mx
world = mx.distributed.init(strict=True, backend="ring")
size, reps = int(sys.argv[1]), int(sys.argv[2])
for name, x in (("scalar", mx.array(1)), ("gradient", mx.ones((size,), mx.float32))):
    mx.eval(mx.distributed.all_sum(x))  # connect and warm up
    times = []
    for _ in range(reps):
        tic = time.perf_counter()
        mx.eval(mx.distributed.all_sum(x))
        times.append(time.perf_counter() - tic)
    if world.rank() == 0:
        times.sort()
        print(f"PROBE {name} {times[len(times) // 2] * 1e6:.0f}", flush=True)
"""


@dataclass
class Run:
    wall_s: float
    loop_tok_s: float
    ms_per_step: float
    startup_s: float
    cpu: float
    tokens: float

    @property
    def wall_tok_s(self) -> float:
        return self.tokens / self.wall_s


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _train(argv: list[str], out: Path, iters: int) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    cpu, tic = _cpu_seconds(), time.perf_counter()
    done = subprocess.run(argv + ["-o", str(out)], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - tic
    cpu = _cpu_seconds() - cpu
    report = json.loads(done.stdout)
    metrics = report["metrics"]
    loop_s = metrics["trained_tokens"] / metrics["tokens_per_sec"]
    return Run(
        wall_s=wall,
        loop_tok_s=metrics["tokens_per_sec"],
        ms_per_step=loop_s / iters * 1000,
        startup_s=wall - metrics["train_seconds"],
        cpu=cpu / wall,
        tokens=metrics["trained_tokens"],
    )


def _probe(tmp: Path, floats: int) -> dict[str, float]:
    """Median all_sum microseconds on 2 local ranks, for a scalar and `floats` float32s."""
    from sprintboard.tools.train_distributed import reserve_ports

    script = tmp / "probe.py"
    script.write_text(_PROBE, encoding="utf-8")
    launcher = str(Path(sys.executable).parent / "mlx.launch")
    with reserve_ports(2) as port:
        argv = [launcher, "-n", "2", "--backend", "ring", "--starting-port", str(port),
                "--python", sys.executable, "--", str(script), str(floats), "200"]  # fmt: skip
        out = subprocess.run(
            argv, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
    found = {}
    for line in out.stdout.splitlines():
        if line.startswith("PROBE "):
            _, name, micros = line.split()
            found[name] = float(micros)
    return found


def _launcher_idle_cpu(tmp: Path, *, fill: bool) -> float:
    """CPU seconds of mlx.launch and 2 ranks that only sleep for 3 s."""
    from sprintboard.tools.train_distributed import reserve_ports

    script = tmp / "sleep.py"
    script.write_text("import time; time.sleep(3)\n", encoding="utf-8")
    launcher = str(Path(sys.executable).parent / "mlx.launch")
    cpu = _cpu_seconds()
    with reserve_ports(2) as port:
        argv = [launcher, "-n", "2", "--backend", "ring", "--starting-port", str(port),
                "--python", sys.executable, "--", str(script)]  # fmt: skip
        stdin = subprocess.PIPE if fill else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL)
        if fill:
            assert proc.stdin is not None
            proc.stdin.write(b"\n" * 256 * 1024)
            proc.stdin.flush()
        proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
    return _cpu_seconds() - cpu


def main() -> None:
    """Run the comparison and print medians, spreads and ratios against 1 rank."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="bigger model, more iterations")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--iters", type=int, default=None)
    args = parser.parse_args()
    hidden, layers = (256, 4) if args.full else (64, 2)
    iters = args.iters or (200 if args.full else 100)
    repeats = args.repeats or 5

    from sprintboard.tools.tiny_model import build_tiny_dataset, build_tiny_model

    with tempfile.TemporaryDirectory(prefix="bench-dist-") as tmp_name:
        tmp = Path(tmp_name)
        model = build_tiny_model(tmp / "model", hidden_size=hidden, num_layers=layers)
        data = build_tiny_dataset(tmp / "data", sizes=(256, 32, 32))
        base = [sys.executable, "-P", "-c", "from sprintboard.cli import main; main()",
                "tools", "train", "--model", str(model), "--data", str(data),
                "--iters", str(iters), "--max-seq-length", "128", "--learning-rate", "1e-4",
                "--report-every", "10", "--eval-every", str(iters), "--save-every", str(iters),
                "--val-batches", "2", "--no-resume", "--json"]  # fmt: skip
        variants = {
            "1 rank": base + ["--batch-size", "4"],
            "2 ranks": base + ["--batch-size", "4", "--distributed", "2"],
            "1 rank, batch 2": base + ["--batch-size", "2"],
        }
        print(
            f"model hidden={hidden} layers={layers}, iters={iters}, global batch 4, "
            f"repeats={repeats}, cores={os.cpu_count()}"
        )
        for argv in variants.values():  # warm-up: mlx compiles its CPU kernels once
            _train(argv, tmp / "warm", iters)
        results: dict[str, list[Run]] = {name: [] for name in variants}
        names = list(variants)
        for i in range(repeats):
            for name in names if i % 2 == 0 else names[::-1]:
                results[name].append(_train(variants[name], tmp / "out", iters))
        dry = subprocess.run(
            base + ["--dry-run", "-o", str(tmp / "dry")], check=True, capture_output=True, text=True
        )
        lora = json.loads(dry.stdout)["estimate"]["lora_parameters"]
        probe = _probe(tmp, lora)
        idle = {fill: _launcher_idle_cpu(tmp, fill=fill) for fill in (False, True)}

    base_wall = statistics.median(r.wall_tok_s for r in results["1 rank"])
    base_loop = statistics.median(r.loop_tok_s for r in results["1 rank"])
    print(
        f"{'':<17}{'wall tok/s':>11}{'(min-max)':>13}{'loop tok/s':>11}{'(min-max)':>13}"
        f"{'ms/step':>9}{'start-up s':>11}{'CPU':>6}{'wall ratio':>11}{'loop ratio':>11}"
    )
    for name, rows in results.items():
        wall = [r.wall_tok_s for r in rows]
        loop = [r.loop_tok_s for r in rows]
        med_wall, med_loop = statistics.median(wall), statistics.median(loop)
        print(
            f"{name:<17}{med_wall:>11.0f}{f'{min(wall):.0f}-{max(wall):.0f}':>13}"
            f"{med_loop:>11.0f}{f'{min(loop):.0f}-{max(loop):.0f}':>13}"
            f"{statistics.median(r.ms_per_step for r in rows):>9.1f}"
            f"{statistics.median(r.startup_s for r in rows):>11.2f}"
            f"{statistics.median(r.cpu for r in rows):>6.2f}"
            f"{med_wall / base_wall:>11.3f}{med_loop / base_loop:>11.3f}"
        )
    print(
        f"ring all_sum on 2 local ranks (median of 200): scalar {probe.get('scalar', 0):.0f} us, "
        f"LoRA gradient ({lora} float32) {probe.get('gradient', 0):.0f} us; a step does one "
        "of each"
    )
    print(
        f"mlx.launch + 2 sleeping ranks, 3 s: {idle[False]:.2f} CPU s with stdin /dev/null, "
        f"{idle[True]:.2f} CPU s with the stdin `train` gives it"
    )


if __name__ == "__main__":
    main()
