"""Read the rerank credential fields: which method, and that method's own settings.

Only the fields of the chosen method are read, so a stale value in a field that the form
hides for this method (Dify keeps it) can never block the method the user picked. Under Auto
the form hides every method's fields, so the method Auto picks runs with its defaults
(`shared_fields_only`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from models.connection import API_KEY, BASE_URL, TIMEOUT, parse_timeout
from models.text_embedding.settings import unescape_prefix
from ollama_client import OllamaConfigError
from ollama_client.embed import DEFAULT_BATCH_SIZE as DEFAULT_EMBEDDING_BATCH_SIZE
from ollama_client.embed import MAX_BATCH_SIZE as MAX_EMBEDDING_BATCH_SIZE
from rerank_client import ServiceEndpoint, resolve_service_endpoint

# Field names in provider/ollama.yaml (model_credential_schema), all shown only for rerank.
METHOD = "rerank_method"
SERVICE_BATCH_SIZE = "rerank_service_batch_size"
QUERY_PREFIX = "rerank_query_prefix"
DOCUMENT_PREFIX = "rerank_document_prefix"
EMBEDDING_BATCH_SIZE = "rerank_embedding_batch_size"
JUDGE_PROMPT = "rerank_judge_prompt"
JUDGE_INSTRUCTION = "rerank_judge_instruction"
JUDGE_CONCURRENCY = "rerank_judge_concurrency"

MAX_SERVICE_BATCH_SIZE = 10_000
DEFAULT_JUDGE_CONCURRENCY = 4
MAX_JUDGE_CONCURRENCY = 32
# The task description Qwen3-Reranker was trained with as its default.
DEFAULT_JUDGE_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


class RerankMethod(StrEnum):
    AUTO = "auto"  # decided per Base URL and model (models/rerank/auto.py)
    COMPATIBLE_SERVICE = "compatible_service"
    EMBEDDING_SIMILARITY = "embedding_similarity"
    LLM_JUDGE = "llm_judge"


# What the form calls each method, for messages.
METHOD_LABELS = {
    RerankMethod.AUTO: "Auto",
    RerankMethod.COMPATIBLE_SERVICE: "Compatible rerank service",
    RerankMethod.EMBEDDING_SIMILARITY: "Ollama embedding similarity",
    RerankMethod.LLM_JUDGE: "Ollama model as judge",
}
DEFAULT_METHOD = RerankMethod.AUTO
# Fields every method reads; the others belong to one method each.
SHARED_FIELDS = (BASE_URL, API_KEY, TIMEOUT)


class JudgePrompt(StrEnum):
    CHAT = "chat"  # /api/chat with the model's own chat template
    QWEN3_RERANKER = "qwen3_reranker"  # /api/generate raw with Qwen3-Reranker's exact prompt


@dataclass(frozen=True)
class CompatibleSettings:
    endpoint: ServiceEndpoint
    api_key: str | None
    timeout: float
    batch_size: int | None  # documents per request; None sends all in one request


@dataclass(frozen=True)
class EmbeddingSettings:
    query_prefix: str
    document_prefix: str
    batch_size: int


@dataclass(frozen=True)
class JudgeSettings:
    prompt: JudgePrompt
    instruction: str
    concurrency: int


def _text(credentials: Mapping[str, Any], field: str) -> str:
    value = credentials.get(field)
    return "" if value is None else str(value)


def rerank_method(credentials: Mapping[str, Any]) -> RerankMethod:
    raw = _text(credentials, METHOD).strip()
    if not raw:
        return DEFAULT_METHOD
    try:
        return RerankMethod(raw)
    except ValueError:
        choices = ", ".join(f"'{label}'" for label in METHOD_LABELS.values())
        raise OllamaConfigError(
            f"Rerank method '{raw}' is unknown; open the model settings and pick one of {choices}."
        ) from None


def shared_fields_only(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The credentials without any method's own fields, so each method's settings take their defaults."""
    return {field: credentials.get(field) for field in SHARED_FIELDS}


def parse_whole_number(raw: Any, *, label: str, minimum: int, maximum: int, default: int | None) -> int | None:
    """A whole number from a text field; empty means `default`."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or not minimum <= number <= maximum:
        empty = " or leave it empty" if default is None else f" or leave it empty for {default}"
        raise OllamaConfigError(
            f"{label} '{raw}' is not usable: enter a whole number from {minimum} to {maximum}{empty}."
        )
    return number


def compatible_settings(credentials: Mapping[str, Any]) -> CompatibleSettings:
    return CompatibleSettings(
        endpoint=resolve_service_endpoint(credentials.get(BASE_URL)),
        api_key=_text(credentials, API_KEY).strip() or None,
        timeout=parse_timeout(credentials.get(TIMEOUT)),
        batch_size=parse_whole_number(
            credentials.get(SERVICE_BATCH_SIZE),
            label="Documents per request",
            minimum=1,
            maximum=MAX_SERVICE_BATCH_SIZE,
            default=None,
        ),
    )


def embedding_settings(credentials: Mapping[str, Any]) -> EmbeddingSettings:
    batch_size = parse_whole_number(
        credentials.get(EMBEDDING_BATCH_SIZE),
        label="Texts per embedding request",
        minimum=1,
        maximum=MAX_EMBEDDING_BATCH_SIZE,
        default=DEFAULT_EMBEDDING_BATCH_SIZE,
    )
    assert batch_size is not None
    return EmbeddingSettings(
        query_prefix=unescape_prefix(_text(credentials, QUERY_PREFIX)),
        document_prefix=unescape_prefix(_text(credentials, DOCUMENT_PREFIX)),
        batch_size=batch_size,
    )


def judge_settings(credentials: Mapping[str, Any]) -> JudgeSettings:
    raw_prompt = _text(credentials, JUDGE_PROMPT).strip() or JudgePrompt.CHAT
    try:
        prompt = JudgePrompt(raw_prompt)
    except ValueError:
        raise OllamaConfigError(
            f"Judge prompt format '{raw_prompt}' is unknown; pick 'Chat' or 'Qwen3-Reranker' in the model settings."
        ) from None
    concurrency = parse_whole_number(
        credentials.get(JUDGE_CONCURRENCY),
        label="Parallel requests",
        minimum=1,
        maximum=MAX_JUDGE_CONCURRENCY,
        default=DEFAULT_JUDGE_CONCURRENCY,
    )
    assert concurrency is not None
    return JudgeSettings(
        prompt=prompt,
        instruction=_text(credentials, JUDGE_INSTRUCTION).strip() or DEFAULT_JUDGE_INSTRUCTION,
        concurrency=concurrency,
    )
