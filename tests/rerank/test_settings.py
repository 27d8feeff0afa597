"""Reading the rerank credential fields."""

from __future__ import annotations

import pytest

from models.rerank.service_url import resolve_service_endpoint
from models.rerank.settings import (
    DEFAULT_JUDGE_INSTRUCTION,
    CompatibleSettings,
    EmbeddingSettings,
    JudgePrompt,
    JudgeSettings,
    RerankMethod,
    compatible_settings,
    embedding_settings,
    judge_settings,
    rerank_method,
)
from ollama_client import OllamaConfigError


def test_the_method_defaults_to_embedding_similarity_and_unknown_ones_list_the_choices():
    assert rerank_method({}) is RerankMethod.EMBEDDING_SIMILARITY
    assert rerank_method({"rerank_method": "llm_judge"}) is RerankMethod.LLM_JUDGE
    with pytest.raises(OllamaConfigError, match="'Compatible rerank service', 'Ollama embedding similarity'"):
        rerank_method({"rerank_method": "api_rerank"})


def test_compatible_settings_use_the_shared_fields():
    settings = compatible_settings({"base_url": "http://tei:8080/rerank", "api_key": " sk-1 ", "timeout": "30"})
    assert settings == CompatibleSettings(
        endpoint=resolve_service_endpoint("http://tei:8080/rerank"), api_key="sk-1", timeout=30.0, batch_size=None
    )
    assert compatible_settings({"base_url": "http://tei:8080", "rerank_service_batch_size": "32"}).batch_size == 32


@pytest.mark.parametrize("typed", ["0", "-3", "abc", "2.5", "100000"])
def test_a_bad_documents_per_request_says_the_allowed_range(typed):
    with pytest.raises(OllamaConfigError, match=r"Documents per request .* whole number from 1 to 10000"):
        compatible_settings({"base_url": "http://tei:8080", "rerank_service_batch_size": typed})


def test_embedding_settings_default_and_turn_a_typed_backslash_n_into_a_line_break():
    assert embedding_settings({}) == EmbeddingSettings(query_prefix="", document_prefix="", batch_size=32)
    settings = embedding_settings(
        {
            "rerank_query_prefix": r"Instruct: Find passages\nQuery: ",
            "rerank_document_prefix": "search_document: ",
            "rerank_embedding_batch_size": "8",
        }
    )
    assert settings == EmbeddingSettings("Instruct: Find passages\nQuery: ", "search_document: ", 8)
    with pytest.raises(OllamaConfigError, match="Texts per embedding request '999'.*1 to 256"):
        embedding_settings({"rerank_embedding_batch_size": "999"})


def test_judge_settings_default_and_check_their_fields():
    assert judge_settings({}) == JudgeSettings(JudgePrompt.CHAT, DEFAULT_JUDGE_INSTRUCTION, 4)
    settings = judge_settings(
        {
            "rerank_judge_prompt": "qwen3_reranker",
            "rerank_judge_instruction": " Find laws ",
            "rerank_judge_concurrency": "2",
        }
    )
    assert settings == JudgeSettings(JudgePrompt.QWEN3_RERANKER, "Find laws", 2)
    with pytest.raises(OllamaConfigError, match="Parallel requests '64'.*1 to 32"):
        judge_settings({"rerank_judge_concurrency": "64"})
    with pytest.raises(OllamaConfigError, match="Judge prompt format 'xml' is unknown"):
        judge_settings({"rerank_judge_prompt": "xml"})


def test_fields_of_other_methods_are_never_read():
    # Dify keeps values of fields the form hides; a stale one must not block the chosen method.
    credentials = {"base_url": "http://h:11434", "rerank_judge_concurrency": "many", "rerank_service_batch_size": "x"}
    assert embedding_settings(credentials).batch_size == 32
