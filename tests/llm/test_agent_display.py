"""What Dify's Agent strategies show of the plugin's real output when a thinking model calls tools.

The two display rules are re-stated here from dify-official-plugins (agent-strategies/cot_agent):
* function calling (`strategies/function_calling.py`, `_get_streaming_content_state`): once a chunk carried
  tool calls, content is hidden, except a chunk whose stripped text is exactly `</think>` while thinking is
  open; thinking counts as open only after a chunk whose stripped text is exactly `<think>`.
* ReAct (`output_parser/cot_output_parser.py`): a think tag is recognised only where a chunk contains it
  whole (`"<think>" in chunk`); the block is cut out of what the parser reads.
A think block the user sees opened must be closed, in every batching and with calls on the `done` chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from dify_plugin.entities.model.llm import LLMResultChunk
from dify_plugin.entities.model.message import UserPromptMessage

from models.llm.llm import OllamaLargeLanguageModel
from models.llm.stream import StreamTranslator, collect
from tests.fake_ollama import chat_chunk
from tests.ollama_client.burst_server import burst_server

from .support import fixture_chunks, plain_usage

MODEL = "qwen3"
CALL = {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}


def function_calling_view(chunks: Iterable[LLMResultChunk], *, last_round: bool = False) -> str:
    """The text the function-calling strategy streams to the user in one round."""
    shown: list[str] = []
    function_call_state = False
    thinking_started = False
    for chunk in chunks:
        if chunk.delta.message.tool_calls:
            function_call_state = True
        content = chunk.delta.message.content
        if not content:
            continue
        stripped = content.strip()
        if not function_call_state or last_round or (thinking_started and stripped == "</think>"):
            if stripped == "<think>":
                thinking_started = True
            elif stripped == "</think>":
                thinking_started = False
            shown.append(content)
    return "".join(shown)


def react_view(chunks: Iterable[LLMResultChunk]) -> str:
    """What the ReAct parser reads after cutting think blocks, recognising only tags whole in one chunk."""
    seen: list[str] = []
    in_think = False
    for chunk in chunks:
        content = chunk.delta.message.content
        if "<think>" in content:
            before, _, content = content.partition("<think>")
            seen.append(before)
            in_think = True
        if in_think and "</think>" in content:
            _, _, content = content.partition("</think>")
            in_think = False
        if not in_think:
            seen.append(content)
    return "".join(seen)


def translate(batches: Sequence[Sequence[dict[str, Any]]]) -> list[LLMResultChunk]:
    translator = StreamTranslator(MODEL, plain_usage)
    out = [dify for batch in batches for dify in translator.translate(batch)]
    translator.finish()
    return out


def paced(chunks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [[chunk] for chunk in chunks]


def burst(chunks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [chunks]


THINKING = [chat_chunk(MODEL, thinking="The user wants"), chat_chunk(MODEL, thinking=" the weather.")]
SCENARIOS = {
    "thinking then tool call": [*THINKING, chat_chunk(MODEL, tool_calls=[CALL]), chat_chunk(MODEL, done=True)],
    "thinking then call on done": [*THINKING, chat_chunk(MODEL, tool_calls=[CALL], done=True)],
    "thinking and call in one chunk": [
        chat_chunk(MODEL, thinking="Weather, so a tool.", tool_calls=[CALL]),
        chat_chunk(MODEL, done=True),
    ],
    "thinking, text and call in one chunk": [
        *THINKING,
        chat_chunk(MODEL, "Let me look.", tool_calls=[CALL]),
        chat_chunk(MODEL, done=True),
    ],
    "thinking then answer": [*THINKING, chat_chunk(MODEL, "It is sunny."), chat_chunk(MODEL, done=True)],
    "recorded: calls with ids": fixture_chunks("llm_tool_calls_with_ids.ndjson"),
    "recorded: call on done": fixture_chunks("llm_tool_calls_on_done.ndjson"),
}


@pytest.mark.parametrize("batching", [paced, burst], ids=["paced", "burst"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_the_function_calling_agent_shows_a_closed_think_block(name: str, batching: Any) -> None:
    shown = function_calling_view(translate(batching(SCENARIOS[name])))

    assert shown.startswith("<think>\n")
    assert shown.count("<think>") == shown.count("</think>") == 1


@pytest.mark.parametrize("batching", [paced, burst], ids=["paced", "burst"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_the_react_agent_sees_no_thinking(name: str, batching: Any) -> None:
    out = translate(batching(SCENARIOS[name]))
    seen = react_view(out)

    assert "think" not in seen and "user wants" not in seen and "tool." not in seen
    assert "".join(c.delta.message.content for c in out).count("</think>") == 1


def test_blocking_answer_keeps_the_block_whole_for_the_agent() -> None:
    result = collect(SCENARIOS["thinking then call on done"], StreamTranslator(MODEL, plain_usage))
    assert result.message.content == "<think>\nThe user wants the weather.\n</think>"
    assert [call.function.name for call in result.message.tool_calls] == ["get_weather"]


@pytest.mark.usefixtures("fresh_caches")
@pytest.mark.parametrize("name", ["thinking then tool call", "thinking then call on done"])
def test_through_the_model_class_over_a_socket(name: str) -> None:
    """The plugin's own output, read in one burst from a real socket, as the Agent node receives it."""
    with burst_server(SCENARIOS[name]) as (url, _):
        llm = OllamaLargeLanguageModel(model_schemas=[])
        out = list(
            llm.invoke(MODEL, {"base_url": url}, [UserPromptMessage(content="weather?")], {}, None, None, True, "u")
        )
    shown = function_calling_view(out)
    assert shown == "<think>\nThe user wants the weather.\n</think>"
    assert [call.function.name for chunk in out for call in chunk.delta.message.tool_calls] == ["get_weather"]
