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
from models.settings_fields import WholeNumberField, choice
from models.text_embedding.settings import unescape_prefix
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
_SERVICE_BATCH_SIZE = WholeNumberField(SERVICE_BATCH_SIZE, "Documents per request", 1, MAX_SERVICE_BATCH_SIZE, None, 32)
_EMBEDDING_BATCH_SIZE = WholeNumberField(
    EMBEDDING_BATCH_SIZE, "Texts per embedding request", 1, MAX_EMBEDDING_BATCH_SIZE, DEFAULT_EMBEDDING_BATCH_SIZE
)
_JUDGE_CONCURRENCY = WholeNumberField(
    JUDGE_CONCURRENCY, "Parallel requests", 1, MAX_JUDGE_CONCURRENCY, DEFAULT_JUDGE_CONCURRENCY
)
# The task description Qwen3-Reranker was trained with as its default.
DEFAULT_JUDGE_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


class RerankMethod(StrEnum):
    AUTO = "auto"  # decided per Base URL and model (models/rerank/auto.py)
    COMPATIBLE_SERVICE = "compatible_service"
    EMBEDDING_SIMILARITY = "embedding_similarity"
    LLM_JUDGE = "llm_judge"


# What the form calls each method, for messages (in the order of RerankMethod).
METHOD_LABELS = dict(
    zip(
        RerankMethod,
        ("Auto", "Compatible rerank service", "Ollama embedding similarity", "Ollama model as judge"),
        strict=True,
    )
)
DEFAULT_METHOD = RerankMethod.AUTO
# Fields every method reads; the others belong to one method each.
SHARED_FIELDS = (BASE_URL, API_KEY, TIMEOUT)


class JudgePrompt(StrEnum):
    CHAT = "chat"  # /api/chat with the model's own chat template
    QWEN3_RERANKER = "qwen3_reranker"  # /api/generate raw with Qwen3-Reranker's exact prompt


_JUDGE_PROMPT_LABELS = {JudgePrompt.CHAT: "Chat", JudgePrompt.QWEN3_RERANKER: "Qwen3-Reranker"}


@dataclass(frozen=True)
class CompatibleSettings:
    endpoint: ServiceEndpoint
    api_key: str | None
    timeout: float
    batch_size: int | None  # documents per request; None sends all in one request


@dataclass(frozen=True)
class SimilaritySettings:
    """The method 'Ollama embedding similarity' (not the Text Embedding model type's EmbeddingSettings)."""

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
    chosen = choice(credentials.get(METHOD), label="Rerank method", options=METHOD_LABELS, default=DEFAULT_METHOD)
    return RerankMethod(chosen)


def shared_fields_only(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The credentials without any method's own fields, so each method's settings take their defaults."""
    return {field: credentials.get(field) for field in SHARED_FIELDS}


def compatible_settings(credentials: Mapping[str, Any]) -> CompatibleSettings:
    return CompatibleSettings(
        endpoint=resolve_service_endpoint(credentials.get(BASE_URL)),
        api_key=_text(credentials, API_KEY).strip() or None,
        timeout=parse_timeout(credentials.get(TIMEOUT)),
        batch_size=_SERVICE_BATCH_SIZE.read(credentials),
    )


def similarity_settings(credentials: Mapping[str, Any]) -> SimilaritySettings:
    return SimilaritySettings(
        query_prefix=unescape_prefix(_text(credentials, QUERY_PREFIX)),
        document_prefix=unescape_prefix(_text(credentials, DOCUMENT_PREFIX)),
        batch_size=_EMBEDDING_BATCH_SIZE.read(credentials),
    )


def judge_settings(credentials: Mapping[str, Any]) -> JudgeSettings:
    prompt = choice(
        credentials.get(JUDGE_PROMPT),
        label="Judge prompt format",
        options=_JUDGE_PROMPT_LABELS,
        default=JudgePrompt.CHAT,
    )
    return JudgeSettings(
        prompt=JudgePrompt(prompt),
        instruction=_text(credentials, JUDGE_INSTRUCTION).strip() or DEFAULT_JUDGE_INSTRUCTION,
        concurrency=_JUDGE_CONCURRENCY.read(credentials),
    )
