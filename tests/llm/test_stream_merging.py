"""Burst merging: Ollama chunks one network read brought together leave as fewer Dify chunks, with exactly the
text, think block, tool calls and final chunk that one Dify chunk per Ollama chunk would give."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from dify_plugin.entities.model.llm import LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import AssistantPromptMessage, UserPromptMessage

from models.llm.llm import OllamaLargeLanguageModel
from models.llm.stream import THINK_CLOSE, THINK_OPEN, StreamTranslator, ThinkingExhaustedError
from ollama_client import OllamaStreamError
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk
from tests.ollama_client.burst_server import burst_server

from .support import FIXTURES, fixture_chunks, plain_usage, text

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "qwen3"
GOOD_FIXTURES = sorted(
    path.name
    for path in FIXTURES.glob("*.ndjson")
    if not any(word in path.name for word in ("error", "no_done", "missing_done", "exhausted"))
)


def one_by_one(chunks: Iterable[dict[str, Any]], *, chat: bool = True, show_thinking: bool = True):
    translator = StreamTranslator(MODEL, plain_usage, chat=chat, show_thinking=show_thinking)
    out = [dify for chunk in chunks for dify in translator.feed(chunk)]
    translator.finish()
    return out


def merged(batches: Iterable[Sequence[dict[str, Any]]], *, chat: bool = True, show_thinking: bool = True):
    translator = StreamTranslator(MODEL, plain_usage, chat=chat, show_thinking=show_thinking)
    out = [dify for batch in batches for dify in translator.translate(batch)]
    translator.finish()
    return out


def calls(chunks: Sequence[LLMResultChunk]) -> list[tuple[str, str]]:
    """What a Dify agent collects (ids aside: Ollama < 0.12.10 sends none and fresh ones are random)."""
    return [(c.function.name, c.function.arguments) for chunk in chunks for c in chunk.delta.message.tool_calls]


def partitions(items: list[Any]) -> Iterable[list[list[Any]]]:
    """Every way to cut `items` into consecutive batches."""
    for mask in itertools.product((False, True), repeat=max(len(items) - 1, 0)):
        batches, current = [], [items[0]]
        for item, cut in zip(items[1:], mask, strict=True):
            if cut:
                batches.append(current)
                current = []
            current.append(item)
        yield [*batches, current]


@pytest.mark.parametrize("name", GOOD_FIXTURES)
@pytest.mark.parametrize("show_thinking", [True, False])
def test_merged_output_is_the_unmerged_output_joined_for_every_batching(name: str, show_thinking: bool):
    source = fixture_chunks(name)
    chat = "generate" not in name
    expected = one_by_one(source, chat=chat, show_thinking=show_thinking)
    for batches in partitions(source):
        out = merged(batches, chat=chat, show_thinking=show_thinking)
        assert text(out) == text(expected)
        assert calls(out) == calls(expected)
        final = out[-1].delta
        assert [c.delta.finish_reason is not None for c in out] == [False] * (len(out) - 1) + [True]
        assert (final.finish_reason, final.usage) == (expected[-1].delta.finish_reason, expected[-1].delta.usage)
        assert [c.delta.index for c in out] == list(range(len(out)))
        assert len(out) <= len(expected)


def test_a_burst_of_text_deltas_becomes_one_chunk():
    deltas = [chat_chunk(MODEL, f"word{i} ") for i in range(30)]
    out = merged([deltas, [chat_chunk(MODEL, done=True, eval_count=30)]])
    assert [c.delta.message.content for c in out] == ["".join(f"word{i} " for i in range(30)), ""]


def test_thinking_and_answer_in_one_burst_keep_one_well_formed_block():
    burst = [
        chat_chunk(MODEL, thinking="\n"),  # blank thinking opens nothing, merged or not
        chat_chunk(MODEL, thinking="Two plus"),
        chat_chunk(MODEL, thinking=" two."),
        chat_chunk(MODEL, "It is"),
        chat_chunk(MODEL, " 4."),
    ]
    out = merged([burst, [chat_chunk(MODEL, done=True)]])
    # Merged text between the tags; each tag a chunk of its own (Dify's Agent strategies match it exactly).
    assert [c.delta.message.content for c in out] == [THINK_OPEN, "Two plus two.", THINK_CLOSE, "It is 4.", ""]


def test_tool_calls_are_never_merged_into_text_and_come_exactly_once():
    call = {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    burst = [
        chat_chunk(MODEL, "Let me"),
        chat_chunk(MODEL, " check."),
        chat_chunk(MODEL, tool_calls=[call]),
        chat_chunk(MODEL, "Done"),
        chat_chunk(MODEL, "."),
        chat_chunk(MODEL, done=True),
    ]
    out = merged([burst])
    assert [(c.delta.message.content, len(c.delta.message.tool_calls)) for c in out] == [
        ("Let me check.", 0),
        ("", 1),
        ("Done.", 0),
        ("", 0),
    ]
    assert out[-1].delta.finish_reason == "tool_calls" and out[-1].delta.usage is not None


def test_the_final_chunk_is_never_merged_with_the_text_before_it():
    out = merged([[chat_chunk(MODEL, "a"), chat_chunk(MODEL, "b"), chat_chunk(MODEL, "!", done=True, eval_count=3)]])
    assert [(c.delta.message.content, c.delta.usage is not None) for c in out] == [("ab!", False), ("", True)]


def test_text_merged_before_a_failing_chunk_is_delivered_before_the_error():
    translator = StreamTranslator(MODEL, plain_usage)
    received = []
    burst = [chat_chunk(MODEL, thinking="Thinking"), chat_chunk(MODEL, thinking=" more")]
    with pytest.raises(ThinkingExhaustedError):
        for chunk in translator.translate([*burst, chat_chunk(MODEL, done=True, done_reason="length")]):
            received.append(chunk)
    assert [c.delta.message.content for c in received] == [THINK_OPEN, "Thinking more", THINK_CLOSE]

    translator = StreamTranslator(MODEL, plain_usage)
    received = []
    with pytest.raises(OllamaStreamError, match="after its final 'done' chunk"):
        for chunk in translator.translate(
            [chat_chunk(MODEL, "a"), chat_chunk(MODEL, done=True), chat_chunk(MODEL, "x")]
        ):
            received.append(chunk)
    assert [c.delta.message.content for c in received] == ["a", ""]


def test_the_usage_estimate_without_ollama_counts_is_the_same_merged_or_not():
    source = [chat_chunk(MODEL, piece) for piece in ("知识", "库 ", "is", " a", " café")] + [
        {"model": MODEL, "message": {"role": "assistant", "content": ""}, "done": True}
    ]
    assert merged([source])[-1].delta.usage == one_by_one(source)[-1].delta.usage


def test_text_chunks_are_built_exactly_like_the_sdk_constructors_would():
    [chunk, _] = merged([[chat_chunk(MODEL, "héllo")], [chat_chunk(MODEL, done=True)]])
    plain = LLMResultChunk(
        model=MODEL, delta=LLMResultChunkDelta(index=0, message=AssistantPromptMessage(content="héllo"))
    )
    assert chunk == plain
    assert chunk.model_dump() == plain.model_dump()
    assert chunk.model_dump_json() == plain.model_dump_json()


# --- through the model class, over real sockets -------------------------------------------------------


def invoke(url: str):
    llm = OllamaLargeLanguageModel(model_schemas=[])
    return llm.invoke(MODEL, {"base_url": url}, [UserPromptMessage(content="hi")], {}, None, None, True, "u")


def test_a_model_answer_already_on_the_wire_leaves_in_a_few_chunks_with_the_same_text():
    thinking = [chat_chunk(MODEL, thinking=f" t{i}") for i in range(100)]
    answer = [chat_chunk(MODEL, f" a{i}") for i in range(200)]
    done = chat_chunk(MODEL, done=True, prompt_eval_count=5, eval_count=300)
    with burst_server([*thinking, *answer, done]) as (url, _):
        out = list(invoke(url))
    expected = THINK_OPEN + "".join(f" t{i}" for i in range(100)) + THINK_CLOSE + "".join(f" a{i}" for i in range(200))
    assert text(out) == expected
    assert len(out) < 20  # 301 Ollama chunks, all buffered: merged into a handful
    assert out[-1].delta.usage.completion_tokens == 300


def test_a_chunk_that_arrives_alone_is_yielded_at_once(fake_ollama: FakeOllama):
    parts = [chat_chunk(MODEL, "first"), chat_chunk(MODEL, " second"), chat_chunk(MODEL, done=True)]
    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson(parts, part_delay=[0, 1.0, 0]))
    started = time.monotonic()
    stream = invoke(fake_ollama.url)
    first = next(stream)
    waited = time.monotonic() - started
    assert first.delta.message.content == "first"
    assert waited < 0.8, f"the first chunk waited {waited:.2f} s for data that came later"
    assert text([first, *stream]) == "first second"
