"""The Dify rerank adapter in-process, as the SDK calls it, against a loopback fake Ollama / rerank service."""

from __future__ import annotations

import pytest
from dify_plugin.entities.model import ModelType
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.rerank.checks import PROBE_DOCUMENTS, PROBE_QUERY
from models.rerank.rerank import OllamaRerankModel
from tests.fake_ollama import FakeOllama, Scenario
from tests.rerank.fakes import (
    DOCS,
    QUERY,
    act_as_foreign_service,
    install_judge,
    jina_service,
    keyword_embed,
    tei_service,
)

pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture
def model() -> OllamaRerankModel:
    return OllamaRerankModel(model_schemas=[])


def creds(fake: FakeOllama | str, method: str, **fields: str) -> dict[str, str]:
    url = fake if isinstance(fake, str) else fake.url
    return {"base_url": url, "rerank_method": method, **fields}


def ranked(result) -> list[tuple[int, str]]:
    return [(doc.index, doc.text) for doc in result.docs]


@pytest.fixture
def every_method(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.set_route("POST", "/v1/rerank", jina_service)
    fake_ollama.set_route("POST", "/api/embed", keyword_embed)
    install_judge(fake_ollama)
    return fake_ollama


METHODS = [
    ("compatible_service", "jina-reranker-v2"),
    ("embedding_similarity", "nomic-embed-text"),
    ("llm_judge", "qwen3"),
]


@pytest.mark.parametrize(("method", "model_name"), METHODS)
def test_every_method_returns_all_documents_best_first_with_index_and_text(model, every_method, method, model_name):
    result = model.invoke(model_name, creds(every_method, method), QUERY, DOCS, score_threshold=0.0, top_n=0)
    assert result.model == model_name
    assert ranked(result)[:3] == [(1, DOCS[1]), (2, DOCS[2]), (0, DOCS[0])]
    assert len(result.docs) == 4
    scores = [doc.score for doc in result.docs]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(("method", "model_name"), METHODS)
def test_top_n_and_score_threshold_apply_to_every_method(model, every_method, method, model_name):
    credentials = creds(every_method, method)
    assert ranked(model.invoke(model_name, credentials, QUERY, DOCS, score_threshold=0.0, top_n=1)) == [(1, DOCS[1])]
    above = model.invoke(model_name, credentials, QUERY, DOCS, score_threshold=0.5, top_n=0)
    assert [index for index, _ in ranked(above)] == [1, 2]
    assert all(doc.score >= 0.5 for doc in above.docs)


@pytest.mark.parametrize(("method", "model_name"), METHODS)
def test_no_documents_return_an_empty_result_without_any_request(model, fake_ollama, method, model_name):
    result = model.invoke(model_name, creds(fake_ollama, method), QUERY, [], score_threshold=0.0, top_n=0)
    assert result.docs == []
    assert fake_ollama.requests == []


def test_the_tei_shape_works_through_the_adapter(model, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", tei_service)
    result = model.invoke("bge-reranker-v2-m3", creds(fake_ollama, "compatible_service"), QUERY, DOCS, 0.0, 2)
    assert ranked(result) == [(1, DOCS[1]), (2, DOCS[2])]


def test_errors_reach_dify_as_invoke_errors_with_our_message(model, fake_ollama: FakeOllama, closed_port_url: str):
    fake_ollama.set_route("POST", "/v1/rerank", Scenario.json({"detail": "bad key"}, status=401))
    with pytest.raises(InvokeAuthorizationError, match="Check the API key field"):
        model.invoke("m", creds(fake_ollama.url + "/v1/rerank", "compatible_service"), QUERY, DOCS, 0.0, 0)
    with pytest.raises(InvokeConnectionError, match=closed_port_url):
        model.invoke("nomic-embed-text", creds(closed_port_url, "embedding_similarity"), QUERY, DOCS, 0.0, 0)
    with pytest.raises(InvokeBadRequestError, match="Rerank method 'cohere' is not one of 'Auto', "):
        model.invoke("m", creds(fake_ollama, "cohere"), QUERY, DOCS, 0.0, 0)
    fake_ollama.version = "0.12.10"
    with pytest.raises(InvokeBadRequestError, match="needs Ollama 0.12.11 or newer"):
        model.invoke("qwen3", creds(fake_ollama, "llm_judge"), QUERY, DOCS, 0.0, 0)


def test_the_schema_makes_dify_list_the_model(model):
    schema = model.get_customizable_model_schema("bge-m3", {"base_url": "http://h:11434"})
    assert schema.model == "bge-m3"
    assert schema.model_type is ModelType.RERANK


# --- validation ------------------------------------------------------------------------------------------


def test_validating_a_compatible_service_sends_one_real_rerank(model, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/v1/rerank", jina_service)
    model.validate_credentials("jina-reranker-v2", creds(fake_ollama.url + "/v1/rerank", "compatible_service"))
    assert fake_ollama.last_request("/v1/rerank").json["documents"] == PROBE_DOCUMENTS
    assert fake_ollama.last_request("/v1/rerank").json["query"] == PROBE_QUERY


@pytest.mark.parametrize(
    ("method", "model_name", "fields", "message"),
    [
        ("compatible_service", "m", {}, "No rerank endpoint found"),
        ("compatible_service", " ", {}, "Model name is empty"),
        ("compatible_service", "m", {"rerank_service_batch_size": "zero"}, "Documents per request 'zero'"),
        ("embedding_similarity", "llama3.2", {}, "does not have the 'embedding' capability"),
        ("embedding_similarity", "bge-m3", {}, "ollama pull bge-m3"),
        ("embedding_similarity", "nomic-embed-text", {"rerank_embedding_batch_size": "0"}, "Texts per embedding"),
        ("llm_judge", "nomic-embed-text", {}, "does not have the 'completion' capability"),
        ("llm_judge", "qwen3", {"rerank_judge_concurrency": "100"}, "Parallel requests '100'"),
        ("llm_judge", "qwen3", {"rerank_method": "bogus"}, "Rerank method 'bogus' is not one of"),
    ],
)
def test_validation_failures_say_what_to_do(model, fake_ollama: FakeOllama, method, model_name, fields, message):
    with pytest.raises(CredentialsValidateFailedError, match=message):
        model.validate_credentials(model_name, {**creds(fake_ollama, method), **fields})


def test_validating_the_judge_checks_the_ollama_version_without_loading_the_model(model, fake_ollama: FakeOllama):
    model.validate_credentials("qwen3", creds(fake_ollama, "llm_judge"))
    fake_ollama.version = "0.12.6"
    with pytest.raises(CredentialsValidateFailedError, match=r"version 0.12.6.*need Ollama 0.12.11 or newer"):
        model.validate_credentials("qwen3", creds(fake_ollama, "llm_judge"))
    assert fake_ollama.requests_to("/api/chat") == fake_ollama.requests_to("/api/generate") == []


def test_validating_embedding_similarity_needs_no_embedding_call(model, fake_ollama: FakeOllama):
    model.validate_credentials("nomic-embed-text", creds(fake_ollama, "embedding_similarity"))
    assert fake_ollama.requests_to("/api/embed") == []


# --- Auto, the default method -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_name", "path", "called"),
    [
        ("nomic-embed-text", "", "/api/embed"),
        ("qwen3", "", "/api/chat"),
        ("bge-reranker-v2-m3", "/v1/rerank", "/v1/rerank"),
    ],
)
def test_with_no_method_chosen_auto_picks_the_one_that_fits(model, every_method, model_name, path, called):
    credentials = {"base_url": every_method.url + path}
    result = model.invoke(model_name, credentials, QUERY, DOCS, score_threshold=0.0, top_n=0)
    assert ranked(result)[:3] == [(1, DOCS[1]), (2, DOCS[2]), (0, DOCS[0])]
    assert every_method.requests_to(called)
    assert {request.path for request in every_method.requests} <= {"/api/show", called}


def test_auto_finds_a_service_at_a_server_root_that_is_not_ollama(model, fake_ollama: FakeOllama):
    act_as_foreign_service(fake_ollama, Scenario.text("", status=404))
    fake_ollama.set_route("POST", "/rerank", tei_service)
    result = model.invoke("bge-reranker-v2-m3", {"base_url": fake_ollama.url}, QUERY, DOCS, 0.0, 2)
    assert ranked(result) == [(1, DOCS[1]), (2, DOCS[2])]


def test_under_auto_a_stale_hidden_field_of_another_method_does_not_block(model, every_method):
    credentials = {"base_url": every_method.url, "rerank_method": "auto", "rerank_judge_concurrency": "100"}
    assert ranked(model.invoke("qwen3", credentials, QUERY, DOCS, 0.0, 1)) == [(1, DOCS[1])]
    model.validate_credentials("qwen3", credentials)


@pytest.mark.parametrize(
    ("model_name", "path"), [("nomic-embed-text", ""), ("qwen3", ""), ("jina-reranker-v2", "/v1/rerank")]
)
def test_validating_auto_checks_the_method_it_picks(model, every_method, model_name, path):
    model.validate_credentials(model_name, {"base_url": every_method.url + path})
    assert every_method.requests_to("/api/embed") == every_method.requests_to("/api/chat") == []
    assert bool(every_method.requests_to("/v1/rerank")) == bool(path)


def test_validating_auto_with_a_model_ollama_lacks_lists_the_models_there(model, fake_ollama: FakeOllama):
    with pytest.raises(CredentialsValidateFailedError, match=r"ollama pull bge-m3.*Models available on .*qwen3"):
        model.validate_credentials("bge-m3", {"base_url": fake_ollama.url})


@pytest.mark.parametrize(
    ("method", "model_name", "advice"),
    [
        ("embedding_similarity", "qwen3", "Choose the rerank method 'Ollama model as judge' (or 'Auto')"),
        ("llm_judge", "nomic-embed-text", "Choose the rerank method 'Ollama embedding similarity' (or 'Auto')"),
    ],
)
def test_validation_advice_names_the_rerank_method_that_fits(model, fake_ollama, method, model_name, advice):
    with pytest.raises(CredentialsValidateFailedError) as caught:
        model.validate_credentials(model_name, creds(fake_ollama, method))
    assert advice in str(caught.value)
    assert "Add it as" not in str(caught.value)


@pytest.mark.parametrize(
    ("scenario", "invoke_error"),
    [
        (Scenario.json({"message": "slow down"}, status=429), InvokeRateLimitError),
        (Scenario.json({"detail": "CUDA out of memory"}, status=500), InvokeServerUnavailableError),
        (Scenario.json({"detail": "bad model"}, status=400), InvokeBadRequestError),
        (Scenario.json({"results": [{"index": 9, "score": 1.0}]}), InvokeServerUnavailableError),
        (Scenario.text("not json"), InvokeServerUnavailableError),
    ],
)
def test_rerank_service_failures_reach_dify_by_their_kind(model, fake_ollama: FakeOllama, scenario, invoke_error):
    fake_ollama.set_route("POST", "/v1/rerank", scenario)
    with pytest.raises(invoke_error, match=f"{fake_ollama.url}/v1/rerank"):
        model.invoke("bge-reranker", {"base_url": fake_ollama.url + "/v1/rerank"}, QUERY, DOCS, 0.0, 0)


def test_a_rerank_service_that_refuses_connections_is_a_connection_error(model, closed_port_url: str):
    with pytest.raises(InvokeConnectionError, match=f"rerank service at {closed_port_url}/rerank"):
        model.invoke("bge-reranker", {"base_url": closed_port_url + "/rerank"}, QUERY, DOCS, 0.0, 0)
