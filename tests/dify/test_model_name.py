"""A model name pasted with spaces or a line break reaches Ollama trimmed, in validation and in every call."""

from __future__ import annotations

import pytest
from dify_plugin.entities.model.message import UserPromptMessage

from models.llm.llm import OllamaLargeLanguageModel
from models.text_embedding.text_embedding import OllamaTextEmbeddingModel
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.usefixtures("fresh_caches")

PASTED = " qwen3 \n"


def test_validation_finds_a_pasted_model_name(fake_ollama: FakeOllama):
    OllamaLargeLanguageModel(model_schemas=[]).validate_credentials(PASTED, {"base_url": fake_ollama.url})
    assert [request.json["model"] for request in fake_ollama.requests_to("/api/show")] == ["qwen3"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "blocking"])
def test_a_chat_sends_the_trimmed_name(fake_ollama: FakeOllama, stream: bool):
    llm = OllamaLargeLanguageModel(model_schemas=[])
    result = llm.invoke(
        PASTED, {"base_url": fake_ollama.url}, [UserPromptMessage(content="Hi")], {}, None, None, stream
    )
    list(result)  # the SDK's invoke is a generator in both modes
    assert fake_ollama.last_request("/api/chat").json["model"] == "qwen3"
    assert {request.json["model"] for request in fake_ollama.requests_to("/api/show")} == {"qwen3"}


def test_an_embedding_call_sends_the_trimmed_name(fake_ollama: FakeOllama):
    OllamaTextEmbeddingModel(model_schemas=[]).invoke(" nomic-embed-text\t", {"base_url": fake_ollama.url}, ["a"])
    assert fake_ollama.last_request("/api/embed").json["model"] == "nomic-embed-text"
