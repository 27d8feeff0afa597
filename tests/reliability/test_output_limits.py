"""No answer leaves the plugin as a stdout line the daemon would drop (5 MiB): embeddings are refused with a
clear error naming the limit and the fix, before Ollama does the work when the size is known in advance."""

from __future__ import annotations

import pytest
from dify_plugin.errors.model import InvokeBadRequestError

from models.text_embedding.answer_size import check_count_fits, check_vectors_fit, most_vectors
from models.text_embedding.settings import largest_safe_batch
from models.text_embedding.text_embedding import OllamaTextEmbeddingModel
from tests.fake_ollama import FakeOllama, RecordedRequest, Scenario
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


def test_an_answer_of_unusually_long_numbers_is_measured_and_refused(server: FakeOllama) -> None:
    """A server whose numbers are longer than float32's: the count passes the check in advance (the vector
    length is unknown, /api/show failing), the vectors as JSON would not fit, and are refused."""
    server.set_route("POST", "/api/show", Scenario.error(500, "broken"))
    long_value = -1.2345678901234567e-05  # 23 characters as JSON

    def long_numbers(request: RecordedRequest) -> Scenario:
        texts = request.json["input"]
        return Scenario.json({"model": MODEL, "embeddings": [[long_value] * 768 for _ in texts]})

    server.set_route("POST", "/api/embed", long_numbers)
    texts = [f"text {i}" for i in range(300)]  # 300 x 768 values x 24 bytes: 5.3 MiB
    with pytest.raises(InvokeBadRequestError, match=r"about 5\.\d MiB, more than the 5 MiB .* Send at most"):
        OllamaTextEmbeddingModel(model_schemas=[]).invoke(
            MODEL, {"base_url": server.url, "embedding_batch_size": "256"}, texts
        )


def test_a_dify_indexing_batch_of_the_largest_vectors_is_answered() -> None:
    """Dify's knowledge bases send at most 'Batch size' texts per call, and validation keeps the batch size
    within what fits: such an answer never needs measuring and is never refused."""
    dimensions = 4096
    batch = largest_safe_batch(dimensions)
    check_count_fits("m", batch, dimensions)
    check_vectors_fit("m", [[-0.012345678] * dimensions for _ in range(batch)])


def test_a_call_within_the_limit_is_answered_and_fits_one_line(server: FakeOllama) -> None:
    texts = [f"text {i}" for i in range(most_vectors(768))]
    result = OllamaTextEmbeddingModel(model_schemas=[]).invoke(MODEL, {"base_url": server.url}, texts)

    assert len(result.embeddings) == len(texts)
    assert len(result.model_dump_json().encode()) < 5 * 2**20
