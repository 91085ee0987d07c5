"""The `train` tool: config handling, real training of the tiny model, clear refusals."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sprintboard.errors import ConfigError, ToolError
from sprintboard.tools.train_config import TrainConfig, load_train_config


@pytest.fixture(scope="module")
def chat_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chat-format train/valid/test splits made of the tiny model's sentences."""
    from sprintboard.tools.tiny_model import build_tiny_dataset

    return build_tiny_dataset(tmp_path_factory.mktemp("chat-data"))


def _config(model: Path, data: Path, output: Path, **over: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "model": model, "data": data, "output": output, "iters": 30,
        "learning_rate": 2e-3, "batch_size": 4, "max_seq_length": 128,
        "report_every": 5, "eval_every": 10, "save_every": 10, "val_batches": -1,
    }  # fmt: skip
    values.update(over)
    return TrainConfig.model_validate(values)


def _rows(metrics: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines()]


# -- config, no mlx --------------------------------------------------------------------------


def test_config_needs_exactly_one_of_iters_and_epochs(tmp_path: Path) -> None:
    base = {"model": tmp_path, "data": tmp_path, "output": tmp_path}
    with pytest.raises(ValueError, match="exactly one"):
        TrainConfig.model_validate(base)
    with pytest.raises(ValueError, match="exactly one"):
        TrainConfig.model_validate({**base, "iters": 3, "epochs": 1})
    with pytest.raises(ValueError, match="multiple of `report_every`"):
        TrainConfig.model_validate({**base, "iters": 3, "report_every": 4, "save_every": 10})


def test_alpha_maps_to_mlx_scale(tmp_path: Path) -> None:
    cfg = TrainConfig(model=tmp_path, data=tmp_path, output=tmp_path, iters=1)
    assert (cfg.rank, cfg.alpha, cfg.scale) == (16, 32.0, 2.0)


def test_config_file_paths_are_relative_to_it_and_flags_win(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(
        '[train]\nmodel = "m"\ndata = "d"\noutput = "o"\niters = 50\nrank = 8\n'
        'memory_budget = "16GB"\n',
        encoding="utf-8",
    )
    cfg = load_train_config(toml, iters=7, rank=None)
    assert cfg.model == tmp_path / "m" and cfg.output == tmp_path / "o"
    assert (cfg.iters, cfg.rank, cfg.memory_budget) == (7, 8, 16_000_000_000)
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("model: /abs/m\ndata: d\noutput: o\nepochs: 2\n", encoding="utf-8")
    assert load_train_config(yaml_file).model == Path("/abs/m")
    assert load_train_config(yaml_file).epochs == 2


def test_config_typo_names_the_key(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(
        'model = "m"\ndata = "d"\noutput = "o"\niters = 5\nrnak = 8\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_train_config(toml)
    assert err.value.key == "rnak" and str(toml) in str(err.value)


def test_validating_a_train_step_does_not_import_mlx(tmp_path: Path) -> None:
    code = (
        "import sys; from sprintboard.tools import validate_step; "
        f"validate_step('train', {{'model': '{tmp_path}', 'data': '{tmp_path}', "
        f"'output': '{tmp_path}', 'iters': 5}}); "
        "print('mlx' in sys.modules, 'mlx_lm' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]


# -- real training -----------------------------------------------------------------------------


@pytest.mark.slow
def test_training_lowers_loss_and_writes_metrics(
    tiny_model: Path, chat_data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools import run_step

    report = run_step("train", _config(tiny_model, chat_data, tmp_path / "a"))
    rows = _rows(tmp_path / "a" / "metrics.jsonl")
    val = [r["val_loss"] for r in rows if r["kind"] == "val"]
    train = [r["train_loss"] for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in rows if r["kind"] == "val"] == [0, 10, 20, 30]
    assert val[-1] < val[0] - 1.0 and train[-1] < train[0]
    assert all(
        r["tokens_per_sec"] > 0 and r["peak_memory_gb"] > 0 for r in rows if "tokens_per_sec" in r
    )
    metrics = report.metrics  # type: ignore[attr-defined]
    assert metrics["val_loss"] == val[-1] and metrics["steps"] == 30
    assert {"train_loss", "tokens_per_sec", "peak_memory_gb", "estimate_memory_gb"} <= set(metrics)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert [Path(i["path"]).name for i in manifest["inputs"]] == ["train.jsonl", "valid.jsonl"]
    # mlx-lm itself can load the adapter directory we wrote.
    from mlx.utils import tree_flatten
    from mlx_lm import load

    model, _ = load(str(tiny_model), adapter_path=str(tmp_path / "a"))
    assert any(name.endswith("lora_a") for name, _ in tree_flatten(model.parameters()))


@pytest.mark.slow
def test_qlora_trains_over_a_4bit_base(tiny_model: Path, chat_data: Path, tmp_path: Path) -> None:
    from sprintboard.tools.train import train

    lora = train(_config(tiny_model, chat_data, tmp_path / "l", iters=10, dry_run=True))
    report = train(_config(tiny_model, chat_data, tmp_path / "q", iters=10, method="qlora"))
    assert report.estimate.weights < lora.estimate.weights / 4
    rows = _rows(report.metrics_file)
    val = [r["val_loss"] for r in rows if r["kind"] == "val"]
    assert val[-1] < val[0]
    adapter = json.loads((tmp_path / "q" / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["method"] == "qlora" and adapter["lora_parameters"]["scale"] == 2.0


def test_epochs_become_steps(tiny_model: Path, chat_data: Path, tmp_path: Path) -> None:
    from sprintboard.tools.train import train

    report = train(
        _config(tiny_model, chat_data, tmp_path / "e", iters=None, epochs=0.5, dry_run=True)
    )
    assert report.total_steps == 6  # 48 rows / batch 4 = 12 batches per epoch


def test_dry_run_estimates_and_budget_refuses(
    tiny_model: Path, chat_data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    report = train(_config(tiny_model, chat_data, tmp_path / "d", dry_run=True))
    est = report.estimate
    assert est.total == est.weights + est.lora + est.optimizer + est.activations
    assert est.lora_parameters == 2 * 16 * sum(
        a + b for a, b in [(64, 64), (64, 32), (64, 32), (64, 64), (64, 128), (64, 128), (128, 64)]
    )
    assert report.adapter_file is None and not (tmp_path / "d" / "checkpoints").exists()
    with pytest.raises(
        ToolError, match=r"estimated memory .* exceeds the budget 1.00 MB .*activations"
    ):
        train(_config(tiny_model, chat_data, tmp_path / "b", memory_budget="1MB"))


def test_cli_json_output_is_one_clean_document(
    tiny_model: Path, chat_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sprintboard.cli import main

    out = tmp_path / "cli"
    argv = ["tools", "train", "--model", str(tiny_model), "--data", str(chat_data), "-o", str(out),
            "--iters", "5", "--report-every", "5", "--eval-every", "5", "--save-every", "5",
            "--max-seq-length", "128", "--json"]  # fmt: skip
    main(argv)
    doc = json.loads(capsys.readouterr().out)
    assert doc["steps"] == 5 and "val_loss" in doc["metrics"]
    assert "train_loss" in (out / "train.log").read_text(encoding="utf-8")  # mlx-lm's UI, captured


# -- refusals ----------------------------------------------------------------------------------


def _write_split(data: Path, name: str, rows: list[Any]) -> None:
    data.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    (data / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _chat(text: str) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": "Say"}, {"role": "assistant", "content": text}]
    }


@pytest.mark.parametrize(
    ("train_rows", "expected"),
    [
        (
            [_chat("a")] * 4 + [{"text": "plain"}],
            r"train.jsonl:5: mixed data formats \(chat at line 1",
        ),
        ([_chat("a")] * 2, r"2 rows is fewer than the batch size 4"),
        ([_chat("a")] * 3 + ["{not json"], r"train.jsonl:4: not JSON"),
        ([{"question": "x"}] * 4, r"train.jsonl:1: unknown row format"),
        (
            [_chat("a")] * 3 + [_chat("word " * 200)] * 2,
            r"2 of 5 rows are longer than max_seq_length 128",
        ),
    ],
    ids=["mixed", "too-small", "bad-json", "unknown-format", "too-long"],
)
def test_bad_data_is_refused(
    tiny_model: Path, tmp_path: Path, train_rows: list[Any], expected: str
) -> None:
    from sprintboard.tools.train import train

    _write_split(tmp_path / "data", "train", train_rows)
    _write_split(tmp_path / "data", "valid", [_chat("b")] * 4)
    with pytest.raises(ToolError, match=expected):
        train(_config(tiny_model, tmp_path / "data", tmp_path / "out"))


def _model_copy(tiny_model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    return copy


def test_missing_tokenizer_is_refused(tiny_model: Path, chat_data: Path, tmp_path: Path) -> None:
    from sprintboard.tools.train import train

    model = _model_copy(tiny_model, tmp_path)
    (model / "tokenizer.json").unlink()
    with pytest.raises(ToolError, match="no tokenizer"):
        train(_config(model, chat_data, tmp_path / "out"))


def test_missing_chat_template_is_refused_for_chat_rows(
    tiny_model: Path, chat_data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    model = _model_copy(tiny_model, tmp_path)
    tok_config = json.loads((model / "tokenizer_config.json").read_text(encoding="utf-8"))
    del tok_config["chat_template"]
    (model / "tokenizer_config.json").write_text(json.dumps(tok_config), encoding="utf-8")
    (model / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(ToolError, match="need a chat template"):
        train(_config(model, chat_data, tmp_path / "out"))


def test_unsupported_architecture_is_refused(
    tiny_model: Path, chat_data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    model = _model_copy(tiny_model, tmp_path)
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "my_secret_arch"
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ToolError, match="'my_secret_arch' is not supported"):
        train(_config(model, chat_data, tmp_path / "out"))


@pytest.mark.slow
def test_grad_checkpoint_and_allowed_truncation_train(
    tiny_model: Path, chat_data: Path, tmp_path: Path
) -> None:
    from sprintboard.tools.train import train

    report = train(
        _config(
            tiny_model,
            chat_data,
            tmp_path / "g",
            iters=4,
            report_every=2,
            eval_every=2,
            save_every=2,
            grad_checkpoint=True,
            max_seq_length=16,
            allow_truncation=True,
        )  # fmt: skip
    )
    assert report.steps == 4 and math.isfinite(report.metrics["train_loss"])
