"""The Auto rerank method: which method it picks for a Base URL and model, asked once and cached."""

from __future__ import annotations

import logging

import pytest

from models.rerank import auto
from models.rerank.auto import resolve_method
from models.rerank.settings import RerankMethod
from ollama_client import (
    OllamaConfigError,
    OllamaEndpointNotFoundError,
    OllamaModelNotFoundError,
    OllamaUnsupportedFeatureError,
    clear_cache,
)
from tests.fake_ollama import FakeOllama, Scenario
from tests.rerank.fakes import act_as_foreign_service

pytestmark = pytest.mark.usefixtures("fresh_caches")


def method_for(url: str, model: str, **fields: str) -> RerankMethod:
    return resolve_method({"base_url": url, **fields}, model).method


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank/", "/v1/reranking"])
def test_a_base_url_ending_in_a_rerank_endpoint_is_a_service_without_asking_anything(fake_ollama: FakeOllama, path):
    assert method_for(fake_ollama.url + path, "bge-reranker-v2-m3") is RerankMethod.COMPATIBLE_SERVICE
    assert fake_ollama.requests == []


def test_an_ollama_embedding_model_uses_embedding_similarity(fake_ollama: FakeOllama):
    assert method_for(fake_ollama.url, "nomic-embed-text") is RerankMethod.EMBEDDING_SIMILARITY


@pytest.mark.parametrize("model", ["qwen3", "llama3.2"])
def test_an_ollama_chat_model_is_the_judge(fake_ollama: FakeOllama, model):
    assert method_for(fake_ollama.url, model) is RerankMethod.LLM_JUDGE


@pytest.mark.parametrize(
    "not_found",
    [
        Scenario.text("", status=404),  # axum (TEI)
        Scenario.json({"detail": "Not Found"}, status=404),  # Starlette (vLLM, Xinference, Infinity)
        Scenario.json({"error": {"code": 404, "message": "File Not Found"}}, status=404),  # llama.cpp server
        Scenario.text("Method Not Allowed", status=405),
        Scenario.html(200, "Welcome"),  # some web app answering every path
    ],
)
def test_a_server_that_does_not_speak_ollamas_api_is_a_service(fake_ollama: FakeOllama, not_found):
    act_as_foreign_service(fake_ollama, not_found)
    assert method_for(fake_ollama.url, "bge-reranker-v2-m3") is RerankMethod.COMPATIBLE_SERVICE
    assert [request.path for request in fake_ollama.requests] == ["/api/show", "/api/version"]


def test_a_model_ollama_does_not_have_is_reported_not_sent_elsewhere(fake_ollama: FakeOllama):
    with pytest.raises(OllamaModelNotFoundError, match="ollama pull bge-m3"):
        method_for(fake_ollama.url, "bge-m3")


def test_a_foreign_404_from_a_server_whose_api_version_is_ollamas_is_not_a_service(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/show", Scenario.text("404 page not found at the proxy", status=404))
    with pytest.raises(OllamaEndpointNotFoundError, match="404 page not found at the proxy"):
        method_for(fake_ollama.url, "bge-reranker-v2-m3")  # the /api/show error itself, not a detour
    assert [request.path for request in fake_ollama.requests] == ["/api/show", "/api/version"]


def test_a_model_that_can_neither_embed_nor_generate_is_a_clear_error(fake_ollama: FakeOllama):
    fake_ollama.register_model("whisper", ["audio"])
    with pytest.raises(OllamaUnsupportedFeatureError, match=r"can neither embed nor generate text \(it has: audio\)"):
        method_for(fake_ollama.url, "whisper")


def test_the_choice_is_asked_once_logged_once_and_asked_again_when_fresh(fake_ollama: FakeOllama, caplog):
    caplog.set_level(logging.INFO, logger="models.rerank.auto")
    for _ in range(3):
        assert method_for(fake_ollama.url, "nomic-embed-text") is RerankMethod.EMBEDDING_SIMILARITY
    clear_cache()  # the capability cache too, so only our own cache can spare the lookups
    assert method_for(fake_ollama.url, "nomic-embed-text") is RerankMethod.EMBEDDING_SIMILARITY
    assert len(fake_ollama.requests_to("/api/show")) == 1
    logged = [record.getMessage() for record in caplog.records if record.name == "models.rerank.auto"]
    assert logged == [
        f"rerank method Auto for model 'nomic-embed-text' at {fake_ollama.url}: Ollama embedding similarity "
        "('nomic-embed-text' has the 'embedding' capability)"
    ]
    resolve_method({"base_url": fake_ollama.url}, "nomic-embed-text", fresh=True)
    assert len(fake_ollama.requests_to("/api/show")) == 2


def test_the_choice_expires_and_the_cache_is_bounded(fake_ollama: FakeOllama, monkeypatch):
    monkeypatch.setattr(auto._resolutions, "ttl", 0.0)
    method_for(fake_ollama.url, "qwen3")
    clear_cache()
    method_for(fake_ollama.url, "qwen3")
    assert len(fake_ollama.requests_to("/api/show")) == 2
    assert auto._resolutions.maxsize == auto.MAX_RESOLUTIONS <= 1024


def test_a_failed_lookup_is_not_cached(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/show", Scenario.error(500, "boom"))
    with pytest.raises(Exception, match="boom"):
        method_for(fake_ollama.url, "qwen3")
    fake_ollama.set_route("POST", "/api/show", None)
    assert method_for(fake_ollama.url, "qwen3") is RerankMethod.LLM_JUDGE


def test_an_unusable_base_url_under_auto_gets_ollamas_message():
    with pytest.raises(OllamaConfigError, match="Example of a correct value: http://host.docker.internal:11434"):
        method_for("ftp://ollama:11434", "qwen3")
