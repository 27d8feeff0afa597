"""Where a compatible rerank service's Base URL sends the request."""

from __future__ import annotations

import pytest

from models.rerank.service_url import resolve_service_endpoint
from ollama_client import OllamaConfigError


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
    with pytest.raises(OllamaConfigError) as caught:
        resolve_service_endpoint(typed)
    assert problem in str(caught.value)
    assert "https://api.jina.ai/v1/rerank" in str(caught.value)


@pytest.mark.parametrize("typed", ["https://api.example/rerank?key=sk-secret", "https://user:sk-secret@api.example"])
def test_a_secret_in_the_url_is_refused_and_never_repeated(typed):
    with pytest.raises(OllamaConfigError) as caught:
        resolve_service_endpoint(typed)
    assert "sk-secret" not in str(caught.value)
    assert "API key field" in str(caught.value)
