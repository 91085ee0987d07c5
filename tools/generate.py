"""The `generate` tool: text from a prompt with the adapter applied (greedy by default)."""

from __future__ import annotations

from sprintboard.errors import ToolError
from sprintboard.tools.model_load import load_with_adapter
from sprintboard.tools.registry import register
from sprintboard.tools.train_config import GenerateConfig, GenerateReport

__all__ = ["generate"]


def generate(config: GenerateConfig) -> GenerateReport:
    """Generate up to `max_tokens` after the prompt (in the chat template when `chat`).

    Raises:
        ToolError: bad model or adapter, or `chat` with a tokenizer that has no template.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx
    from mlx_lm.generate import stream_generate
    from mlx_lm.sample_utils import make_sampler

    loaded = load_with_adapter("generate", config.model, config.adapter)
    tokenizer = loaded.tokenizer
    if config.chat:
        if not getattr(tokenizer, "chat_template", None):
            raise ToolError(
                "generate",
                f"{config.model}: the tokenizer has no chat template; pass chat=false "
                "(`--raw`) to use the prompt as plain text",
            )
        messages = [{"role": "user", "content": config.prompt}]
        prompt: list[int] = list(
            tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        )
    else:
        prompt = list(tokenizer.encode(config.prompt))
    mx.random.seed(config.seed)
    pieces: list[str] = []
    prompt_tokens = generated = 0
    tps = peak = 0.0
    for response in stream_generate(
        loaded.model,
        tokenizer,
        prompt,
        max_tokens=config.max_tokens,
        sampler=make_sampler(temp=config.temperature),
    ):
        pieces.append(response.text)
        prompt_tokens, generated = response.prompt_tokens, response.generation_tokens
        tps, peak = response.generation_tps, response.peak_memory
    return GenerateReport(
        text="".join(pieces),
        prompt_tokens=prompt_tokens,
        generated_tokens=generated,
        metrics={"generation_tokens_per_sec": float(tps), "peak_memory_gb": float(peak)},
    )


# Registered after the definition so `generate` keeps its own signature for type checkers.
register("generate", config=GenerateConfig, report=GenerateReport)(generate)
