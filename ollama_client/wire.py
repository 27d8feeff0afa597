"""Typed shapes of Ollama's native API (`api/types.go`), and the few checked readers every caller needs.

TypedDicts, not classes: a streamed answer is thousands of small JSON objects, and a TypedDict costs nothing
at run time (the parsed dict *is* the value), while type checkers and readers see every field. Fields Ollama
adds later stay in the dict untouched. Tool calls keep Ollama's `id` and `function.index` (ollama-python's
models drop both; Dify needs the id to match tool results to calls).

Values from a server are never trusted by their annotation: read numbers with `whole_number` and
`token_count`, which refuse booleans (True is an int in Python), negatives and absurd sizes.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NotRequired, TypedDict

# Dify stores token counts as 32-bit integers; a larger "count" is a broken or hostile server.
MAX_TOKEN_COUNT = 2**31 - 1

ThinkValue = bool | Literal["low", "medium", "high", "max"]
KeepAlive = str | int | float


class ToolCallFunction(TypedDict):
    name: str
    arguments: dict[str, Any]
    index: NotRequired[int]  # position among the calls of one response (always sent since 0.12.6)


class ToolCall(TypedDict):
    function: ToolCallFunction
    id: NotRequired[str]  # 0.12.10+


class Message(TypedDict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    thinking: NotRequired[str]
    images: NotRequired[list[str]]  # raw base64 (images, and WAV/MP3 audio since 0.20.0), no data: prefix
    tool_calls: NotRequired[list[ToolCall]]
    tool_name: NotRequired[str]  # on tool results, 0.9.6+
    tool_call_id: NotRequired[str]  # on tool results, 0.12.10+


class ToolDefinition(TypedDict):
    type: Literal["function"]
    function: dict[str, Any]  # name, description, parameters (a JSON Schema subset)


class _Common(TypedDict, total=False):
    model: str
    stream: bool
    format: str | dict[str, Any]  # "json" or a JSON Schema
    options: dict[str, Any]
    keep_alive: KeepAlive
    think: ThinkValue
    logprobs: bool
    top_logprobs: int


class ChatRequest(_Common, total=False):
    messages: list[Message]
    tools: list[ToolDefinition]


class GenerateRequest(_Common, total=False):
    prompt: str
    system: str
    suffix: str
    images: list[str]
    raw: bool


class EmbedRequest(TypedDict, total=False):
    model: str
    input: str | list[str]
    truncate: bool
    dimensions: int
    options: dict[str, Any]
    keep_alive: KeepAlive


class _Metrics(TypedDict, total=False):
    total_duration: int
    load_duration: int
    prompt_eval_count: int
    prompt_eval_duration: int
    eval_count: int
    eval_duration: int


class ChatChunk(_Metrics, total=False):
    """One line of a streamed chat answer (and the whole non-streamed one)."""

    model: str
    created_at: str
    message: Message  # absent on the final chunk of one upstream example
    done: bool
    done_reason: str  # stop, length, load, unload; on the final chunk only
    logprobs: list[dict[str, Any]]


class GenerateChunk(_Metrics, total=False):
    model: str
    created_at: str
    response: str
    thinking: str
    tool_calls: list[ToolCall]  # builtin parsers, on the done chunk, without ids
    done: bool
    done_reason: str
    logprobs: list[dict[str, Any]]


class EmbedResponse(TypedDict, total=False):
    model: str
    embeddings: list[list[float]]
    prompt_eval_count: int


class ShowResponse(TypedDict, total=False):
    capabilities: list[str]  # completion, tools, thinking, vision, audio, embedding, insert (0.6.4+)
    details: dict[str, Any]
    model_info: dict[str, Any]  # "<architecture>.context_length", "<architecture>.embedding_length", …
    parameters: str
    template: str
    remote_model: str
    remote_host: str


class TagsEntry(TypedDict, total=False):
    name: str
    model: str
    size: int
    digest: str
    details: dict[str, Any]


class TagsResponse(TypedDict, total=False):
    models: list[TagsEntry]


class VersionResponse(TypedDict):
    version: str


def whole_number(value: Any) -> int | None:
    """`value` if it is a real integer (not a bool, not a float), else None.

    >>> whole_number(3), whole_number(True), whole_number(3.0), whole_number("3")
    (3, None, None, None)
    """
    return value if type(value) is int else None


def token_count(value: Any) -> int | None:
    """A token count a server reported, or None when absent, negative or not believable.

    >>> token_count(12), token_count(0), token_count(-1), token_count(10**30), token_count(False)
    (12, 0, None, None, None)
    """
    number = whole_number(value)
    return number if number is not None and 0 <= number <= MAX_TOKEN_COUNT else None


def finite_number(value: Any) -> float | None:
    """An int or float that is finite (JSON has no infinity, but Python's parser accepts 1e999).

    >>> finite_number(0.5), finite_number(2), finite_number(float("inf")), finite_number(True)
    (0.5, 2.0, None, None)
    """
    if type(value) not in (int, float) or not math.isfinite(value):
        return None
    return float(value)
