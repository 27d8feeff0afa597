"""No answer leaves the plugin as a stdout line the daemon would drop (5 MiB): embeddings are refused with a
clear error naming the limit and the fix, before Ollama does the work when the size is known in advance."""

from __future__ import annotations

import pytest
from dify_plugin.errors.model import InvokeBadRequestError

from models.text_embedding.answer_size import most_vectors
from models.text_embedding.text_embedding import OllamaTextEmbeddingModel
from tests.fake_ollama import FakeOllama, Scenario
from tests.fake_ollama.embed_handler import OllamaEmbedHandler

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "nomic-embed-text"  # 768-dimensional in the fake's library


@pytest.fixture
def server(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.set_route("POST", "/api/embed", OllamaEmbedHandler(fake_ollama))
    return fake_ollama


def test_ten_thousand_texts_are_refused_before_ollama_embeds_them(server: FakeOllama) -> None:
    texts = [f"text {i}" for i in range(10_000)]
    with pytest.raises(InvokeBadRequestError, match=r"more than the 5 MiB .* Send at most \d+ texts per call"):
        OllamaTextEmbeddingModel(model_schemas=[]).invoke(MODEL, {"base_url": server.url}, texts)

    assert server.requests_to("/api/embed") == []


def test_the_answer_is_checked_even_when_the_vector_length_was_not_known_in_advance(server: FakeOllama) -> None:
    # /api/show unavailable: the length is learnt from the vectors themselves, and the answer is still refused.
    server.set_route("POST", "/api/show", Scenario.error(500, "broken"))
    texts = [f"text {i}" for i in range(most_vectors(768) + 1)]
    with pytest.raises(InvokeBadRequestError, match="Send at most"):
        OllamaTextEmbeddingModel(model_schemas=[]).invoke(
            MODEL, {"base_url": server.url, "embedding_batch_size": "256"}, texts
        )


def test_a_call_within_the_limit_is_answered_and_fits_one_line(server: FakeOllama) -> None:
    texts = [f"text {i}" for i in range(most_vectors(768))]
    result = OllamaTextEmbeddingModel(model_schemas=[]).invoke(MODEL, {"base_url": server.url}, texts)

    assert len(result.embeddings) == len(texts)
    assert len(result.model_dump_json().encode()) < 5 * 2**20
