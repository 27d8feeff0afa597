"""The stream translator fed scripted Ollama chunks (no I/O): text, the thinking block, and broken streams.

Tool calls, usage and the non-streaming collector have files of their own (test_stream_*.py)."""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import pytest
from dify_plugin.entities.model.llm import LLMResultChunk

from models.llm.stream import THINK_CLOSE, THINK_OPEN, StreamTranslator
from ollama_client import OllamaStreamError, iter_ndjson
from tests.fake_ollama import SHARED_EXAMPLES_DIR

from .support import final_chunks, fixture_chunks, plain_usage, raw_lines, shared_json, text, translate

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
    lines = (SHARED_EXAMPLES_DIR / "streaming_mdx.generate.stream.ndjson").read_text().splitlines()
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


# --- broken streams -------------------------------------------------------------------------------


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
