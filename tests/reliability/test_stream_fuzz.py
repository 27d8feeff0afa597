"""Property-based fuzzing of the stream translator (models/llm/stream.py) and the NDJSON reader under it.

Hypothesis builds Ollama streams with thinking, answer text and tool calls interleaved and split across chunks in
any way, tool calls with or without ids and indexes, and anything on the final `done` chunk; the translator gets
them one by one or in batches (what one network read completes). Deterministic (derandomize) and bounded, so the
suite stays fast and a failure reproduces on every run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dify_plugin.entities.model.llm import LLMResultChunk, LLMUsage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.llm.stream import THINK_CLOSE, THINK_OPEN, StreamTranslator, ThinkingExhaustedError, collect
from ollama_client import iter_ndjson
from tests.llm.support import plain_usage

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROMPT_ESTIMATE = 7

# No '<' or '>': the model's own text then cannot look like a <think> tag, so tag counts are meaningful.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"),
    max_size=6,
)
BLANK = st.sampled_from(["", " ", "\n", "\n\n", "\t "])
ARGUMENTS = st.dictionaries(
    st.text(min_size=1, max_size=4),
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4) | st.lists(st.integers(0, 3), max_size=2),
    max_size=3,
)
# A few ids so that repeats (which the translator must replace) happen often.
CALL_ID = st.none() | st.sampled_from(["", "call_a", "call_b", "call_c"])


@st.composite
def tool_calls(draw: st.DrawFn) -> list[dict[str, Any]]:
    calls = []
    for _ in range(draw(st.integers(0, 2))):
        function: dict[str, Any] = {"name": draw(st.sampled_from(["get_weather", "search", "f"]))}
        if draw(st.booleans()):
            function["index"] = draw(st.integers(0, 3))
        function["arguments"] = draw(ARGUMENTS)
        call: dict[str, Any] = {"function": function}
        call_id = draw(CALL_ID)
        if call_id is not None:
            call["id"] = call_id
        calls.append(call)
    return calls


@dataclass(frozen=True)
class Piece:
    """What one Ollama chunk carries (None: the field is absent)."""

    thinking: str | None
    content: str | None
    calls: list[dict[str, Any]]


@st.composite
def pieces(draw: st.DrawFn, chat: bool) -> Piece:
    thinking = draw(st.none() | TEXT | BLANK)
    content = draw(st.none() | TEXT)
    calls = draw(tool_calls()) if chat else []
    return Piece(thinking, content, calls)


@dataclass(frozen=True)
class Stream:
    chat: bool
    show_thinking: bool
    body: list[Piece]
    final: Piece
    done_reason: str
    counts: tuple[int | None, int | None]

    @property
    def all_pieces(self) -> list[Piece]:
        return [*self.body, self.final]

    def chunks(self) -> list[dict[str, Any]]:
        out = [self._chunk(piece, done=False) for piece in self.body]
        final = self._chunk(self.final, done=True)
        final["done_reason"] = self.done_reason
        prompt_count, eval_count = self.counts
        if prompt_count is not None:
            final["prompt_eval_count"] = prompt_count
        if eval_count is not None:
            final["eval_count"] = eval_count
        return [*out, final]

    def _chunk(self, piece: Piece, *, done: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if piece.content is not None:
            fields["content" if self.chat else "response"] = piece.content
        if piece.thinking is not None:
            fields["thinking"] = piece.thinking
        if piece.calls:
            fields["tool_calls"] = piece.calls
        if self.chat:
            return {"model": "m", "message": {"role": "assistant", **fields}, "done": done}
        return {"model": "m", **fields, "done": done}


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    chat = draw(st.booleans())
    return Stream(
        chat=chat,
        show_thinking=draw(st.booleans()),
        body=draw(st.lists(pieces(chat), max_size=10)),
        final=draw(pieces(chat)),
        done_reason=draw(st.sampled_from(["stop", "stop", "length"])),
        counts=(draw(st.none() | st.integers(1, 10_000)), draw(st.none() | st.integers(0, 10_000))),
    )


# --- what the user must see, computed independently of the translator ----------------------------------


def answer_text(stream: Stream) -> str:
    return "".join(piece.content or "" for piece in stream.all_pieces)


def expected_calls(stream: Stream) -> list[dict[str, Any]]:
    return [call for piece in stream.all_pieces for call in piece.calls]


def answer_started_at(stream: Stream) -> int | None:
    """Index of the first chunk with answer text or a tool call."""
    return next((i for i, piece in enumerate(stream.all_pieces) if piece.content or piece.calls), None)


def streamed_thinking(stream: Stream) -> str:
    """Thinking that can still go in front of the answer: chunks up to the one where the answer starts (a chunk's
    thinking comes before its text), without the blank pieces before the first real one."""
    start = answer_started_at(stream)
    eligible = stream.all_pieces if start is None else stream.all_pieces[: start + 1]
    return _from_first_real(piece.thinking for piece in eligible)


def _from_first_real(thinking: Any) -> str:
    parts: list[str] = []
    for text in thinking:
        if text and (parts or text.strip()):
            parts.append(text)
    return "".join(parts)


def thinking_exhausts_budget(stream: Stream) -> bool:
    thought = any(piece.thinking and piece.thinking.strip() for piece in stream.all_pieces)
    return stream.done_reason == "length" and thought and answer_started_at(stream) is None


def with_block(thinking: str, answer: str, show: bool) -> str:
    return THINK_OPEN + thinking + THINK_CLOSE + answer if show and thinking else answer


def check_tool_calls(emitted: list[Any], stream: Stream) -> None:
    """Every call exactly once, in order, with its arguments; ids unique, Ollama's kept unless repeated."""
    raw_calls = expected_calls(stream)
    assert [(call.function.name, json.loads(call.function.arguments)) for call in emitted] == [
        (raw["function"]["name"], raw["function"]["arguments"]) for raw in raw_calls
    ]
    ids = [call.id for call in emitted]
    assert len(set(ids)) == len(ids) and all(ids)
    used: set[str] = set()
    for call_id, raw in zip(ids, raw_calls, strict=True):
        proposed = raw.get("id")
        if proposed and proposed not in used:
            assert call_id == proposed
        used.add(call_id)


def check_usage(usage: LLMUsage, stream: Stream) -> None:
    prompt_count, eval_count = stream.counts
    assert usage.prompt_tokens == (prompt_count if prompt_count is not None else PROMPT_ESTIMATE)
    if eval_count is not None:
        assert usage.completion_tokens == eval_count
    assert usage.completion_tokens >= 0


# --- properties -------------------------------------------------------------------------------------------


def split(items: list[Any], cuts: list[int]) -> list[list[Any]]:
    points = sorted({cut % (len(items) + 1) for cut in cuts})
    return [items[start:end] for start, end in zip([0, *points], [*points, len(items)], strict=True)]


def translator_for(stream: Stream) -> StreamTranslator:
    return StreamTranslator(
        "m",
        plain_usage,
        chat=stream.chat,
        show_thinking=stream.show_thinking,
        estimate_prompt_tokens=lambda: PROMPT_ESTIMATE,
    )


def translate(stream: Stream, batch_cuts: list[int] | None) -> list[LLMResultChunk]:
    """Chunk by chunk (`feed`), or in batches as network reads deliver them (`translate`, what the plugin uses)."""
    translator = translator_for(stream)
    if batch_cuts is None:
        out = [dify for chunk in stream.chunks() for dify in translator.feed(chunk)]
    else:
        out = [dify for batch in split(stream.chunks(), batch_cuts) for dify in translator.translate(batch)]
    translator.finish()
    return out


@FUZZ
@given(streams(), st.none() | st.lists(st.integers(0, 100), max_size=6))
def test_stream_translator_invariants(stream: Stream, batch_cuts: list[int] | None) -> None:
    if thinking_exhausts_budget(stream):
        try:
            translate(stream, batch_cuts)
        except ThinkingExhaustedError:
            return
        raise AssertionError("a thinking-only answer cut by the token limit must be an error, not an empty answer")

    out = translate(stream, batch_cuts)

    text = "".join(chunk.delta.message.content for chunk in out)
    # The emitted text is the input text: answer text unchanged, thinking (if shown) in one block in front.
    assert text == with_block(streamed_thinking(stream), answer_text(stream), stream.show_thinking)
    assert text.count("<think>") == text.count("</think>") <= 1
    if "<think>" in text:
        assert text.startswith(THINK_OPEN)
    check_tool_calls([call for chunk in out for call in chunk.delta.message.tool_calls], stream)
    # Exactly one final chunk, the last one, with finish reason and usage; no other chunk carries either.
    assert [chunk.delta.finish_reason is not None for chunk in out] == [False] * (len(out) - 1) + [True]
    assert all(chunk.delta.usage is None for chunk in out[:-1])
    final = out[-1].delta
    assert final.finish_reason == (
        "tool_calls" if expected_calls(stream) else "length" if stream.done_reason == "length" else "stop"
    )
    check_usage(final.usage, stream)
    assert [chunk.delta.index for chunk in out] == list(range(len(out)))
    for chunk in out:
        content = chunk.delta.message.content
        if "<think>" in content or "</think>" in content:  # Agent strategies match the tags only as whole chunks
            assert content in (THINK_OPEN, THINK_CLOSE)
        if chunk.delta.message.tool_calls:
            assert content == ""


@FUZZ
@given(streams())
def test_blocking_collector_invariants(stream: Stream) -> None:
    def run():
        return collect(stream.chunks(), translator_for(stream))

    if thinking_exhausts_budget(stream):
        try:
            run()
        except ThinkingExhaustedError:
            return
        raise AssertionError("a thinking-only answer cut by the token limit must be an error, not an empty answer")

    result = run()

    # Built on the translator's output: the same block and text as the stream.
    assert result.message.content == with_block(streamed_thinking(stream), answer_text(stream), stream.show_thinking)
    check_tool_calls(result.message.tool_calls, stream)
    check_usage(result.usage, stream)


@FUZZ
@given(streams(), st.lists(st.integers(0, 10_000), max_size=12))
def test_ndjson_reader_parses_any_split_of_the_bytes(stream: Stream, cuts: list[int]) -> None:
    """Ollama's lines cut at any byte (inside multi-byte characters too) parse to the same objects."""
    chunks = stream.chunks()
    body = b"".join(json.dumps(chunk, ensure_ascii=False).encode() + b"\n" for chunk in chunks)
    reads = [bytes(read) for read in split(list(body), cuts)]

    assert list(iter_ndjson(reads, source="fuzz")) == chunks
