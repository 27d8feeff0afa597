"""Reading the rerank credential fields (the Similarity settings are not the Text Embedding type's)."""

from __future__ import annotations

import pytest

from models.input_errors import UserInputError
from models.rerank.settings import (
    DEFAULT_JUDGE_INSTRUCTION,
    DEFAULT_METHOD,
    CompatibleSettings,
    JudgePrompt,
    JudgeSettings,
    RerankMethod,
    SimilaritySettings,
    compatible_settings,
    judge_settings,
    rerank_method,
    shared_fields_only,
    similarity_settings,
)
from rerank_client import resolve_service_endpoint


def test_the_method_defaults_to_auto_and_unknown_ones_list_the_choices():
    assert rerank_method({}) is RerankMethod.AUTO
    assert rerank_method({"rerank_method": " "}) is RerankMethod.AUTO
    assert rerank_method({"rerank_method": "llm_judge"}) is RerankMethod.LLM_JUDGE
    with pytest.raises(UserInputError, match="'Auto', 'Compatible rerank service', 'Ollama embedding similarity'"):
        rerank_method({"rerank_method": "api_rerank"})


def test_under_auto_only_the_shared_fields_are_read_so_hidden_values_cannot_block():
    credentials = {
        "base_url": "http://h:11434",
        "api_key": "k",
        "timeout": "30",
        "rerank_judge_concurrency": "100",
        "rerank_service_batch_size": "zero",
    }
    shared = shared_fields_only(credentials)
    assert shared == {"base_url": "http://h:11434", "api_key": "k", "timeout": "30"}
    assert judge_settings(shared).concurrency == 4
    assert compatible_settings(shared).batch_size is None


def test_compatible_settings_use_the_shared_fields():
    settings = compatible_settings({"base_url": "http://tei:8080/rerank", "api_key": " sk-1 ", "timeout": "30"})
    assert settings == CompatibleSettings(
        endpoint=resolve_service_endpoint("http://tei:8080/rerank"), api_key="sk-1", timeout=30.0, batch_size=None
    )
    assert compatible_settings({"base_url": "http://tei:8080", "rerank_service_batch_size": "32"}).batch_size == 32


@pytest.mark.parametrize("typed", ["0", "-3", "abc", "2.5", "100000"])
def test_a_bad_documents_per_request_says_the_allowed_range(typed):
    with pytest.raises(
        UserInputError,
        match=r"Documents per request '.*' is not a whole number from 1 to 10000\. Enter e\.g\. 32, or leave it empty\.",
    ):
        compatible_settings({"base_url": "http://tei:8080", "rerank_service_batch_size": typed})


def test_similarity_settings_default_and_turn_a_typed_backslash_n_into_a_line_break():
    assert similarity_settings({}) == SimilaritySettings(query_prefix="", document_prefix="", batch_size=32)
    settings = similarity_settings(
        {
            "rerank_query_prefix": r"Instruct: Find passages\nQuery: ",
            "rerank_document_prefix": "search_document: ",
            "rerank_embedding_batch_size": "8",
        }
    )
    assert settings == SimilaritySettings("Instruct: Find passages\nQuery: ", "search_document: ", 8)
    with pytest.raises(UserInputError, match="Texts per embedding request '999'.*1 to 256"):
        similarity_settings({"rerank_embedding_batch_size": "999"})


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
    with pytest.raises(UserInputError, match="Parallel requests '64'.*1 to 32"):
        judge_settings({"rerank_judge_concurrency": "64"})
    with pytest.raises(UserInputError, match="Judge prompt format 'xml' is not one of 'Chat', 'Qwen3-Reranker'"):
        judge_settings({"rerank_judge_prompt": "xml"})


def test_fields_of_other_methods_are_never_read():
    # Dify keeps values of fields the form hides; a stale one must not block the chosen method.
    credentials = {"base_url": "http://h:11434", "rerank_judge_concurrency": "many", "rerank_service_batch_size": "x"}
    assert similarity_settings(credentials).batch_size == 32


def test_the_form_offers_every_method_in_every_language_and_defaults_to_auto(repo_root):
    import yaml

    provider = yaml.safe_load((repo_root / "provider" / "ollama.yaml").read_text(encoding="utf-8"))
    fields = provider["model_credential_schema"]["credential_form_schemas"]
    field = next(field for field in fields if field["variable"] == "rerank_method")
    assert field["default"] == DEFAULT_METHOD == RerankMethod.AUTO
    assert [option["value"] for option in field["options"]] == [method.value for method in RerankMethod]
    for option in field["options"]:
        assert set(option["label"]) >= {"en_US", "zh_Hans", "ja_JP", "pt_BR"}
