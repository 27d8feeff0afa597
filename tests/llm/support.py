"""Helpers shared by the LLM unit tests (fixture transcripts, a price-free usage)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from dify_plugin.entities.model.llm import LLMUsage

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
