"""Ollama response chunks -> Dify LLM chunks: one small state machine with no I/O.

`StreamTranslator.translate()` takes the Ollama chunks one network read completed (chat `message.*` or
generate top-level fields) and yields Dify chunks. One transition function (`_step`) turns each Ollama
chunk into pieces; the emitter (`_emit`) merges consecutive text pieces into one Dify chunk, so a reader
that fell behind catches up without changing a character. Blocking mode (`collect`) is built on the
same output. Rules:

* Thinking becomes one well-formed `<think>\\n…\\n</think>` block in `content` before the answer (the
  transport Dify expects; SDK 0.10 has no reasoning field). `<think>\\n` and `\\n</think>` each travel
  as a Dify chunk of their own: Dify's function-calling Agent strategy recognises thinking only by a
  chunk whose stripped text is exactly `<think>`, and once a chunk carried tool calls it shows nothing
  but a chunk that is exactly `</think>`. The block is closed before the first answer text, before the
  first tool call (also one on the `done` chunk), or at the end. Thinking that arrives after the answer
  started cannot go in front any more and is left out (logged). With `show_thinking=False` (structured
  output, or thinking switched off) no thinking text is emitted at all.
* Tool calls are taken from every chunk, including the final `done` chunk, each emitted exactly once in
  a chunk with no text (Dify agents append the tool calls of every chunk). The id is Ollama's, or a
  generated unique one when Ollama sent none (before 0.12.10) or repeated one. Malformed calls (a
  `tool_calls` that is not a list, a call without a function name) are skipped with a log when the
  chunk has valid ones, else the answer is refused as malformed.
* The `done` chunk becomes exactly one final Dify chunk carrying `finish_reason` and usage
  (`prompt_eval_count`/`eval_count` when believable, estimated otherwise).

Errors: error lines, non-JSON and a missing `done` are detected by the NDJSON reader in `ollama_client`;
`finish()` re-checks the last one so no caller can end a cut stream as a success.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk, LLMResultChunkDelta, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage

from models.llm.answer_errors import (
    AnswerTooLargeError,
    MalformedAnswerError,
    ThinkingExhaustedError,
    ToolArgumentsError,
    malformed,
)
from models.llm.think_tags import THINK_END, THINK_START
from models.llm.tool_calls import ToolCall, ToolCallIds, dify_tool_calls
from models.llm.usage import PromptTokenEstimate, exhausted_message, finish_reason, usage_counts, warn_if_context_full
from ollama_client import OllamaStreamError
from ollama_client.errors import no_done_error

__all__ = [
    "THINK_CLOSE",
    "THINK_OPEN",
    "AnswerTooLargeError",
    "MalformedAnswerError",
    "StreamTranslator",
    "ThinkingExhaustedError",
    "ToolArgumentsError",
    "collect",
]

logger = logging.getLogger(__name__)

UsageFactory = Callable[[int, int], LLMUsage]

_EMPTY: Mapping[str, Any] = {}
_validate_chunk = LLMResultChunk.__pydantic_validator__.validate_python
# One Dify text chunk carries at most this many characters (<= 1.5 MiB as JSON even if every character
# needs a 6-byte escape), far under the daemon's 5 MiB stdout line, whatever one Ollama line holds.
MAX_CHUNK_CHARS = 256 * 1024
# A blocking answer leaves as one stdout line; the daemon drops the plugin past 5 MiB.
MAX_BLOCKING_ANSWER_BYTES = 4 * 1024 * 1024
AFTER_DONE_MESSAGE = "Ollama sent data after its final 'done' chunk; the answer may be incomplete."


class _Marker(str):
    """A think tag: always a Dify chunk of its own (never merged with text)."""

    __slots__ = ()


THINK_OPEN = _Marker(THINK_START + "\n")
THINK_CLOSE = _Marker("\n" + THINK_END)


class _Calls(list):
    """Tool calls of one non-final Ollama chunk: one Dify chunk with no text."""

    __slots__ = ()


class _Final:
    """What the `done` chunk becomes: the last Dify chunk."""

    __slots__ = ("calls", "finish_reason", "usage")

    def __init__(self, calls: list[ToolCall], usage: LLMUsage, finish_reason: str) -> None:
        self.calls = calls
        self.usage = usage
        self.finish_reason = finish_reason


class StreamTranslator:
    """Feed the Ollama chunks of each network read to `translate()`; call `finish()` at the end."""

    __slots__ = (
        "_answer_started",
        "_chat",
        "_context_window",
        "_done",
        "_estimate_prompt",
        "_generated",
        "_ids",
        "_index",
        "_late_thinking_logged",
        "_model",
        "_show_thinking",
        "_text_key",
        "_thinking_open",
        "_thought",
        "_tool_calls_made",
        "_usage",
    )

    def __init__(
        self,
        model: str,
        usage: UsageFactory,
        *,
        chat: bool = True,
        show_thinking: bool = True,
        estimate_prompt_tokens: PromptTokenEstimate = lambda: 0,
        context_window: int | None = None,
    ) -> None:
        self._model = model
        self._context_window = context_window
        self._usage = usage
        self._chat = chat
        self._text_key = "content" if chat else "response"
        self._show_thinking = show_thinking
        self._estimate_prompt = estimate_prompt_tokens
        self._ids = ToolCallIds()
        self._index = 0
        self._thinking_open = False
        self._answer_started = False  # answer text or a tool call has been emitted
        self._thought = False  # any non-blank thinking seen (emitted or not)
        self._late_thinking_logged = False
        self._tool_calls_made = 0
        self._generated: list[str] = []  # emitted text, for the usage estimate when Ollama gives no count
        self._done = False

    # -- public --------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._model

    def translate(self, chunks: Iterable[Mapping[str, Any]]) -> Iterator[LLMResultChunk]:
        """The Ollama chunks one network read completed -> Dify chunks.

        Consecutive text deltas among them become one Dify chunk whose content is exactly their
        translations joined; think tags, tool calls and the final chunk are never merged. Nothing waits
        for more data: the caller hands over only what has arrived. Text translated before a chunk that
        fails is delivered before the error.
        """
        pieces: list[Any] = []
        step = self._step
        try:
            for chunk in chunks:
                step(chunk, pieces)
        except Exception:
            yield from self._emit(pieces)
            raise
        if len(pieces) == 1 and type(pieces[0]) is str and len(pieces[0]) <= MAX_CHUNK_CHARS:
            yield self._text_chunk(pieces[0])  # the usual case while the model generates
        else:
            yield from self._emit(pieces)

    def feed(self, chunk: Mapping[str, Any]) -> list[LLMResultChunk]:
        """One Ollama chunk on its own -> its Dify chunks (no merging with neighbours)."""
        return list(self.translate((chunk,)))

    def finish(self) -> None:
        """Raise unless the final `done` chunk arrived (the client normally raises first)."""
        if not self._done:
            raise no_done_error()

    # -- the transition function ---------------------------------------------------------------

    def _step(self, chunk: Mapping[str, Any], out: list[Any]) -> None:
        """One Ollama chunk -> pieces appended to `out`: text (str), think tags, tool calls, the final."""
        if self._done:
            raise OllamaStreamError(AFTER_DONE_MESSAGE)
        source = chunk.get("message") if self._chat else chunk
        if type(source) is dict:
            content = source.get(self._text_key)
            # Hot path: a plain answer delta with no block to close passes through as it is.
            if (
                type(content) is str
                and not self._thinking_open
                and not source.get("thinking")
                and not source.get("tool_calls")
                and chunk.get("done") is not True
            ):
                if content:
                    self._answer_started = True
                    self._generated.append(content)
                    out.append(content)
                return
        elif source is None:
            source = _EMPTY  # a final chunk without `message` (Ollama's chat history example)
        else:
            raise malformed(self._model, f"'message' is {type(source).__name__}, not an object")
        content, thinking = source.get(self._text_key), source.get("thinking")
        if content is not None and type(content) is not str:
            raise malformed(self._model, f"the text is {type(content).__name__}, not a string")
        if thinking:
            if type(thinking) is not str:
                raise malformed(self._model, f"'thinking' is {type(thinking).__name__}, not a string")
            self._think(thinking, out)
        if content:
            self._close_thinking(out)
            self._answer_started = True
            self._generated.append(content)
            out.append(content)
        calls = dify_tool_calls(source.get("tool_calls"), self._ids, self._model)
        if calls:
            self._close_thinking(out)
            self._answer_started = True
            self._tool_calls_made += len(calls)
        if chunk.get("done") is True:
            self._close_thinking(out)
            out.append(self._final(chunk, calls))
        elif calls:
            out.append(_Calls(calls))

    def _think(self, thinking: str, out: list[Any]) -> None:
        self._generated.append(thinking)
        if self._thinking_open:
            out.append(thinking)
            return
        if not thinking.strip():
            return  # blank thinking must not open a block (empty <think> blocks confuse Dify's folding)
        self._thought = True
        if not self._show_thinking:
            return
        if self._answer_started:
            if not self._late_thinking_logged:
                self._late_thinking_logged = True
                logger.warning(
                    "model %s sent thinking after its answer had started; left out of the answer", self._model
                )
            return
        self._thinking_open = True
        out.append(THINK_OPEN)
        out.append(thinking)

    def _close_thinking(self, out: list[Any]) -> None:
        if self._thinking_open:
            self._thinking_open = False
            out.append(THINK_CLOSE)

    def _final(self, chunk: Mapping[str, Any], calls: list[ToolCall]) -> _Final:
        self._done = True
        done_reason = chunk.get("done_reason")
        if done_reason == "length" and self._thought and not self._answer_started:
            raise ThinkingExhaustedError(exhausted_message(chunk))
        warn_if_context_full(chunk, self._context_window, self._model)
        prompt_tokens, completion_tokens = usage_counts(chunk, self._estimate_prompt, self._generated)
        return _Final(
            calls,
            self._usage(prompt_tokens, completion_tokens),
            finish_reason(done_reason, self._tool_calls_made > 0),
        )

    # -- the emitter ---------------------------------------------------------------------------

    def _emit(self, pieces: list[Any]) -> Iterator[LLMResultChunk]:
        pending: list[str] = []
        size = 0
        for piece in pieces:
            if type(piece) is str:
                while size + len(piece) > MAX_CHUNK_CHARS:  # never one stdout line near the daemon's limit
                    room = MAX_CHUNK_CHARS - size
                    pending.append(piece[:room])
                    yield self._text_chunk("".join(pending))
                    pending, size, piece = [], 0, piece[room:]
                if piece:
                    pending.append(piece)
                    size += len(piece)
                continue
            if pending:
                yield self._text_chunk("".join(pending))
                pending, size = [], 0
            if isinstance(piece, _Marker):
                yield self._text_chunk(str(piece))
            elif isinstance(piece, _Calls):
                yield self._chunk("", list(piece))
            else:
                yield self._chunk("", piece.calls, piece.usage, piece.finish_reason)
        if pending:
            yield self._text_chunk("".join(pending))

    def _text_chunk(self, text: str) -> LLMResultChunk:
        index = self._index
        self._index = index + 1
        # One nested dict validated builds the same objects as the three constructors in 2/3 of the time;
        # `tool_calls` given spares pydantic a deepcopy of the field's mutable default.
        return _validate_chunk(
            {"model": self._model, "delta": {"index": index, "message": {"content": text, "tool_calls": []}}}
        )

    def _chunk(
        self,
        content: str,
        tool_calls: list[ToolCall],
        usage: LLMUsage | None = None,
        finish_reason: str | None = None,
    ) -> LLMResultChunk:
        index = self._index
        self._index = index + 1
        return LLMResultChunk(
            model=self._model,
            delta=LLMResultChunkDelta(
                index=index,
                message=AssistantPromptMessage(content=content, tool_calls=tool_calls),
                usage=usage,
                finish_reason=finish_reason,
            ),
        )


def collect(chunks: Iterable[Mapping[str, Any]], translator: StreamTranslator) -> LLMResult:
    """A whole answer as one LLMResult, built from the translator's own output: the same think block,
    text, tool calls and usage a stream gives, in one message no larger than Dify accepts."""
    texts: list[str] = []
    tool_calls: list[ToolCall] = []
    usage: LLMUsage | None = None
    size = 0  # of the text and the tool calls' arguments as the SDK will write them
    translate = translator.translate
    for chunk in chunks:
        for dify_chunk in translate((chunk,)):
            message = dify_chunk.delta.message
            if message.content:
                texts.append(message.content)
                size += _json_size(message.content)
            for call in message.tool_calls:
                tool_calls.append(call)
                size += _json_size(call.function.arguments) + _json_size(call.function.name)
            if size > MAX_BLOCKING_ANSWER_BYTES:
                raise _too_large(translator.model)
            if dify_chunk.delta.usage is not None:
                usage = dify_chunk.delta.usage
    translator.finish()
    assert usage is not None  # finish() raised otherwise
    return LLMResult(
        model=translator.model,
        message=AssistantPromptMessage(content="".join(texts), tool_calls=tool_calls),
        usage=usage,
    )


def _json_size(text: str) -> int:
    """Bytes of `text` as a JSON string without its quotes (escapes included)."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def _too_large(model: str) -> AnswerTooLargeError:
    return AnswerTooLargeError(
        f"The answer of model '{model}' is over {MAX_BLOCKING_ANSWER_BYTES // 2**20} MiB, more "
        "than a plugin may return to Dify in one piece (Dify's plugin daemon drops a message over 5 MiB). "
        "Lower Max Tokens, or call the model in streaming mode (Dify's chat apps and workflows stream)."
    )
