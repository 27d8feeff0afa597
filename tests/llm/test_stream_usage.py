"""The stream translator's final chunk: finish reasons, Ollama's token counts or an estimate, and a prompt
that filled the context window."""

from __future__ import annotations

import logging

import pytest
from dify_plugin.entities.model.llm import LLMUsage

from models.llm.stream import StreamTranslator, ThinkingExhaustedError

from .support import fixture_chunks, plain_usage, text, translate


def test_length_finish_reason_and_text_on_the_done_chunk() -> None:
    out = translate(fixture_chunks("llm_length_after_answer.ndjson"))

    assert text(out) == "<think>\nShort thought.\n</think>Once upon a"
    assert out[-2].delta.message.content == " a"
    assert out[-1].delta.finish_reason == "length"


def test_thinking_that_uses_up_the_budget_is_an_error_not_an_empty_answer() -> None:
    with pytest.raises(ThinkingExhaustedError, match="Raise Max Tokens"):
        translate(fixture_chunks("llm_thinking_exhausted.ndjson"))
    # ... also when the thinking itself is hidden (structured output).
    with pytest.raises(ThinkingExhaustedError):
        translate(fixture_chunks("llm_thinking_exhausted.ndjson"), show_thinking=False)


def test_usage_is_estimated_only_when_ollama_gives_no_counts() -> None:
    out = translate(fixture_chunks("llm_no_usage_counts.ndjson"), estimate_prompt_tokens=lambda: 42)

    usage = out[-1].delta.usage
    assert usage.prompt_tokens == 42
    # 5 CJK characters count as about one token each, " hello world" as ~3.
    assert 7 <= usage.completion_tokens <= 10


def test_prompt_estimate_is_not_computed_when_counts_are_present() -> None:
    def must_not_run() -> int:
        raise AssertionError("estimated although Ollama sent prompt_eval_count")

    out = translate(fixture_chunks("llm_thinking_answer.ndjson"), estimate_prompt_tokens=must_not_run)
    assert out[-1].delta.usage.prompt_tokens == 18


def test_usage_factory_is_called_once_with_ollamas_counts() -> None:
    calls: list[tuple[int, int]] = []

    def usage(prompt_tokens: int, completion_tokens: int) -> LLMUsage:
        calls.append((prompt_tokens, completion_tokens))
        return plain_usage(prompt_tokens, completion_tokens)

    translate(fixture_chunks("llm_tool_calls_with_ids.ndjson"), usage=usage)
    assert calls == [(201, 64)]


def test_a_prompt_that_fills_the_context_window_is_logged_as_probable_truncation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = {"message": {"content": "ok"}, "done": True, "prompt_eval_count": 4090, "eval_count": 2}
    with caplog.at_level(logging.WARNING):
        StreamTranslator("m", plain_usage, context_window=8192).feed(dict(done))
    assert "cut older messages" not in caplog.text
    with caplog.at_level(logging.WARNING):
        StreamTranslator("m", plain_usage, context_window=4096).feed(dict(done))
    assert "cut older messages" in caplog.text and "4090 of 4096" in caplog.text
