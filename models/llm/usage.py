"""The final chunk's bookkeeping: finish reason, token usage (Ollama's counts when believable), warnings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from models.llm.tokens import estimate_texts_tokens
from ollama_client.wire import token_count

logger = logging.getLogger(__name__)

PromptTokenEstimate = Callable[[], int]
CONTEXT_FULL_RATIO = 0.95


def finish_reason(done_reason: Any, made_tool_calls: bool) -> str:
    """Dify's finish reason: `tool_calls` when calls were made, `length` when cut by a limit, else `stop`."""
    if made_tool_calls:
        return "tool_calls"
    if done_reason == "length":
        return "length"
    return "stop"


def reported_count(value: Any) -> int | None:
    """A token count Ollama reported, or None when absent or not believable (logged)."""
    count = token_count(value)
    if count is None and value is not None:
        logger.warning("Ollama reported an implausible token count (%.40r); estimating instead", value)
    return count


def usage_counts(
    done_chunk: Mapping[str, Any], estimate_prompt: PromptTokenEstimate, generated: Iterable[str]
) -> tuple[int, int]:
    prompt_tokens = reported_count(done_chunk.get("prompt_eval_count"))
    completion_tokens = reported_count(done_chunk.get("eval_count"))
    if not prompt_tokens:
        # 0 or absent on a full prompt-cache hit; the prompt still occupied the context.
        prompt_tokens = estimate_prompt()
    if completion_tokens is None:
        completion_tokens = estimate_texts_tokens(generated)
    return prompt_tokens, completion_tokens


def warn_if_context_full(done_chunk: Mapping[str, Any], context_window: int | None, model: str) -> None:
    """Ollama drops the oldest messages to fit num_ctx without saying so; a prompt that fills the
    window is the visible trace of that."""
    prompt_tokens = token_count(done_chunk.get("prompt_eval_count"))
    if context_window and prompt_tokens and prompt_tokens >= CONTEXT_FULL_RATIO * context_window:
        logger.warning(
            "model %s: the prompt took %d of %d context tokens; Ollama has probably cut older messages. "
            "Raise 'Model context size' (num_ctx) if answers miss earlier context.",
            model,
            prompt_tokens,
            context_window,
        )


def exhausted_message(done_chunk: Mapping[str, Any]) -> str:
    spent = token_count(done_chunk.get("eval_count"))
    spent_text = f" ({spent} tokens)" if spent is not None else ""
    return (
        f"The model used its whole output budget{spent_text} on thinking and wrote no answer "
        "(Ollama stopped with done_reason 'length'). Raise Max Tokens, raise the context size, or turn "
        "thinking off / choose a lower think level."
    )
