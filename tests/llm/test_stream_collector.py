"""The non-streaming collector: one result with the same content, tool calls and usage as the stream."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from models.llm.stream import StreamTranslator, ThinkingExhaustedError, collect
from ollama_client import OllamaStreamError

from .support import agent_tool_calls, fixture_chunks, plain_usage, text, translate

STREAM_FIXTURES = [
    "chat_stream_hello.ndjson",
    "chat_stream_thinking.ndjson",
    "chat_stream_tool_calls_on_done.ndjson",
    "llm_thinking_answer.ndjson",
    "llm_tool_calls_with_ids.ndjson",
    "llm_tool_calls_on_done.ndjson",
    "llm_content_after_tool_calls.ndjson",
    "llm_old_server_no_ids.ndjson",
    "llm_length_after_answer.ndjson",
]


@pytest.mark.parametrize("name", STREAM_FIXTURES)
@pytest.mark.parametrize("show_thinking", [True, False])
def test_collected_result_has_the_same_content_calls_and_usage_as_the_stream(name: str, show_thinking: bool) -> None:
    streamed = translate(fixture_chunks(name), show_thinking=show_thinking)
    result = collect_all(fixture_chunks(name), show_thinking=show_thinking)

    assert result.message.content == text(streamed)
    streamed_calls = agent_tool_calls(streamed)
    assert [(c.function.name, c.function.arguments) for c in result.message.tool_calls] == [
        (c.function.name, c.function.arguments) for c in streamed_calls
    ]
    # Ollama's ids survive; generated ones are unique.
    assert len({c.id for c in result.message.tool_calls}) == len(result.message.tool_calls)
    assert result.usage.prompt_tokens == streamed[-1].delta.usage.prompt_tokens
    assert result.usage.completion_tokens == streamed[-1].delta.usage.completion_tokens


def collect_all(chunks: Iterable[dict[str, Any]], *, chat: bool = True, show_thinking: bool = True) -> Any:
    return collect(chunks, StreamTranslator("m", plain_usage, chat=chat, show_thinking=show_thinking))


def test_collector_leaves_late_thinking_out_like_the_stream() -> None:
    chunks = [
        {"message": {"content": "", "thinking": "First."}, "done": False},
        {"message": {"content": "Answer"}, "done": False},
        {"message": {"content": "", "thinking": " Afterthought."}, "done": False},
        {"message": {"content": ""}, "done": True},
    ]
    result = collect_all(chunks)

    assert result.message.content == "<think>\nFirst.\n</think>Answer"


def test_collector_generate_mode_and_errors() -> None:
    result = collect_all(fixture_chunks("llm_generate_thinking.ndjson"), chat=False)
    assert result.message.content == "<think>\nA haiku needs 5-7-5.\n</think>Autumn moonlight falls"

    with pytest.raises(OllamaStreamError, match="without its final 'done' chunk"):
        collect_all(fixture_chunks("llm_missing_done.ndjson"))
    with pytest.raises(ThinkingExhaustedError):
        collect_all(fixture_chunks("llm_thinking_exhausted.ndjson"))
    with pytest.raises(OllamaStreamError, match="after its final"):
        collect_all([{"message": {"content": "a"}, "done": True}, {"message": {"content": "b"}}])
