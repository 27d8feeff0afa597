"""Ollama response chunks -> Dify LLM chunks: a small state machine with no I/O.

Fed one parsed NDJSON object at a time (chat `message.*` or generate top-level fields), it yields at
most one Dify chunk per Ollama chunk: text deltas pass through unchanged, never re-split. Fed the
objects one network read completed (`translate()`), it merges consecutive text deltas among them into
one chunk with exactly the same text, so a reader that fell behind catches up (see `translate`). Rules:

* Thinking becomes one well-formed `<think>\\n…\\n</think>` block in `content` before the answer (the
  transport Dify expects; SDK 0.10 has no reasoning field). It is closed by the first answer text,
  the first tool call, or the end. Thinking that arrives after the answer has started cannot go in
  front any more and is left out of the stream (logged). With `show_thinking=False` (structured
  output, or thinking switched off by the user) no thinking text is emitted at all.
* Tool calls are taken from every chunk, including the final `done` chunk, and each is emitted exactly
  once (Dify agents append the tool calls of every chunk). The id is Ollama's, or a generated unique
  one when Ollama sent none (before 0.12.10) or repeated one.
* The `done` chunk becomes exactly one final Dify chunk carrying `finish_reason` and usage
  (`prompt_eval_count`/`eval_count`, estimated only when absent).

Errors: error lines, non-JSON and a missing `done` are detected by the NDJSON reader in
`ollama_client`; `finish()` re-checks the last one so no caller can end a cut stream as a success.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk, LLMResultChunkDelta, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage

from models.llm.tokens import estimate_texts_tokens
from ollama_client import OllamaStreamError

logger = logging.getLogger(__name__)

THINK_OPEN = "<think>\n"
THINK_CLOSE = "\n</think>"

ToolCall = AssistantPromptMessage.ToolCall
UsageFactory = Callable[[int, int], LLMUsage]
PromptTokenEstimate = Callable[[], int]

_EMPTY: Mapping[str, Any] = {}
_validate_chunk = LLMResultChunk.__pydantic_validator__.validate_python
CONTEXT_FULL_RATIO = 0.95


class ThinkingExhaustedError(ValueError):
    """The token budget ran out while the model was still thinking: no answer, only `length`."""


class ToolCallIds:
    """Hands out tool-call ids that are unique within one response."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def assign(self, proposed: Any) -> str:
        if isinstance(proposed, str) and proposed and proposed not in self._used:
            call_id = proposed
        else:
            if proposed:
                logger.warning("Ollama repeated tool-call id %r in one response; giving the call a new id", proposed)
            call_id = "call_" + uuid.uuid4().hex
        self._used.add(call_id)
        return call_id


class ToolArgumentsError(ValueError):
    """A tool call whose arguments are not a JSON object: Dify's agents could not run the tool."""


def _arguments_text(arguments: Any, name: str) -> str:
    """Dify's arguments string, always a JSON object (agents json.loads it and call the tool with it)."""
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return "{}"
    if isinstance(arguments, Mapping):
        return json.dumps(arguments, ensure_ascii=False)
    if isinstance(arguments, str):  # Ollama sends an object; a proxy in front of it may send a string
        try:
            if isinstance(json.loads(arguments), dict):
                return arguments
        except ValueError:
            pass
    shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    raise ToolArgumentsError(
        f"The model called the tool '{name}' with arguments that are not a JSON object ({shown[:200]!r}), so the "
        "tool cannot be run. Retry, or use a model that calls tools reliably."
    )


def to_dify_tool_call(raw: Any, ids: ToolCallIds) -> ToolCall:
    """One complete Ollama tool call (`arguments` is an object) -> Dify's (arguments as a JSON string)."""
    raw = raw if isinstance(raw, Mapping) else _EMPTY
    function = raw.get("function")
    function = function if isinstance(function, Mapping) else _EMPTY
    name = str(function.get("name") or "")
    return ToolCall(
        id=ids.assign(raw.get("id")),
        type="function",
        function=ToolCall.ToolCallFunction(name=name, arguments=_arguments_text(function.get("arguments"), name)),
    )


def finish_reason(done_reason: Any, made_tool_calls: bool) -> str:
    """Dify's finish reason: `tool_calls` when calls were made, `length` when cut by a limit, else `stop`."""
    if made_tool_calls:
        return "tool_calls"
    if done_reason == "length":
        return "length"
    return "stop"


def _fields(chunk: Mapping[str, Any], chat: bool) -> tuple[Any, Any, Any]:
    """(content, thinking, tool_calls) of a chat or generate chunk."""
    source = (chunk.get("message") or _EMPTY) if chat else chunk
    return source.get("content" if chat else "response"), source.get("thinking"), source.get("tool_calls")


def _usage_counts(
    done_chunk: Mapping[str, Any], estimate_prompt: PromptTokenEstimate, generated: Iterable[str]
) -> tuple[int, int]:
    prompt_tokens = done_chunk.get("prompt_eval_count")
    completion_tokens = done_chunk.get("eval_count")
    if not isinstance(prompt_tokens, int) or isinstance(prompt_tokens, bool) or prompt_tokens <= 0:
        # Absent also on a full prompt-cache hit; the prompt still occupied the context.
        prompt_tokens = estimate_prompt()
    if not isinstance(completion_tokens, int) or isinstance(completion_tokens, bool) or completion_tokens < 0:
        completion_tokens = estimate_texts_tokens(generated)
    return prompt_tokens, completion_tokens


def _warn_if_context_full(done_chunk: Mapping[str, Any], context_window: int | None, model: str) -> None:
    """Ollama drops the oldest messages to fit num_ctx without saying so; a prompt that fills the
    window is the visible trace of that."""
    prompt_tokens = done_chunk.get("prompt_eval_count")
    if context_window and isinstance(prompt_tokens, int) and prompt_tokens >= CONTEXT_FULL_RATIO * context_window:
        logger.warning(
            "model %s: the prompt took %d of %d context tokens; Ollama has probably cut older messages. "
            "Raise 'Model context size' (num_ctx) if answers miss earlier context.",
            model,
            prompt_tokens,
            context_window,
        )


def _exhausted_message(done_chunk: Mapping[str, Any]) -> str:
    spent = done_chunk.get("eval_count")
    spent_text = f" ({spent} tokens)" if isinstance(spent, int) else ""
    return (
        f"The model used its whole output budget{spent_text} on thinking and wrote no answer "
        "(Ollama stopped with done_reason 'length'). Raise Max Tokens, raise the context size, or turn "
        "thinking off / choose a lower think level."
    )


class StreamTranslator:
    """Feed Ollama chunks with `feed()` (each returns a Dify chunk or None) or batches of them with
    `translate()`. Call `finish()` at the end."""

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

    def feed(self, chunk: Mapping[str, Any]) -> LLMResultChunk | None:
        """One Ollama chunk -> at most one Dify chunk."""
        text = self._plain_text(chunk)
        if text is None:
            return self._special(chunk)
        return self._text_chunk(text) if text else None

    def translate(self, chunks: Iterable[Mapping[str, Any]]) -> Iterator[LLMResultChunk]:
        """The Ollama chunks one network read completed -> Dify chunks, merging bursts.

        When the reader fell behind, a read brings many chunks at once. Consecutive text deltas among
        them (thinking or answer) become one Dify chunk whose content is exactly their translations
        joined, so the think block and every character stay as `feed()` would give them. Chunks with
        tool calls and the final chunk are never merged: text before them goes out first. Nothing waits
        for more data: the caller hands over only what has arrived, and the merged chunk leaves at once.
        """
        plain_text = self._plain_text
        pending: list[str] = []
        for chunk in chunks:
            text = plain_text(chunk)
            if text is None:
                if pending:
                    yield self._text_chunk("".join(pending))
                    pending = []
                special = self._special(chunk)
                if special is not None:
                    yield special
            elif text:
                pending.append(text)
        if pending:
            yield self._text_chunk("".join(pending))

    def finish(self) -> None:
        """Raise unless the final `done` chunk arrived (the client normally raises first)."""
        if not self._done:
            raise OllamaStreamError(
                "Ollama's answer ended without its final 'done' chunk: the answer is incomplete "
                "(the model runner may have stopped or the connection was cut)."
            )

    # -- internals -----------------------------------------------------------------------------

    def _plain_text(self, chunk: Mapping[str, Any]) -> str | None:
        """The text a chunk without tool calls adds to the stream ("" for none), or None for a chunk with tool
        calls or the final one (state untouched then: `_special` handles it)."""
        if self._done:
            raise OllamaStreamError("Ollama sent data after its final 'done' chunk; the answer may be incomplete.")
        if self._chat:
            source = chunk.get("message") or _EMPTY
            content = source.get("content")
        else:
            source = chunk
            content = chunk.get("response")
        if chunk.get("done") or source.get("tool_calls"):
            return None
        thinking = source.get("thinking")
        if thinking:
            return self._text_and_calls(content, thinking, None)[0]
        # Hot path: a plain text delta, passed through as it is.
        if not content:
            return ""
        self._answer_started = True
        self._generated.append(content)
        if self._thinking_open:
            self._thinking_open = False
            return THINK_CLOSE + content
        return content

    def _special(self, chunk: Mapping[str, Any]) -> LLMResultChunk | None:
        content, thinking, tool_calls = _fields(chunk, self._chat)
        if chunk.get("done"):
            return self._final(chunk, content, thinking, tool_calls)
        text, calls = self._text_and_calls(content, thinking, tool_calls)
        return self._chunk(text, calls) if text or calls else None

    def _text_chunk(self, text: str) -> LLMResultChunk:
        index = self._index
        self._index = index + 1
        # One nested dict validated builds the same objects as the three constructors in 2/3 of the time;
        # `tool_calls` given spares pydantic a deepcopy of the field's mutable default.
        return _validate_chunk(
            {"model": self._model, "delta": {"index": index, "message": {"content": text, "tool_calls": []}}}
        )

    def _text_and_calls(self, content: Any, thinking: Any, tool_calls: Any) -> tuple[str, list[ToolCall]]:
        parts: list[str] = []
        if thinking and isinstance(thinking, str):
            self._thinking_delta(thinking, parts)
        if content:
            self._answer_started = True
            self._generated.append(content)
            self._close_thinking(parts)
            parts.append(content)
        calls: list[ToolCall] = []
        if tool_calls:
            self._close_thinking(parts)
            self._answer_started = True
            calls = [to_dify_tool_call(raw, self._ids) for raw in tool_calls]
            self._tool_calls_made += len(calls)
        return "".join(parts), calls

    def _thinking_delta(self, thinking: str, parts: list[str]) -> None:
        self._generated.append(thinking)
        if self._thinking_open:
            parts.append(thinking)
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
                    "model %s sent thinking after its answer had started; left out of the stream", self._model
                )
            return
        parts.append(THINK_OPEN + thinking)
        self._thinking_open = True

    def _close_thinking(self, parts: list[str]) -> None:
        if self._thinking_open:
            self._thinking_open = False
            parts.append(THINK_CLOSE)

    def _final(self, chunk: Mapping[str, Any], content: Any, thinking: Any, tool_calls: Any) -> LLMResultChunk:
        self._done = True
        text, calls = self._text_and_calls(content, thinking, tool_calls)
        if self._thinking_open:
            self._thinking_open = False
            text += THINK_CLOSE
        done_reason = chunk.get("done_reason")
        if done_reason == "length" and self._thought and not self._answer_started:
            raise ThinkingExhaustedError(_exhausted_message(chunk))
        _warn_if_context_full(chunk, self._context_window, self._model)
        prompt_tokens, completion_tokens = _usage_counts(chunk, self._estimate_prompt, self._generated)
        return self._chunk(
            text,
            calls,
            usage=self._usage(prompt_tokens, completion_tokens),
            finish_reason=finish_reason(done_reason, self._tool_calls_made > 0),
        )

    def _chunk(
        self,
        content: str,
        tool_calls: list[ToolCall] | None = None,
        usage: LLMUsage | None = None,
        finish_reason: str | None = None,
    ) -> LLMResultChunk:
        index = self._index
        self._index = index + 1
        # Plain constructors: as fast as model_construct (which inspects default factories on every call).
        # Plain text chunks, the hot path, are built by `_text_chunk` from one dict instead.
        return LLMResultChunk(
            model=self._model,
            delta=LLMResultChunkDelta(
                index=index,
                message=AssistantPromptMessage(content=content, tool_calls=tool_calls or []),
                usage=usage,
                finish_reason=finish_reason,
            ),
        )


def collect(
    chunks: Iterable[Mapping[str, Any]],
    model: str,
    usage: UsageFactory,
    *,
    chat: bool = True,
    show_thinking: bool = True,
    estimate_prompt_tokens: PromptTokenEstimate = lambda: 0,
    context_window: int | None = None,
) -> LLMResult:
    """A whole streamed answer as one LLMResult: thinking block first, then the text, the tool calls, usage.

    Unlike the stream, it sees everything before answering, so all thinking (also any that arrived
    after the answer started) goes into the one block in front.
    """
    thinking_parts: list[str] = []
    text_parts: list[str] = []
    tool_calls: list[ToolCall] = []
    ids = ToolCallIds()
    final: Mapping[str, Any] | None = None
    for chunk in chunks:
        if final is not None:
            raise OllamaStreamError("Ollama sent data after its final 'done' chunk; the answer may be incomplete.")
        content, thinking, raw_calls = _fields(chunk, chat)
        if thinking and isinstance(thinking, str) and (thinking_parts or thinking.strip()):
            thinking_parts.append(thinking)  # blank thinking before the first real text is dropped, as in the stream
        if content:
            text_parts.append(content)
        if raw_calls:
            tool_calls.extend(to_dify_tool_call(raw, ids) for raw in raw_calls)
        if chunk.get("done"):
            final = chunk
    if final is None:
        raise OllamaStreamError(
            "Ollama's answer ended without its final 'done' chunk: the answer is incomplete "
            "(the model runner may have stopped or the connection was cut)."
        )
    thinking_text = "".join(thinking_parts)
    answer = "".join(text_parts)
    if final.get("done_reason") == "length" and thinking_text and not answer and not tool_calls:
        raise ThinkingExhaustedError(_exhausted_message(final))
    content = answer
    if show_thinking and thinking_text:
        content = THINK_OPEN + thinking_text + THINK_CLOSE + answer
    _warn_if_context_full(final, context_window, model)
    prompt_tokens, completion_tokens = _usage_counts(final, estimate_prompt_tokens, (*thinking_parts, *text_parts))
    return LLMResult(
        model=model,
        message=AssistantPromptMessage(content=content, tool_calls=tool_calls),
        usage=usage(prompt_tokens, completion_tokens),
    )
