"""Ollama's answer chunks as the fake writes them (shapes follow api/types.go ChatResponse / GenerateResponse key
order), and the `logprobs` entries of Ollama 0.12.11+."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

CREATED_AT = "2025-07-07T20:22:19.184789Z"


def final_metrics(prompt_eval_count: int, eval_count: int) -> dict[str, int]:
    return {
        "total_duration": 123_456_789,
        "load_duration": 1_234_567,
        "prompt_eval_count": prompt_eval_count,
        "prompt_eval_duration": 12_345_678,
        "eval_count": eval_count,
        "eval_duration": 98_765_432,
    }


class Ending(TypedDict, total=False):
    """The fields after the content, alike in chat and generate chunks."""

    done: bool
    done_reason: str | None
    prompt_eval_count: int | None
    eval_count: int | None
    logprobs: list[dict[str, Any]] | None


def chat_chunk(
    model: str,
    content: str = "",
    *,
    thinking: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    **ending: Unpack[Ending],
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return _ended({"model": model, "created_at": CREATED_AT, "message": message}, **ending)


def generate_chunk(
    model: str, response: str = "", *, thinking: str | None = None, **ending: Unpack[Ending]
) -> dict[str, Any]:
    chunk: dict[str, Any] = {"model": model, "created_at": CREATED_AT, "response": response}
    if thinking is not None:
        chunk["thinking"] = thinking
    return _ended(chunk, **ending)


def _ended(
    chunk: dict[str, Any],
    done: bool = False,
    done_reason: str | None = None,
    prompt_eval_count: int | None = None,
    eval_count: int | None = None,
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    chunk["done"] = done
    if done:
        chunk["done_reason"] = done_reason or "stop"
        chunk.update(final_metrics(prompt_eval_count or 0, eval_count or 0))
    if logprobs is not None:
        chunk["logprobs"] = logprobs
    return chunk


def logprob_entry(token: str, logprob: float, top: Sequence[tuple[str, float]] | None = None) -> dict[str, Any]:
    """One element of a response's `logprobs` list (api/types.go Logprob), with `top_logprobs` when given."""
    entry: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}
    if top is not None:
        entry["top_logprobs"] = [
            {"token": alternative, "logprob": value, "bytes": list(alternative.encode("utf-8"))}
            for alternative, value in top
        ]
    return entry
