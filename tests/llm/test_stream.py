"""The stream translator: every state change, fed scripted Ollama chunks (no I/O)."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from dify_plugin.entities.model.llm import LLMResultChunk, LLMUsage

from models.llm.stream import THINK_CLOSE, THINK_OPEN, StreamTranslator, ThinkingExhaustedError, collect
from ollama_client import OllamaStreamError, iter_ndjson

from .support import FIXTURES, fixture_chunks, plain_usage

SHARED = Path(__file__).resolve().parents[3] / "shared" / "ollama-examples"


def translate(
    chunks: Iterable[dict[str, Any]],
    *,
    chat: bool = True,
    show_thinking: bool = True,
    usage: Callable[[int, int], LLMUsage] = plain_usage,
    estimate_prompt_tokens: Callable[[], int] = lambda: 0,
) -> list[LLMResultChunk]:
    translator = StreamTranslator(
        "qwen3", usage, chat=chat, show_thinking=show_thinking, estimate_prompt_tokens=estimate_prompt_tokens
    )
    out = [dify for chunk in chunks for dify in translator.feed(chunk)]
    translator.finish()
    return out


def text(chunks: list[LLMResultChunk]) -> str:
    return "".join(chunk.delta.message.content for chunk in chunks)


def agent_tool_calls(chunks: list[LLMResultChunk]) -> list[Any]:
    """What a Dify agent collects: it extends its list with every chunk's tool calls."""
    calls: list[Any] = []
    for chunk in chunks:
        calls.extend(chunk.delta.message.tool_calls)
    return calls


def final_chunks(chunks: list[LLMResultChunk]) -> list[LLMResultChunk]:
    return [chunk for chunk in chunks if chunk.delta.finish_reason is not None]


def shared_json(name: str) -> dict[str, Any]:
    return json.loads((SHARED / name).read_text(encoding="utf-8"))


# --- plain text -----------------------------------------------------------------------------------


def test_text_deltas_pass_through_unchanged_one_dify_chunk_per_ollama_chunk() -> None:
    source = fixture_chunks("chat_stream_hello.ndjson")
    out = translate(source)

    assert [c.delta.message.content for c in out] == ["Hello", "!", " How can I help you today?", ""]
    assert [c.delta.index for c in out] == [0, 1, 2, 3]
    assert all(c.model == "qwen3" and c.delta.message.tool_calls == [] for c in out)


def test_exactly_one_final_chunk_with_finish_reason_and_ollama_usage() -> None:
    out = translate(fixture_chunks("chat_stream_hello.ndjson"))

    [final] = final_chunks(out)
    assert final is out[-1]
    assert final.delta.finish_reason == "stop"
    assert (final.delta.usage.prompt_tokens, final.delta.usage.completion_tokens) == (26, 9)
    assert all(c.delta.usage is None for c in out[:-1])


def test_upstream_chat_stream_example_without_done_reason() -> None:
    chunks = [shared_json("api_md.chat.stream.first_chunk.json"), shared_json("api_md.chat.stream.final_chunk.json")]
    out = translate(chunks)

    assert text(out) == "The"
    assert out[-1].delta.finish_reason == "stop"
    assert out[-1].delta.usage.completion_tokens == 282


def test_final_chunk_without_message_key_is_tolerated() -> None:
    chunks = [
        shared_json("api_md.chat.history.stream.first_chunk.json"),
        shared_json("api_md.chat.history.stream.final_chunk.json"),
    ]
    out = translate(chunks)

    assert out[-1].delta.message.content == ""
    assert out[-1].delta.usage.prompt_tokens == 61


def test_generate_stream_text_on_the_done_chunk_is_kept() -> None:
    lines = (SHARED / "streaming_mdx.generate.stream.ndjson").read_text().splitlines()
    out = translate([json.loads(line) for line in lines], chat=False)

    assert text(out) == "That's a fantastic question!"
    assert out[-2].delta.message.content == "!"  # the text on the done chunk leaves just before the final chunk
    assert (out[-1].delta.message.content, out[-1].delta.finish_reason) == ("", "stop")


def test_empty_chunks_produce_nothing() -> None:
    translator = StreamTranslator("m", plain_usage)
    assert translator.feed({"message": {"role": "assistant", "content": ""}, "done": False}) == []
    assert translator.feed({"message": {"role": "assistant", "content": "", "thinking": ""}, "done": False}) == []
    assert translator.feed({"message": {"role": "assistant", "content": "", "tool_calls": []}, "done": False}) == []
    assert translator.feed({"message": {"role": "assistant", "content": None, "tool_calls": None}}) == []


# --- thinking -------------------------------------------------------------------------------------


def test_thinking_becomes_one_block_before_the_answer() -> None:
    out = translate(fixture_chunks("llm_thinking_answer.ndjson"))

    assert text(out) == "<think>\nThe user asks for 2+2. That is 4.\n\n</think>2 + 2 = 4."
    # The blank first thinking chunk opens nothing; each tag is a chunk of its own.
    assert [c.delta.message.content for c in out[:5]] == [
        "<think>\n",
        "The user asks for 2+2.",
        " That is 4.",
        "\n",
        "\n</think>",
    ]
    assert out[5].delta.message.content == "2 + 2"


def test_chunk_carrying_both_thinking_and_content_closes_the_block_in_between() -> None:
    out = translate(
        [
            {"message": {"content": "", "thinking": "Plan."}, "done": False},
            {"message": {"content": "Answer", "thinking": " Done planning."}, "done": False},
            {"message": {"content": ""}, "done": True, "done_reason": "stop"},
        ]
    )

    assert [c.delta.message.content for c in out[2:5]] == [" Done planning.", "\n</think>", "Answer"]
    assert text(out) == "<think>\nPlan. Done planning.\n</think>Answer"


def test_first_chunk_with_thinking_and_content_opens_and_closes_in_one_chunk() -> None:
    out = translate(
        [
            {"message": {"content": "Hi", "thinking": "Greet."}, "done": False},
            {"message": {"content": ""}, "done": True},
        ]
    )

    assert [c.delta.message.content for c in out[:4]] == ["<think>\n", "Greet.", "\n</think>", "Hi"]


def test_thinking_is_closed_at_the_end_when_no_answer_follows() -> None:
    out = translate(
        [
            {"message": {"content": "", "thinking": "Only thoughts."}, "done": False},
            {"message": {"content": ""}, "done": True, "done_reason": "stop"},
        ]
    )

    assert text(out) == "<think>\nOnly thoughts.\n</think>"
    assert out[-1].delta.finish_reason == "stop"


def test_upstream_shared_thinking_fixture() -> None:
    out = translate(fixture_chunks("chat_stream_thinking.ndjson"))

    assert text(out) == "<think>\nThe user greets me. A short friendly reply fits.\n\n</think>Hi there!"


def test_thinking_hidden_for_structured_output_leaves_only_the_json() -> None:
    out = translate(fixture_chunks("llm_structured_output.ndjson"), show_thinking=False)

    assert json.loads(text(out)) == {"name": "Ada", "age": 36}
    assert "<think>" not in text(out)


def test_late_thinking_after_the_answer_started_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    chunks = [
        {"message": {"content": "", "thinking": "First."}, "done": False},
        {"message": {"content": "Answer"}, "done": False},
        {"message": {"content": "", "thinking": "Afterthought."}, "done": False},
        {"message": {"content": " more"}, "done": False},
        {"message": {"content": ""}, "done": True},
    ]
    with caplog.at_level(logging.WARNING):
        out = translate(chunks)

    assert text(out) == "<think>\nFirst.\n</think>Answer more"
    assert "after its answer had started" in caplog.text


def test_generate_thinking_uses_top_level_fields() -> None:
    out = translate(fixture_chunks("llm_generate_thinking.ndjson"), chat=False)

    assert text(out) == "<think>\nA haiku needs 5-7-5.\n</think>Autumn moonlight falls"
    assert (out[-1].delta.usage.prompt_tokens, out[-1].delta.usage.completion_tokens) == (22, 31)


CHUNK_KINDS: dict[str, dict[str, Any]] = {
    "think": {"content": "", "thinking": "t"},
    "blank_think": {"content": "", "thinking": "\n"},
    "text": {"content": "x"},
    "both": {"content": "y", "thinking": "u"},
    "call": {"content": "", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
    "empty": {"content": ""},
}


@pytest.mark.parametrize("show_thinking", [True, False])
def test_every_sequence_yields_at_most_one_well_formed_block_in_front(show_thinking: bool) -> None:
    """Exhaustive over all chunk sequences of length <= 3 (then the done chunk, which may also carry anything)."""
    kinds = list(CHUNK_KINDS)
    for length in range(4):
        for sequence in itertools.product(kinds, repeat=length):
            for last in kinds:
                chunks = [{"message": dict(CHUNK_KINDS[k]), "done": False} for k in sequence]
                chunks.append({"message": dict(CHUNK_KINDS[last]), "done": True, "done_reason": "stop"})
                out = translate(chunks, show_thinking=show_thinking)
                whole = text(out)
                label = (*sequence, last)
                assert whole.count(THINK_OPEN.strip()) == whole.count(THINK_CLOSE.strip()) <= 1, label
                if not show_thinking:
                    assert "<think>" not in whole, label
                if "<think>" in whole:
                    assert whole.startswith(THINK_OPEN), label
                    before_close = whole[: whole.index(THINK_CLOSE)]
                    assert "x" not in before_close and "y" not in before_close, label
                    # The block is closed no later than the chunk with the first tool call.
                    first_call = next((i for i, c in enumerate(out) if c.delta.message.tool_calls), None)
                    if first_call is not None:
                        assert THINK_CLOSE in text(out[: first_call + 1]), label
                # Each think tag is a chunk of its own; tool calls travel in chunks with no text.
                for chunk in out:
                    content = chunk.delta.message.content
                    if "<think>" in content or "</think>" in content:
                        assert content in (THINK_OPEN, THINK_CLOSE), label
                    if chunk.delta.message.tool_calls:
                        assert content == "", label
                assert len(final_chunks(out)) == 1, label


# --- tool calls -----------------------------------------------------------------------------------


def test_tool_calls_with_ids_are_emitted_once_each_with_ollamas_ids() -> None:
    out = translate(fixture_chunks("llm_tool_calls_with_ids.ndjson"))

    calls = agent_tool_calls(out)
    assert [c.id for c in calls] == ["call_p1q2r3s4", "call_t5u6v7w8"]
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"city": "Paris", "unit": "celsius"},
        {"city": "Tokyo", "unit": "celsius"},
    ]
    assert all(c.type == "function" and c.function.name == "get_weather" for c in calls)
    # Thinking is closed in a chunk of its own just before the chunk that carries the first call.
    assert (out[2].delta.message.content, out[2].delta.message.tool_calls) == (THINK_CLOSE, [])
    assert out[3].delta.message.tool_calls[0].id == "call_p1q2r3s4"
    [final] = final_chunks(out)
    assert final.delta.finish_reason == "tool_calls"
    assert final.delta.message.tool_calls == []


def test_tool_calls_on_the_done_chunk_are_emitted_in_the_final_chunk() -> None:
    out = translate(fixture_chunks("llm_tool_calls_on_done.ndjson"))

    [final] = final_chunks(out)
    assert final is out[-1]
    assert [c.id for c in final.delta.message.tool_calls] == ["call_b3r1in00"]
    assert json.loads(final.delta.message.tool_calls[0].function.arguments) == {"city": "Berlin"}
    assert final.delta.message.content == ""
    assert out[-2].delta.message.content == THINK_CLOSE
    assert final.delta.finish_reason == "tool_calls"
    assert final.delta.usage.prompt_tokens == 150
    assert len(agent_tool_calls(out)) == 1


def test_shared_fixture_with_two_calls_on_done() -> None:
    out = translate(fixture_chunks("chat_stream_tool_calls_on_done.ndjson"))

    assert text(out) == "Let me check both cities."
    assert [c.id for c in agent_tool_calls(out)] == ["call_p1q2r3s4", "call_t5u6v7w8"]


def test_text_before_between_and_after_tool_calls_is_kept_in_order() -> None:
    out = translate(fixture_chunks("llm_content_after_tool_calls.ndjson"))

    assert text(out) == "Let me check. Then I answer."
    assert [c.delta.message.content for c in out[:5]] == ["Let me", " check.", "", " Then", " I answer."]
    assert [c.function.name for c in out[2].delta.message.tool_calls] == ["get_time"]
    assert json.loads(out[2].delta.message.tool_calls[0].function.arguments) == {}
    assert out[-1].delta.finish_reason == "tool_calls"


def test_old_server_calls_without_ids_or_indexes_get_unique_generated_ids() -> None:
    out = translate(fixture_chunks("llm_old_server_no_ids.ndjson"))

    calls = agent_tool_calls(out)
    assert [c.function.name for c in calls] == ["get_weather", "get_weather", "get_time"]
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"city": "London"}, {"zone": "UTC"}]
    ids = [c.id for c in calls]
    assert len(set(ids)) == 3
    assert all(i.startswith("call_") and i not in ("get_weather", "get_time") for i in ids)


def test_parallel_calls_to_the_same_function_never_share_an_id() -> None:
    out = translate(fixture_chunks("llm_parallel_same_function.ndjson"))

    calls = agent_tool_calls(out)
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "London"]
    assert calls[0].id != calls[1].id


def test_ids_are_fresh_for_each_response() -> None:
    first = agent_tool_calls(translate(fixture_chunks("llm_parallel_same_function.ndjson")))
    second = agent_tool_calls(translate(fixture_chunks("llm_parallel_same_function.ndjson")))

    assert {c.id for c in first}.isdisjoint({c.id for c in second})


def test_a_repeated_ollama_id_is_replaced_so_ids_stay_unique() -> None:
    call = {"id": "call_0", "function": {"name": "f", "arguments": {"n": 1}}}
    out = translate(
        [
            {"message": {"content": "", "tool_calls": [call]}, "done": False},
            {"message": {"content": "", "tool_calls": [call]}, "done": True},
        ]
    )

    ids = [c.id for c in agent_tool_calls(out)]
    assert ids[0] == "call_0" and ids[1] != "call_0"


def test_upstream_streamed_tool_call_example() -> None:
    chunks = [
        shared_json("api_md.chat.stream_tools.tool_call_chunk.json"),
        shared_json("api_md.chat.stream_tools.final_chunk.json"),
    ]
    out = translate(chunks)

    [call] = agent_tool_calls(out)
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Tokyo"}
    assert call.id.startswith("call_")
    assert out[-1].delta.finish_reason == "tool_calls"


# --- finish reasons and usage ---------------------------------------------------------------------


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


# --- broken streams -------------------------------------------------------------------------------


def raw_lines(name: str) -> list[bytes]:
    return [line + b"\n" for line in (FIXTURES / name).read_bytes().splitlines() if line.strip()]


def test_midstream_error_line_raises_after_the_partial_output_and_no_final_chunk() -> None:
    translator = StreamTranslator("qwen3", plain_usage)
    emitted: list[LLMResultChunk] = []
    with pytest.raises(OllamaStreamError, match="CUDA error: out of memory"):
        for chunk in iter_ndjson(raw_lines("llm_midstream_error.ndjson"), source="Ollama"):
            emitted.extend(translator.feed(chunk))
    assert text(emitted) == "<think>\nLet me think\n</think>The answer"
    assert final_chunks(emitted) == []


def test_stream_cut_before_done_is_an_error_even_if_the_reader_missed_it() -> None:
    translator = StreamTranslator("qwen3", plain_usage)
    for chunk in fixture_chunks("llm_missing_done.ndjson"):
        translator.feed(chunk)
    with pytest.raises(OllamaStreamError, match="without its final 'done' chunk"):
        translator.finish()
    # The client's NDJSON reader reports it too.
    with pytest.raises(OllamaStreamError, match="without its final 'done' chunk"):
        list(iter_ndjson(raw_lines("llm_missing_done.ndjson"), source="Ollama"))


def test_non_json_line_is_an_error() -> None:
    lines = [*raw_lines("chat_stream_hello.ndjson")[:2], b"<html>502 Bad Gateway</html>\n"]
    with pytest.raises(OllamaStreamError, match="not JSON"):
        list(iter_ndjson(lines, source="Ollama"))


def test_data_after_the_done_chunk_is_an_error() -> None:
    translator = StreamTranslator("m", plain_usage)
    translator.feed({"message": {"content": "a"}, "done": True})
    with pytest.raises(OllamaStreamError, match="after its final"):
        translator.feed({"message": {"content": "b"}, "done": False})


# --- non-streaming collector ----------------------------------------------------------------------

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
