"""Odd answers from a proxy or a broken model: clear errors of the right Dify class, nothing absurd passed on,
and no single message to the daemon anywhere near its 5 MiB stdout line limit."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from dify_plugin.errors.model import InvokeBadRequestError, InvokeServerUnavailableError

from models.input_errors import UserInputError
from models.invoke_errors import to_invoke_error
from models.llm.stream import MAX_BLOCKING_ANSWER_BYTES, MAX_CHUNK_CHARS, StreamTranslator, collect
from ollama_client import OllamaStreamError
from tests.llm.support import plain_usage

MODEL = "qwen3"
GOOD_CALL = {"function": {"name": "get_time", "arguments": {}}}


def run(chunks: list[dict[str, Any]], **options: Any) -> list[Any]:
    translator = StreamTranslator(MODEL, plain_usage, estimate_prompt_tokens=lambda: 7, **options)
    out = [dify for dify in translator.translate(chunks)]
    translator.finish()
    return out


def message(**fields: Any) -> dict[str, Any]:
    return {"message": {"role": "assistant", "content": "", **fields}, "done": False}


DONE = {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}


@pytest.mark.parametrize(
    "tool_calls",
    [
        {"function": {"name": "get_time"}},  # an object, not a list
        "get_weather",  # a string: once became one call per letter
        [{"function": {"arguments": {}}}],  # no name
        [{"function": {"name": "  "}}],  # a blank name
        [{"function": "get_time"}],
        [42],
    ],
    ids=["object", "string", "no-name", "blank-name", "function-string", "number"],
)
def test_unusable_tool_calls_are_a_server_error_never_an_empty_named_call(tool_calls: Any) -> None:
    with pytest.raises(OllamaStreamError, match="malformed") as caught:
        run([message(tool_calls=tool_calls), DONE])

    assert isinstance(to_invoke_error(caught.value), InvokeServerUnavailableError)
    assert MODEL in str(caught.value)


def test_a_nameless_call_beside_valid_ones_is_skipped_with_a_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        out = run([message(tool_calls=[{"function": {"arguments": {}}}, GOOD_CALL]), DONE])

    calls = [call for chunk in out for call in chunk.delta.message.tool_calls]
    assert [call.function.name for call in calls] == ["get_time"]
    assert "without a function name" in caplog.text


def test_null_tool_calls_mean_none() -> None:
    out = run([message(content="Hi", tool_calls=None), DONE])
    assert "".join(c.delta.message.content for c in out) == "Hi"


@pytest.mark.parametrize("content", [["a"], {"text": "a"}, 5], ids=["list", "object", "number"])
def test_non_string_content_is_the_servers_fault_not_the_users(content: Any) -> None:
    with pytest.raises(OllamaStreamError, match="malformed") as caught:
        run([{"message": {"role": "assistant", "content": content}, "done": False}, DONE])

    error = to_invoke_error(caught.value)
    assert isinstance(error, InvokeServerUnavailableError)
    assert not isinstance(error, InvokeBadRequestError)


def test_tool_arguments_that_are_not_an_object_are_not_reported_as_a_bad_request() -> None:
    with pytest.raises(OllamaStreamError) as caught:
        run([message(tool_calls=[{"function": {"name": "f", "arguments": "[1, 2]"}}]), DONE])
    assert isinstance(to_invoke_error(caught.value), InvokeServerUnavailableError)


def test_done_as_a_string_is_not_taken_for_the_end_of_the_answer() -> None:
    with pytest.raises(OllamaStreamError, match="without its final 'done' chunk"):
        run([message(content="Hi"), {**DONE, "done": "true"}])


@pytest.mark.parametrize("count", [10**30, -5, 3.5, True, "12"])
def test_absurd_token_counts_are_estimated_instead(count: Any) -> None:
    out = run([message(content="Hello there"), {**DONE, "prompt_eval_count": count, "eval_count": count}])

    usage = out[-1].delta.usage
    assert usage.prompt_tokens == 7  # the estimate
    assert 0 < usage.completion_tokens < 100


def test_a_zero_prompt_count_is_a_cache_hit_and_the_prompt_is_estimated() -> None:
    out = run([message(content="Hi"), {**DONE, "prompt_eval_count": 0, "eval_count": 1}])
    assert (out[-1].delta.usage.prompt_tokens, out[-1].delta.usage.completion_tokens) == (7, 1)


def test_a_huge_text_delta_leaves_in_chunks_well_under_the_daemon_line_limit() -> None:
    huge = "\x01é" * (MAX_CHUNK_CHARS * 2)  # control characters: 6 bytes each once escaped as JSON
    out = run([message(content=huge), DONE])

    assert "".join(c.delta.message.content for c in out) == huge
    assert max(len(c.model_dump_json().encode()) for c in out) < 2 * 2**20


def test_a_blocking_answer_too_large_for_one_message_is_a_clear_error() -> None:
    piece = "x" * 2**20
    chunks = [message(content=piece) for _ in range(MAX_BLOCKING_ANSWER_BYTES // 2**20 + 1)] + [DONE]
    with pytest.raises(UserInputError, match="Lower Max Tokens") as caught:
        collect(iter(chunks), StreamTranslator(MODEL, plain_usage))

    assert isinstance(to_invoke_error(caught.value), InvokeBadRequestError)


def test_a_blocking_answer_under_the_limit_is_returned_whole() -> None:
    piece = "y" * 2**20
    result = collect(iter([message(content=piece), message(content=piece), DONE]), StreamTranslator(MODEL, plain_usage))
    assert result.message.content == piece * 2


def test_tool_calls_too_large_for_one_message_to_dify_are_refused_as_malformed() -> None:
    """A 7 MiB Ollama line of tool-call arguments made of quotes became one 14 MiB stdout line before."""
    huge = {"function": {"name": "save", "arguments": {"text": '"' * (3 * 2**20)}}}
    with pytest.raises(OllamaStreamError, match="over 512 Ki characters") as caught:
        run([message(tool_calls=[huge]), DONE])
    assert isinstance(to_invoke_error(caught.value), InvokeServerUnavailableError)
    with pytest.raises(OllamaStreamError, match="over 512 Ki characters"):
        collect(iter([message(tool_calls=[huge]), DONE]), StreamTranslator(MODEL, plain_usage))


def test_the_largest_accepted_tool_call_still_fits_one_line() -> None:
    # 4 bytes each in UTF-8, and quotes that the SDK escapes once more: the costliest characters to write.
    worst = "😀" * (200 * 1024) + '"' * (150 * 1024)  # 500 Ki characters as JSON text
    out = run([message(tool_calls=[{"function": {"name": "save", "arguments": {"t": worst}}}]), DONE])

    assert max(len(chunk.model_dump_json().encode()) for chunk in out) < 5 * 2**20


def test_a_blocking_answer_of_many_tool_calls_is_bounded_like_text() -> None:
    call = {"function": {"name": "save", "arguments": {"text": "z" * (400 * 1024)}}}
    chunks = [message(tool_calls=[call]) for _ in range(12)] + [DONE]
    with pytest.raises(ValueError, match="Lower Max Tokens"):
        collect(iter(chunks), StreamTranslator(MODEL, plain_usage))
