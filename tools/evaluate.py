"""The `eval` tool: loss and perplexity of a model, with its adapter, on one data split.

The numbers go into a manifest beside the adapter and into the report's flat `metrics`
(`test_loss`, `test_ppl`), which the Builder records as task metrics for the Auditor.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from sprintboard.files import file_ref
from sprintboard.tools.manifest import Manifest, write_manifest
from sprintboard.tools.model_load import load_with_adapter
from sprintboard.tools.registry import register
from sprintboard.tools.train_config import EvalConfig, EvalReport

__all__ = ["evaluate"]


def evaluate(config: EvalConfig) -> EvalReport:
    """Compute loss and perplexity on a split (test by default) with mlx-lm's evaluator.

    Rows longer than `max_seq_length` are truncated and counted in the manifest.

    Raises:
        ToolError: bad model, adapter or data (see `train` for the data checks).
    """
    # mlx and numpy load only when a model runs: `import sprintboard` works without them
    from mlx_lm.tuner.trainer import evaluate as mlx_evaluate

    from sprintboard.tools.train_data import ValBatches, load_split

    tic = time.perf_counter()
    loaded = load_with_adapter("eval", config.model, config.adapter)
    split = load_split(
        "eval",
        config.data,
        config.split,
        loaded.tokenizer,
        batch_size=config.batch_size,
        max_seq_length=config.max_seq_length,
        allow_truncation=True,
    )
    load_s = time.perf_counter() - tic
    batches = ValBatches(split, config.batch_size, seed=0)
    loss = float(
        mlx_evaluate(
            model=loaded.model,
            dataset=split,
            batch_size=config.batch_size,
            num_batches=config.batches,
            max_seq_length=config.max_seq_length,
            iterate_batches=batches,
        )
    )
    eval_s = time.perf_counter() - tic - load_s
    metrics = {
        f"{config.split}_loss": loss,
        f"{config.split}_ppl": math.exp(min(loss, 700.0)),  # exp overflows past ~709
    }
    out_dir = config.output or config.adapter or Path(".")
    truncated = sum(1 for n in split.lengths if n > config.max_seq_length)
    manifest = write_manifest(
        out_dir / f"manifest.eval-{config.split}.json",
        Manifest(
            tool="eval",
            version="1",
            inputs=[file_ref(split.path)],
            config=config.model_dump(mode="json"),
            counts={"rows": len(split), "tokens": split.tokens, "truncated_rows": truncated},
            timings={"load": load_s, "eval": eval_s},
            extra={"metrics": metrics},
        ),
    )
    return EvalReport(
        split=config.split, rows=len(split), tokens=split.tokens, manifest=manifest, metrics=metrics
    )


# Registered after the definition so `evaluate` keeps its own signature for type checkers.
register("eval", config=EvalConfig, report=EvalReport)(evaluate)
