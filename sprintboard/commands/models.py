"""`sprintboard models import-gguf|serve`: bring a pretrained model in offline and serve it.

Thin: each command builds the tool's config, calls the tool, prints. mlx is imported only
inside the tools, so `sprintboard --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sprintboard.commands import options
from sprintboard.commands.output import print_json

__all__ = ["app", "import_gguf_cmd", "register", "serve_cmd"]

app = typer.Typer(help="Import and serve models.", no_args_is_help=True)


@app.command("import-gguf")
def import_gguf_cmd(
    gguf: Path = typer.Argument(..., help="A llama-family .gguf file (Q4_0, Q4_1, Q8_0, F16)."),
    out_dir: Path = typer.Argument(..., help="The mlx-lm model directory to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty OUT_DIR."),
    json_out: bool = options.JSON,
) -> None:
    """Turn a GGUF file into an mlx-lm model directory (weights stay quantized)."""
    from sprintboard.tools.gguf_import import GgufImportConfig, import_gguf

    report = import_gguf(GgufImportConfig(gguf=gguf, out_dir=out_dir, overwrite=overwrite))
    if json_out:
        print_json(report)
        return
    quant = report.quantization
    kind = f"{quant['bits']}-bit, group {quant['group_size']}" if quant else "float"
    typer.echo(
        f"{report.out_dir}: llama, {report.layers} layers, hidden {report.hidden_size}, "
        f"vocab {report.vocab_size}, {report.tensors} tensors ({kind}) in {report.seconds:.1f}s"
    )


@app.command("serve")
def serve_cmd(
    model: Path = typer.Argument(..., help="An mlx-lm model directory."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    max_tokens: int = typer.Option(512, "--max-tokens", help="Default generation limit."),
) -> None:
    """Serve MODEL with mlx-lm's OpenAI-compatible server until interrupted."""
    from sprintboard.tools.serve import ServeConfig, serve_forever, server_argv

    config = ServeConfig(model=model, host=host, port=port, max_tokens=max_tokens)
    server_argv(config)  # refuses a directory without a model before anything starts
    typer.echo(f"serving {model} at {config.base_url} (model name: default_model)", err=True)
    raise typer.Exit(serve_forever(config))


def register(root: typer.Typer) -> None:
    """Add the `models` group to the root app."""
    root.add_typer(app, name="models")
