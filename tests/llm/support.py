"""Helpers shared by the LLM unit tests: fixture transcripts, a price-free usage, and the stream translator fed
scripted Ollama chunks with readers of what it emitted."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from dify_plugin.entities.model.llm import LLMResultChunk, LLMUsage

from models.llm.stream import StreamTranslator
from tests.fake_ollama import SHARED_EXAMPLES_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ollama"


def fixture_chunks(name: str) -> list[dict[str, Any]]:
    """The NDJSON objects of tests/fixtures/ollama/<name> (lines that are error objects included)."""
    return [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def plain_usage(prompt_tokens: int, completion_tokens: int) -> LLMUsage:
    zero = Decimal("0")
    return LLMUsage(
        prompt_tokens=prompt_tokens,
        prompt_unit_price=zero,
        prompt_price_unit=zero,
        prompt_price=zero,
        completion_tokens=completion_tokens,
        completion_unit_price=zero,
        completion_price_unit=zero,
        completion_price=zero,
        total_tokens=prompt_tokens + completion_tokens,
        total_price=zero,
        currency="USD",
        latency=0.0,
    )


def translate(
    chunks: Iterable[dict[str, Any]],
    *,
    chat: bool = True,
    show_thinking: bool = True,
    usage: Callable[[int, int], LLMUsage] = plain_usage,
    estimate_prompt_tokens: Callable[[], int] = lambda: 0,
) -> list[LLMResultChunk]:
    """All the Dify chunks a translator for model 'qwen3' emits for `chunks`, fed one by one, then finished."""
    translator = StreamTranslator(
        "qwen3", usage, chat=chat, show_thinking=show_thinking, estimate_prompt_tokens=estimate_prompt_tokens
    )
    out = [dify for chunk in chunks for dify in translator.feed(chunk)]
    translator.finish()
    return out


def text(chunks: Sequence[LLMResultChunk]) -> str:
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
    return json.loads((SHARED_EXAMPLES_DIR / name).read_text(encoding="utf-8"))


def raw_lines(name: str) -> list[bytes]:
    """The lines of tests/fixtures/ollama/<name> as the NDJSON reader gets them from the network."""
    return [line + b"\n" for line in (FIXTURES / name).read_bytes().splitlines() if line.strip()]
