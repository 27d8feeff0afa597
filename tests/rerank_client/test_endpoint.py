"""Where a rerank service's Base URL sends the request, and which Base URLs name a rerank endpoint."""

from __future__ import annotations

import pytest

from rerank_client import RerankConfigError, names_rerank_endpoint, resolve_service_endpoint


@pytest.mark.parametrize(
    ("typed", "urls"),
    [
        ("https://api.jina.ai/v1/rerank", ("https://api.jina.ai/v1/rerank",)),
        ("https://api.cohere.com/v2/rerank/", ("https://api.cohere.com/v2/rerank",)),
        ("http://llama:8080/v1/reranking", ("http://llama:8080/v1/reranking",)),
        ("http://tei:8080/rerank", ("http://tei:8080/rerank",)),
        ("http://vllm:8000/v1", ("http://vllm:8000/v1/rerank",)),
        ("HTTP://Infinity:7997/", ("http://infinity:7997/v1/rerank", "http://infinity:7997/rerank")),
        ("192.168.1.20:9997", ("http://192.168.1.20:9997/v1/rerank", "http://192.168.1.20:9997/rerank")),
        ("[::1]:8080", ("http://[::1]:8080/v1/rerank", "http://[::1]:8080/rerank")),
        (
            "https://gw.example/xinference",
            ("https://gw.example/xinference/v1/rerank", "https://gw.example/xinference/rerank"),
        ),
    ],
)
def test_full_endpoints_are_kept_and_roots_get_v1_rerank_then_rerank(typed, urls):
    assert resolve_service_endpoint(typed).urls == urls


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "it is empty"),
        (None, "it is empty"),
        ("ftp://files/rerank", "the scheme 'ftp' is not supported"),
        ("http://host:99999/rerank", "cannot be parsed"),
        ("http:///rerank", "no host name"),
    ],
)
def test_unusable_urls_say_what_is_wrong_and_show_examples(typed, problem):
    with pytest.raises(RerankConfigError) as caught:
        resolve_service_endpoint(typed)
    assert problem in str(caught.value)
    assert "https://api.jina.ai/v1/rerank" in str(caught.value)


@pytest.mark.parametrize("typed", ["https://api.example/rerank?key=sk-secret", "https://user:sk-secret@api.example"])
def test_a_secret_in_the_url_is_refused_and_never_repeated(typed):
    with pytest.raises(RerankConfigError) as caught:
        resolve_service_endpoint(typed)
    assert "sk-secret" not in str(caught.value)
    assert "API key field" in str(caught.value)


@pytest.mark.parametrize(
    "typed",
    [
        "http://tei:8080/v1/rerank",
        "http://127.0.0.1:8080/rerank/",
        "https://api.cohere.com/v2/rerank",
        "llama:8080/v1/reranking",
        "http://gw/xinference/v1/Rerank",
    ],
)
def test_a_url_ending_in_a_rerank_endpoint_names_one(typed):
    assert names_rerank_endpoint(typed) is True


@pytest.mark.parametrize(
    "typed", ["http://localhost:11434", "http://ollama:11434/api", "http://vllm:8000/v1", "http://gw/rerank/ollama"]
)
def test_a_server_root_or_an_ollama_url_does_not(typed):
    assert names_rerank_endpoint(typed) is False
