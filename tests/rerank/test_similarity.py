"""Embedding similarity: cosine in pure Python and batched /api/embed against a loopback fake Ollama."""

from __future__ import annotations

import pytest

from models.connection import ollama_client
from models.input_errors import UserInputError
from models.rerank.settings import SimilaritySettings
from models.rerank.similarity import EmbeddingSimilarity, cosine_similarity
from ollama_client import OllamaUnsupportedFeatureError
from tests.fake_ollama import FakeOllama
from tests.rerank.fakes import DOCS, QUERY, cosine, keyword_embed, keyword_vector

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "nomic-embed-text"


@pytest.fixture
def server(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.set_route("POST", "/api/embed", keyword_embed)
    return fake_ollama


def similarity(fake: FakeOllama, model: str = MODEL, **settings) -> EmbeddingSimilarity:
    chosen = SimilaritySettings(**{"query_prefix": "", "document_prefix": "", "batch_size": 32, **settings})
    return EmbeddingSimilarity(ollama_client({"base_url": fake.url}), model, chosen)


def test_cosine_similarity_of_known_vectors():
    assert cosine_similarity([3.0, 4.0], [3.0, 4.0]) == pytest.approx(1.0)
    assert cosine_similarity([1.0, 0.0], [-1.0, 0.0]) == pytest.approx(-1.0)
    assert cosine_similarity([1.0, 1.0], [1.0, 0.0]) == pytest.approx(0.7071067811865476)
    assert cosine_similarity([0.0, 0.0], [1.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match="different lengths"):
        cosine_similarity([1.0], [1.0, 2.0])


def test_documents_score_by_cosine_with_the_query_and_empty_ones_score_zero(server: FakeOllama):
    scored = similarity(server).score(QUERY, DOCS)

    query_vector = keyword_vector(QUERY)
    expected = [cosine(query_vector, keyword_vector(text)) for text in DOCS[:3]] + [0.0]
    assert [doc.score for doc in scored] == pytest.approx(expected)
    assert scored[1].score > scored[2].score > scored[0].score
    # One request: the query first, then the non-empty documents.
    assert [request.json["input"] for request in server.requests_to("/api/embed")] == [[QUERY, *DOCS[:3]]]


def test_prefixes_are_put_before_query_and_documents(server: FakeOllama):
    similarity(server, query_prefix="search_query: ", document_prefix="search_document: ").score(QUERY, DOCS[:2])
    assert server.last_request("/api/embed").json["input"] == [
        f"search_query: {QUERY}",
        f"search_document: {DOCS[0]}",
        f"search_document: {DOCS[1]}",
    ]


def test_texts_are_embedded_in_batches_of_the_configured_size(server: FakeOllama):
    docs = [f"Paris fact {i}" for i in range(5)]
    scored = similarity(server, batch_size=2).score(QUERY, docs)
    assert [len(request.json["input"]) for request in server.requests_to("/api/embed")] == [2, 2, 2]
    assert [doc.index for doc in scored] == [0, 1, 2, 3, 4]


def test_a_chat_model_is_refused_because_its_vectors_rank_poorly(server: FakeOllama):
    with pytest.raises(
        OllamaUnsupportedFeatureError, match="'llama3.2'.*not an embedding model.*Ollama model as judge"
    ):
        similarity(server, model="llama3.2").score(QUERY, DOCS)
    assert server.requests_to("/api/embed") == []


def test_an_empty_query_is_a_clear_error(server: FakeOllama):
    with pytest.raises(UserInputError, match="query is empty"):
        similarity(server).score("  ", DOCS)


def test_only_empty_documents_need_no_embedding(server: FakeOllama):
    assert [doc.score for doc in similarity(server).score(QUERY, ["", " "])] == [0.0, 0.0]
    assert server.requests_to("/api/embed") == []
