"""The rerank-service client against a loopback fake service (real HTTP), and its answer shapes."""

from __future__ import annotations

import json
import time

import pytest

from rerank_client import (
    RerankAuthError,
    RerankConfigError,
    RerankConnectionError,
    RerankEndpointNotFoundError,
    RerankModelNotFoundError,
    RerankRateLimitError,
    RerankRequestError,
    RerankResponseError,
    RerankServerError,
    RerankServiceClient,
    RerankTimeoutError,
    ServiceScore,
    normalise_results,
    resolve_service_endpoint,
)
from tests.fake_ollama import FakeOllama, Scenario
from tests.rerank.fakes import DOCS, QUERY, jina_answer, jina_service, service_score, tei_answer, tei_service

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "jina-reranker-v2-base-multilingual"
EXPECTED = {index: service_score(text) for index, text in enumerate(DOCS)}


def client_for(url: str, api_key: str | None = None) -> RerankServiceClient:
    return RerankServiceClient(resolve_service_endpoint(url), api_key, timeout=5)


def as_dict(scored: list[ServiceScore]) -> dict[int, float]:
    return {doc.index: doc.score for doc in scored}


# --- answer shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(jina_answer(DOCS), id="results+relevance_score+document"),
        pytest.param(jina_answer(DOCS, with_text=False), id="results+relevance_score"),
        pytest.param({"data": jina_answer(DOCS)["results"]}, id="data+relevance_score"),
        pytest.param(
            {"results": [{"index": r["index"], "score": r["relevance_score"]} for r in jina_answer(DOCS)["results"]]},
            id="results+score",
        ),
        pytest.param(tei_answer(DOCS), id="tei-list+score"),
        pytest.param(tei_answer(DOCS, with_text=True), id="tei-list+score+text"),
        pytest.param(
            {"results": [{"index": i, "relevance_score": s, "document": DOCS[i]} for i, s in EXPECTED.items()]},
            id="document-as-string",
        ),
    ],
)
def test_every_supported_shape_normalises_to_scores_by_original_index(payload):
    assert as_dict(normalise_results(payload, len(DOCS), "http://svc/rerank")) == EXPECTED


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"object": "error"}, "an object with keys ['object'] instead of a list of results"),
        ("ok", "answered str instead of a list of results"),
        ([["0", 0.5]], "result 0 as list, not an object"),
        ({"results": [{"relevance_score": 0.5}]}, "without an integer 'index'"),
        ({"results": [{"index": 4, "relevance_score": 0.5}]}, "index 4, but only 4 document(s) were sent"),
        ({"results": [{"index": -1, "relevance_score": 0.5}]}, "index -1, but only 4 document(s)"),
        ({"results": [{"index": 0}]}, "without a numeric 'relevance_score' or 'score' (got None)"),
        ({"results": [{"index": 0, "relevance_score": "high"}]}, "(got 'high')"),
        ({"results": [{"index": 0, "score": 0.1}, {"index": 0, "score": 0.2}]}, "index 0 twice"),
    ],
)
def test_bad_shapes_out_of_range_indexes_and_missing_scores_are_clear_errors(payload, message):
    with pytest.raises(RerankResponseError) as caught:
        normalise_results(payload, len(DOCS), "http://svc/rerank")
    assert message in str(caught.value)
    assert "http://svc/rerank" in str(caught.value)


# --- requests --------------------------------------------------------------------------------------------


def test_a_full_endpoint_gets_the_documented_body_with_the_key(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/v1/rerank", jina_service)
    scored = client_for(fake_ollama.url + "/v1/rerank", api_key="jina_123").rerank(MODEL, QUERY, DOCS, top_n=2)

    assert as_dict(scored) == {1: EXPECTED[1], 2: EXPECTED[2]}
    request = fake_ollama.last_request("/v1/rerank")
    assert request.json == {"model": MODEL, "query": QUERY, "documents": DOCS, "top_n": 2}
    assert request.header("authorization") == "Bearer jina_123"


def test_top_n_of_zero_asks_for_every_document(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/v1/rerank", jina_service)
    scored = client_for(fake_ollama.url).rerank(MODEL, QUERY, DOCS, top_n=0)
    assert as_dict(scored) == EXPECTED
    assert fake_ollama.last_request("/v1/rerank").json["top_n"] == len(DOCS)
    assert fake_ollama.last_request("/v1/rerank").header("authorization") is None


def test_a_root_url_falls_back_from_v1_rerank_to_rerank_and_remembers_it(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", jina_service)  # /v1/rerank is the built-in "404 page not found"
    client = client_for(fake_ollama.url)
    assert as_dict(client.rerank(MODEL, QUERY, DOCS)) == EXPECTED
    assert as_dict(client_for(fake_ollama.url).rerank(MODEL, QUERY, DOCS)) == EXPECTED
    assert [request.path for request in fake_ollama.requests] == ["/v1/rerank", "/rerank", "/rerank"]


def test_tei_is_detected_by_its_422_and_asked_in_its_own_shape_from_then_on(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", tei_service)
    url = fake_ollama.url + "/rerank"
    assert as_dict(client_for(url).rerank(MODEL, QUERY, DOCS)) == EXPECTED
    assert as_dict(client_for(url).rerank(MODEL, QUERY, DOCS[:2])) == {0: EXPECTED[0], 1: EXPECTED[1]}

    bodies = [request.json for request in fake_ollama.requests_to("/rerank")]
    assert [sorted(body) for body in bodies] == [
        ["documents", "model", "query", "top_n"],
        ["query", "texts", "truncate"],
        ["query", "texts", "truncate"],
    ]
    assert bodies[1] == {"query": QUERY, "texts": DOCS, "truncate": True}


def test_documents_per_request_splits_and_keeps_original_indexes(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/v1/rerank", jina_service)
    docs = [f"doc {i}" for i in range(4)] + [DOCS[1]]
    scored = client_for(fake_ollama.url + "/v1").rerank(MODEL, QUERY, docs, top_n=1, batch_size=2)

    sent = [request.json for request in fake_ollama.requests_to("/v1/rerank")]
    assert [body["documents"] for body in sent] == [docs[0:2], docs[2:4], docs[4:]]
    # Only the merged list can be cut to top_n, so each request asks for all of its documents.
    assert [body["top_n"] for body in sent] == [2, 2, 1]
    assert as_dict(scored) == {0: 0.1, 1: 0.1, 2: 0.1, 3: 0.1, 4: EXPECTED[1]}


def test_no_endpoint_at_either_path_names_both_urls_and_what_to_enter(fake_ollama: FakeOllama):
    with pytest.raises(RerankEndpointNotFoundError) as caught:
        client_for(fake_ollama.url).rerank(MODEL, QUERY, DOCS)
    message = str(caught.value)
    assert f'{fake_ollama.url}/v1/rerank answered "404 page not found"' in message
    assert f"{fake_ollama.url}/rerank answered" in message
    assert "full rerank endpoint as the Base URL" in message
    assert "Ollama itself has no rerank endpoint" in message


# --- HTTP errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "error_class", "fragments"),
    [
        (Scenario.json({"detail": "Unauthorized"}, status=401), RerankAuthError, ['"Unauthorized"', "API key field"]),
        (
            Scenario.json({"error": {"message": "The model `bge` does not exist.", "code": 404}}, status=404),
            RerankModelNotFoundError,
            ["does not exist", "model name"],
        ),
        (
            Scenario.json(
                {"error": "batch size 40 > maximum allowed batch size 32", "error_type": "Validation"}, status=422
            ),
            RerankRequestError,
            ["batch size 40", "Documents per request"],
        ),
        (Scenario.json({"message": "too many requests"}, status=429), RerankRateLimitError, ["too many requests"]),
        (Scenario.json({"detail": "CUDA out of memory"}, status=500), RerankServerError, ["CUDA out of memory", "log"]),
    ],
)
def test_http_errors_keep_their_kind_and_say_what_to_do(fake_ollama: FakeOllama, scenario, error_class, fragments):
    fake_ollama.set_route("POST", "/v1/rerank", scenario)
    with pytest.raises(error_class) as caught:
        client_for(fake_ollama.url + "/v1/rerank").rerank(MODEL, QUERY, DOCS)
    assert f"{fake_ollama.url}/v1/rerank" in str(caught.value)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert len(fake_ollama.requests_to("/v1/rerank")) == 1


def test_an_html_page_instead_of_json_is_reported_as_such(fake_ollama: FakeOllama):
    page = "<!doctype html><html><head><title>Login</title></head></html>"
    fake_ollama.set_route("POST", "/rerank", Scenario(parts=(page,), content_type="text/html"))
    with pytest.raises(RerankResponseError, match="an HTML page titled 'Login'.*instead of JSON"):
        client_for(fake_ollama.url + "/rerank").rerank(MODEL, QUERY, DOCS)


def test_a_refused_connection_names_the_url_and_the_docker_pitfall(closed_port_url: str):
    with pytest.raises(RerankConnectionError) as caught:
        client_for(closed_port_url + "/rerank").rerank(MODEL, QUERY, DOCS)
    assert f"{closed_port_url}/rerank" in str(caught.value)
    assert "host.docker.internal" in str(caught.value)


def test_no_documents_means_no_request(fake_ollama: FakeOllama):
    assert client_for(fake_ollama.url).rerank(MODEL, QUERY, []) == []
    assert fake_ollama.requests == []


# --- behaviour chosen by status and shape, never by the text of an error ----------------------------------


def test_a_422_that_is_json_is_the_services_own_verdict_and_is_not_resent(fake_ollama: FakeOllama):
    verdict = {"detail": [{"msg": "missing field `texts`", "loc": ["body", "texts"]}]}
    fake_ollama.set_route("POST", "/rerank", Scenario.json(verdict, status=422))
    with pytest.raises(RerankRequestError, match="missing field `texts`"):
        client_for(fake_ollama.url + "/rerank").rerank(MODEL, QUERY, DOCS)
    assert len(fake_ollama.requests_to("/rerank")) == 1


def test_a_422_in_plain_text_is_resent_in_teis_shape_whatever_it_says(fake_ollama: FakeOllama):
    def axum_like(request):
        if "texts" not in request.json:
            return Scenario.text("Unprocessable Entity", status=422)
        return Scenario.json(tei_answer(request.json["texts"]))

    fake_ollama.set_route("POST", "/rerank", axum_like)
    assert as_dict(client_for(fake_ollama.url + "/rerank").rerank(MODEL, QUERY, DOCS)) == EXPECTED
    assert [sorted(r.json) for r in fake_ollama.requests_to("/rerank")][1] == ["query", "texts", "truncate"]


def test_a_plain_text_404_is_a_missing_route_even_when_it_mentions_a_model(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/v1/rerank", Scenario.text("no route for model requests here", status=404))
    fake_ollama.set_route("POST", "/rerank", jina_service)
    assert as_dict(client_for(fake_ollama.url).rerank(MODEL, QUERY, DOCS)) == EXPECTED


def test_starlettes_bare_detail_404_is_a_missing_route(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/v1/rerank", Scenario.json({"detail": "Not Found"}, status=404))
    with pytest.raises(RerankEndpointNotFoundError, match='/v1/rerank answered "Not Found"'):
        client_for(fake_ollama.url).rerank(MODEL, QUERY, DOCS)


# --- limits and secrets -----------------------------------------------------------------------------------


def test_an_answer_over_16_mib_is_refused_with_a_clear_error(fake_ollama: FakeOllama):
    padding = "x" * (16 * 1024 * 1024)
    fake_ollama.set_route("POST", "/rerank", Scenario.text(f'{{"results": [], "pad": "{padding}"}}'))
    with pytest.raises(RerankResponseError, match="answered more than 16 MiB") as caught:
        client_for(fake_ollama.url + "/rerank").rerank(MODEL, QUERY, DOCS)
    assert f"{fake_ollama.url}/rerank" in str(caught.value)


def test_an_error_body_is_read_only_up_to_64_kib(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", Scenario.text("e" * (1024 * 1024), status=500))
    with pytest.raises(RerankServerError) as caught:
        client_for(fake_ollama.url + "/rerank").rerank(MODEL, QUERY, DOCS)
    assert len(str(caught.value)) < 1000  # quoted, cut


def test_a_key_the_service_echoes_never_appears_in_the_error(fake_ollama: FakeOllama):
    key = "jina_0123456789abcdefSECRET"
    fake_ollama.set_route(
        "POST", "/rerank", lambda r: Scenario.json({"detail": f"bad token {r.header('authorization')}"}, status=401)
    )
    with pytest.raises(RerankAuthError) as caught:
        client_for(fake_ollama.url + "/rerank", api_key=key).rerank(MODEL, QUERY, DOCS)
    assert "Bearer ***" in str(caught.value)
    assert "0123456789" not in str(caught.value)


def test_a_413_halves_the_documents_per_request_until_they_fit_and_remembers_it(fake_ollama: FakeOllama):
    def at_most_two(request):
        texts = request.json.get("texts")
        if texts is None:
            return Scenario.text("Failed to deserialize the JSON body", status=422)
        if len(texts) > 2:
            return Scenario.json({"error": f"batch size {len(texts)} > maximum allowed batch size 2"}, status=413)
        return Scenario.json(tei_answer(texts))

    fake_ollama.set_route("POST", "/rerank", at_most_two)
    url = fake_ollama.url + "/rerank"
    assert as_dict(client_for(url).rerank(MODEL, QUERY, DOCS, top_n=1)) == EXPECTED
    sizes = [len(request.json.get("texts") or request.json.get("documents")) for request in fake_ollama.requests]
    assert sizes == [4, 4, 2, 2]  # the documents shape, TEI's shape, then halved

    fake_ollama.clear_requests()
    assert as_dict(client_for(url).rerank(MODEL, QUERY, DOCS)) == EXPECTED
    assert [len(request.json["texts"]) for request in fake_ollama.requests] == [2, 2]


def test_a_413_to_a_single_document_is_a_clear_error(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", Scenario.text("Payload Too Large", status=413))
    with pytest.raises(RerankRequestError, match="too large.*Documents per request"):
        client_for(fake_ollama.url + "/rerank").rerank(MODEL, QUERY, DOCS)
    assert [len(request.json["documents"]) for request in fake_ollama.requests] == [4, 2, 1]


@pytest.mark.parametrize("api_key", ["jina_line\nbreak-SECRETPART", "jina_ключ-SECRETPART"])
def test_a_key_that_cannot_be_sent_is_refused_before_any_request_without_quoting_it(fake_ollama, api_key):
    with pytest.raises(RerankConfigError, match="cannot be sent in an HTTP header") as caught:
        client_for(fake_ollama.url + "/rerank", api_key=api_key).rerank(MODEL, QUERY, DOCS)
    assert "SECRETPART" not in str(caught.value)
    assert fake_ollama.requests == []


def test_a_service_that_trickles_its_answer_is_cut_off_at_the_timeout_in_total(fake_ollama: FakeOllama):
    answer = json.dumps(jina_answer(DOCS))
    parts = [answer[i : i + 8] for i in range(0, len(answer), 8)]
    fake_ollama.set_route(
        "POST", "/rerank", Scenario(parts=tuple(parts), part_delay=0.1, content_type="application/json")
    )
    client = RerankServiceClient(resolve_service_endpoint(fake_ollama.url + "/rerank"), None, timeout=1)
    started = time.monotonic()
    with pytest.raises(RerankTimeoutError, match=r"did not finish within 1 s in total.*Request timeout"):
        client.rerank(MODEL, QUERY, DOCS)
    assert time.monotonic() - started < 1.5  # each part came well within the 1 s read timeout


def test_a_service_that_says_nothing_is_a_timeout_naming_the_url(fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/rerank", Scenario.json(jina_answer(DOCS), headers_delay=2))
    client = RerankServiceClient(resolve_service_endpoint(fake_ollama.url + "/rerank"), None, timeout=0.5)
    with pytest.raises(RerankTimeoutError, match=f"rerank service at {fake_ollama.url}/rerank .* within 0.5 s"):
        client.rerank(MODEL, QUERY, DOCS)
