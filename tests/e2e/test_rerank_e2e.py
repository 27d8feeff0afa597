"""Rerank through `python -m main` and the daemon's stdio protocol, against the fake Ollama.

The fake also plays the compatible rerank services (Jina-style `/v1/rerank`, TEI's `/rerank`) and an
Ollama judge answering with logprobs; the routes are scripted per test (tests/rerank/fakes.py).
"""

from __future__ import annotations

import pytest

from tests.e2e.driver import InvocationResult, PluginProcess
from tests.fake_ollama import FakeOllama, Scenario
from tests.rerank.fakes import DOCS, QUERY, JudgeRoute, install_judge, jina_service, keyword_embed, tei_service

pytestmark = pytest.mark.e2e


def creds(url: str, method: str, **fields: str) -> dict[str, str]:
    return {"base_url": url, "timeout": "10", "rerank_method": method, **fields}


def ranking(result: InvocationResult) -> list[tuple[int, str]]:
    docs = result.raise_for_error().last_payload["docs"]
    scores = [doc["score"] for doc in docs]
    assert scores == sorted(scores, reverse=True)
    return [(doc["index"], doc["text"]) for doc in docs]


BEST_FIRST = [(1, DOCS[1]), (2, DOCS[2]), (0, DOCS[0])]


# --- compatible rerank service ---------------------------------------------------------------------------


def test_a_jina_style_service_with_what_dify_sends_when_nothing_is_set(plugin: PluginProcess, fake_ollama):
    fake_ollama.set_route("POST", "/v1/rerank", jina_service)
    credentials = {**creds(fake_ollama.url + "/v1/rerank", "compatible_service"), "api_key": "jina_abc"}
    result = plugin.invoke_rerank("jina-reranker-v2", credentials, QUERY, DOCS, score_threshold=0.0, top_n=0)

    assert ranking(result) == [*BEST_FIRST, (3, "")]
    request = fake_ollama.last_request("/v1/rerank")
    assert request.json == {"model": "jina-reranker-v2", "query": QUERY, "documents": DOCS, "top_n": 4}
    assert request.header("authorization") == "Bearer jina_abc"


def test_tei_at_a_root_url_is_found_and_asked_in_its_shape(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", tei_service)
    result = plugin.invoke_rerank(
        "bge-reranker-v2-m3", creds(fake_ollama.url, "compatible_service"), QUERY, DOCS, 0.0, 2
    )

    assert ranking(result) == BEST_FIRST[:2]
    assert [request.path for request in fake_ollama.requests] == ["/v1/rerank", "/rerank", "/rerank"]
    assert fake_ollama.last_request("/rerank").json == {"query": QUERY, "texts": DOCS, "truncate": True}


def test_a_broken_answer_is_the_services_fault_naming_the_url(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", Scenario.json({"results": [{"index": 9, "relevance_score": 0.9}]}))
    result = plugin.invoke_rerank("m", creds(fake_ollama.url + "/rerank", "compatible_service"), QUERY, DOCS)
    assert result.error_type == "InvokeServerUnavailableError"
    assert f"{fake_ollama.url}/rerank answered index 9, but only 4 document(s) were sent" in result.error_description


def test_a_rejected_key_keeps_our_message(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/v1/rerank", Scenario.json({"message": "invalid api token"}, status=401))
    result = plugin.invoke_rerank("rerank-v3.5", creds(fake_ollama.url + "/v1", "compatible_service"), QUERY, DOCS)
    assert result.error_type == "InvokeAuthorizationError"
    assert '"invalid api token"' in result.error_description
    assert "Check the API key field" in result.error_description


# --- Auto, the default method ---------------------------------------------------------------------------


def test_the_official_plugins_habit_a_tei_rerank_url_as_base_url_works_with_the_default_method(
    plugin: PluginProcess, fake_ollama: FakeOllama
):
    fake_ollama.set_route("POST", "/v1/rerank", tei_service)  # TEI-like: 422 in plain text for other shapes
    base_url = f"http://127.0.0.1:{fake_ollama.port}/v1/rerank"
    result = plugin.invoke_rerank("bge-reranker-v2-m3", {"base_url": base_url}, QUERY, DOCS, 0.0, 0)

    assert ranking(result) == [*BEST_FIRST, (3, "")]
    assert [request.path for request in fake_ollama.requests] == ["/v1/rerank", "/v1/rerank"]
    assert fake_ollama.last_request("/v1/rerank").json == {"query": QUERY, "texts": DOCS, "truncate": True}

    again = plugin.invoke_rerank("bge-reranker-v2-m3", {"base_url": base_url}, QUERY, DOCS, 0.0, 1)
    assert ranking(again) == BEST_FIRST[:1]
    chosen = [message for message in plugin.log_messages() if message.startswith("rerank method Auto")]
    assert chosen == [
        f"rerank method Auto for model 'bge-reranker-v2-m3' at {base_url}: Compatible rerank service "
        "(the Base URL is a rerank endpoint)"
    ]  # once per resolution, not per request


@pytest.mark.parametrize(("model", "path"), [("nomic-embed-text", "/api/embed"), ("qwen3", "/api/chat")])
def test_the_default_method_ranks_with_an_ollama_embedding_or_chat_model(
    plugin: PluginProcess, fake_ollama, model, path
):
    fake_ollama.set_route("POST", "/api/embed", keyword_embed)
    install_judge(fake_ollama)
    result = plugin.invoke_rerank(model, {"base_url": fake_ollama.url}, QUERY, DOCS, score_threshold=0.0, top_n=3)

    assert ranking(result) == BEST_FIRST
    assert fake_ollama.requests_to(path)
    validation = plugin.validate_model_credentials(model, "rerank", {"base_url": fake_ollama.url})
    assert validation.ok and validation.last_payload["result"] is True


# --- Ollama embedding similarity -------------------------------------------------------------------------


def test_embedding_similarity_ranks_with_one_batched_embed_call(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/embed", keyword_embed)
    credentials = creds(fake_ollama.url, "embedding_similarity", rerank_query_prefix="search_query: ")
    result = plugin.invoke_rerank("nomic-embed-text", credentials, QUERY, DOCS, score_threshold=0.5, top_n=0)

    assert ranking(result) == BEST_FIRST[:2]
    assert [request.json["input"] for request in fake_ollama.requests_to("/api/embed")] == [
        [f"search_query: {QUERY}", *DOCS[:3]]
    ]


# --- Ollama model as judge -------------------------------------------------------------------------------


@pytest.mark.parametrize(("prompt", "path"), [("chat", "/api/chat"), ("qwen3_reranker", "/api/generate")])
def test_the_judge_scores_each_document_through_logprobs(plugin: PluginProcess, fake_ollama, prompt, path):
    route = install_judge(fake_ollama, JudgeRoute(delay=0.05))
    credentials = creds(fake_ollama.url, "llm_judge", rerank_judge_prompt=prompt, rerank_judge_concurrency="2")
    result = plugin.invoke_rerank("qwen3", credentials, QUERY, DOCS, score_threshold=0.0, top_n=2)

    assert ranking(result) == BEST_FIRST[:2]
    assert [doc["score"] for doc in result.last_payload["docs"]] == pytest.approx([0.9, 0.6])
    assert len(fake_ollama.requests_to(path)) == 3  # the empty document is not sent
    assert all(request.json["logprobs"] is True for request in fake_ollama.requests_to(path))
    assert route.max_in_flight == 2  # parallel, and bounded, under the plugin's gevent runtime


def test_the_judge_on_an_ollama_without_logprobs_names_the_version_needed(plugin: PluginProcess, fake_ollama):
    fake_ollama.version = "0.12.10"
    result = plugin.invoke_rerank("qwen3", creds(fake_ollama.url, "llm_judge"), QUERY, DOCS)
    assert result.error_type == "InvokeBadRequestError"
    assert "(version 0.12.10)" in result.error_description
    assert "needs Ollama 0.12.11 or newer" in result.error_description


# --- shared behaviour ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "model"),
    [("compatible_service", "jina-reranker-v2"), ("embedding_similarity", "nomic-embed-text"), ("llm_judge", "qwen3")],
)
def test_an_empty_document_list_returns_an_empty_result_without_a_request(
    plugin: PluginProcess, fake_ollama, method, model
):
    result = plugin.invoke_rerank(model, creds(fake_ollama.url, method), QUERY, [])
    assert result.raise_for_error().last_payload == {"model": model, "docs": []}
    assert fake_ollama.requests == []


def test_the_model_schema_lets_dify_list_a_rerank_model(plugin: PluginProcess, fake_ollama: FakeOllama):
    result = plugin.get_model_schema("bge-m3", "rerank", creds(fake_ollama.url, "embedding_similarity"))
    schema = result.raise_for_error().last_payload["model_schema"]
    assert schema["model"] == "bge-m3"
    assert schema["model_type"] == "rerank"


@pytest.mark.parametrize(
    ("method", "model", "version", "words"),
    [
        ("compatible_service", "jina-reranker-v2", None, None),
        ("embedding_similarity", "nomic-embed-text", None, None),
        ("llm_judge", "qwen3", None, None),
        ("compatible_service", "jina-reranker-v2", None, "No rerank endpoint found"),
        ("embedding_similarity", "qwen3", None, "does not have the 'embedding' capability"),
        ("llm_judge", "qwen3", "0.12.6", "is version 0.12.6"),
    ],
)
def test_validation_per_method(plugin: PluginProcess, fake_ollama: FakeOllama, method, model, version, words):
    if words is None:
        fake_ollama.set_route("POST", "/v1/rerank", jina_service)
    if version:
        fake_ollama.version = version
    result = plugin.validate_model_credentials(model, "rerank", creds(fake_ollama.url, method))
    if words is None:
        assert result.ok and result.last_payload["result"] is True
        assert fake_ollama.requests_to("/api/chat") == fake_ollama.requests_to("/api/embed") == []
    else:
        assert result.error_type == "CredentialsValidateFailedError"
        assert words in result.error_message
