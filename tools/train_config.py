"""Config and report models of the MLX tools (`train`, `eval`, `generate`, `fuse`).

This module imports neither mlx nor mlx_lm, so validating a `train` step when a task is
planned stays cheap and works on machines without mlx.

LoRA `alpha` and mlx-lm's `scale`: a LoRA layer adds `scale * (x @ A @ B)` to the base
output. Other frameworks (PEFT) write the factor as `alpha / rank`; we take `rank` and
`alpha` and pass `scale = alpha / rank` to mlx-lm (rank 16, alpha 32 -> scale 2.0).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ByteSize, Field, ValidationError, model_validator

from sprintboard.errors import ConfigError, field_name, problem_text

__all__ = [
    "EvalConfig",
    "EvalReport",
    "FuseConfig",
    "FuseReport",
    "GenerateConfig",
    "GenerateReport",
    "LaunchInfo",
    "MemoryEstimate",
    "TrainConfig",
    "TrainReport",
    "load_train_config",
]


class TrainConfig(BaseModel, frozen=True, extra="forbid"):
    """How to fine-tune a model with LoRA or QLoRA through mlx-lm's training loop."""

    model: Path
    """Model directory (config.json, safetensors, tokenizer files)."""
    data: Path
    """Directory with train.jsonl and valid.jsonl (test.jsonl is used by `eval`)."""
    output: Path
    """Adapter directory: adapters, checkpoints, metrics.jsonl, manifest.json."""
    method: Literal["lora", "qlora"] = "lora"
    """`qlora` quantizes the base to 4 bits (group 64) before adding the adapters."""
    rank: int = Field(16, ge=1)
    alpha: float = Field(32.0, gt=0)
    """LoRA alpha; mlx-lm's `scale` is `alpha / rank`."""
    dropout: float = Field(0.0, ge=0, lt=1)
    layers: int = Field(-1, ge=-1)
    """How many of the last transformer blocks get adapters; -1 means all."""
    optimizer: Literal["adam", "adamw"] = "adam"
    learning_rate: float = Field(1e-4, gt=0)
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"
    """Decay after warmup: cosine or linear down to `lr_end`, or constant."""
    warmup_steps: int = Field(0, ge=0)
    """Steps of linear warmup from 0 to `learning_rate`."""
    lr_end: float = Field(0.0, ge=0)
    batch_size: int = Field(4, ge=1)
    max_seq_length: int = Field(2048, ge=2)
    """Tokens per row; longer rows are refused unless `allow_truncation`."""
    allow_truncation: bool = False
    iters: int | None = Field(None, ge=1)
    """Optimizer steps in total (a resumed run counts the steps already done)."""
    epochs: float | None = Field(None, gt=0)
    """Passes over the training split; converted to steps. Give `iters` or `epochs`."""
    grad_checkpoint: bool = False
    mask_prompt: bool = False
    """Train only on the completion (chat and completions data)."""
    seed: int = 0
    report_every: int = Field(10, ge=1)
    """Steps between metric rows (train loss, learning rate, tokens/s, peak memory)."""
    eval_every: int = Field(100, ge=1)
    """Steps between validation losses; a multiple of `report_every`."""
    val_batches: int = Field(25, ge=-1)
    """Validation batches per evaluation; -1 uses the whole split."""
    save_every: int = Field(100, ge=1)
    """Steps between resumable checkpoints; a multiple of `report_every`."""
    keep_checkpoints: int = Field(2, ge=1)
    """How many of the newest checkpoints to keep."""
    resume: bool = True
    """Continue from the newest checkpoint in `output` when there is one."""
    memory_budget: ByteSize | None = None
    """Refuse a run whose memory estimate exceeds this ("16GB", "512MiB")."""
    dry_run: bool = False
    """Check the data and estimate memory, but do not train."""
    distributed: int = Field(1, ge=1)
    """Ranks on this machine, started by `mlx.launch`; 1 trains in this process."""
    hosts: list[str] = Field(default_factory=list)
    """One rank per entry (an IP, or a name that resolves to one), started over ssh by
    `mlx.launch`; every host needs this Python and the model and data at the same paths."""
    hostfile: Path | None = None
    """An `mlx.launch` host file (JSON), one rank per host entry, instead of `hosts`."""

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if (self.iters is None) == (self.epochs is None):
            raise ValueError("give exactly one of `iters` or `epochs`")
        ways = [self.distributed > 1, bool(self.hosts), self.hostfile is not None]
        if sum(ways) > 1:
            raise ValueError(
                "give one of `distributed` (ranks on this machine), `hosts` or `hostfile`"
            )
        size = len(self.hosts) or self.distributed
        if self.batch_size % size:
            raise ValueError(
                f"`batch_size` ({self.batch_size}) is the global batch and must divide evenly "
                f"among the {size} ranks"
            )
        for name in ("eval_every", "save_every"):
            if getattr(self, name) % self.report_every:
                raise ValueError(
                    f"`{name}` ({getattr(self, name)}) must be a multiple of "
                    f"`report_every` ({self.report_every}): checkpoints and validation run "
                    "when a metric row is written"
                )
        return self

    @property
    def scale(self) -> float:
        """mlx-lm's LoRA `scale` for this `alpha` and `rank`."""
        return self.alpha / self.rank

    @property
    def launches(self) -> bool:
        """True when the run goes through `mlx.launch` (more than one rank, or other hosts)."""
        return self.distributed > 1 or bool(self.hosts) or self.hostfile is not None


class MemoryEstimate(BaseModel, frozen=True, extra="forbid"):
    """Bytes a training run is expected to need, by part."""

    weights: int
    lora: int
    optimizer: int
    """Gradients plus two Adam moments of the LoRA parameters, float32."""
    activations: int
    total: int
    lora_parameters: int
    """Count of trainable LoRA parameters."""

    @property
    def total_gb(self) -> float:
        """Total in GB (10^9 bytes)."""
        return self.total / 1e9


class LaunchInfo(BaseModel, frozen=True, extra="forbid"):
    """Where the ranks of a distributed run ran."""

    backend: Literal["ring"] = "ring"
    hosts: list[str]
    """One entry per rank: `ssh name (ip)`; `127.0.0.1` ranks run on this machine."""
    port: int
    """The ring's first port (rank r listens on port + r)."""
    log: Path
    """`mlx.launch`'s output, kept on the launching machine."""


class TrainReport(BaseModel, frozen=True, extra="forbid"):
    """What a training run did; `metrics` is a flat name -> number map for acceptance checks."""

    output: Path
    adapter_file: Path | None
    metrics_file: Path
    manifest: Path
    steps: int
    total_steps: int
    resumed_from: int | None
    """The checkpoint step this run continued from, if any."""
    dry_run: bool
    estimate: MemoryEstimate
    """Memory of one rank (it holds `batch_size / world_size` rows of each batch)."""
    metrics: dict[str, float]
    """train_loss, val_loss, tokens_per_sec, trained_tokens, world_size, peak_memory_gb,
    estimate_memory_gb, train_seconds."""
    world_size: int = 1
    launch: LaunchInfo | None = None
    """How `mlx.launch` ran the ranks; None for a run in this process."""


class EvalConfig(BaseModel, frozen=True, extra="forbid"):
    """Loss and perplexity of a model (with an adapter) on a data split."""

    model: Path
    adapter: Path | None = None
    """Adapter directory written by `train`; None evaluates the base model."""
    data: Path
    split: Literal["test", "valid", "train"] = "test"
    batch_size: int = Field(4, ge=1)
    max_seq_length: int = Field(2048, ge=2)
    batches: int = Field(-1, ge=-1)
    """Batches to evaluate; -1 uses the whole split."""
    output: Path | None = None
    """Where the manifest goes; defaults to the adapter directory."""


class EvalReport(BaseModel, frozen=True, extra="forbid"):
    """Loss and perplexity on one split; `metrics` holds `<split>_loss` and `<split>_ppl`."""

    split: str
    rows: int
    tokens: int
    manifest: Path
    metrics: dict[str, float]


class GenerateConfig(BaseModel, frozen=True, extra="forbid"):
    """Text from a prompt, with the adapter applied."""

    model: Path
    adapter: Path | None = None
    prompt: str
    chat: bool = True
    """Wrap the prompt in the tokenizer's chat template as a user turn."""
    max_tokens: int = Field(64, ge=1)
    temperature: float = Field(0.0, ge=0)
    """0 means greedy decoding, which is deterministic."""
    seed: int = 0


class GenerateReport(BaseModel, frozen=True, extra="forbid"):
    """The generated text and its speed."""

    text: str
    prompt_tokens: int
    generated_tokens: int
    metrics: dict[str, float]


class FuseConfig(BaseModel, frozen=True, extra="forbid"):
    """Merge an adapter into its base model and save the result as a model directory."""

    model: Path
    adapter: Path
    output: Path
    dequantize: bool = False
    """Save full-precision weights (always done for a QLoRA adapter over a float base)."""
    gguf: bool = False
    """Also export GGUF (only llama, mistral and mixtral are supported by mlx-lm)."""


class FuseReport(BaseModel, frozen=True, extra="forbid"):
    """The fused model directory and what was written there."""

    output: Path
    gguf: Path | None
    dequantized: bool
    manifest: Path
    metrics: dict[str, float]


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the config file: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            # yaml loads only for a YAML config (start-up time)
            import yaml

            data = yaml.safe_load(text) or {}
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(path, None, "unknown config format; use .toml, .yaml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(path, None, f"does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, None, "the top level must be a table of options")
    # A [train] table lets one file hold the config of several tools.
    table = data.get("train", data)
    return dict(table)


def load_train_config(path: Path | None = None, **overrides: Any) -> TrainConfig:
    """Build a `TrainConfig` from a TOML/YAML/JSON file and flags (flags win over the file).

    Relative paths in the file are relative to the file's directory. `None` flags are
    ignored, so a CLI can pass every option it has.

    Raises:
        ConfigError: the file cannot be read or parsed, or a value is invalid (names the key).
    """
    values: dict[str, Any] = {}
    if path is not None:
        values = _read_file(path)
        for key in ("model", "data", "output", "hostfile"):
            if key in values and not Path(values[key]).is_absolute():
                values[key] = str(path.parent / values[key])
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = field_name(err)
        where = path if path is not None else "train flags"
        raise ConfigError(where, field, problem_text(err)) from None
