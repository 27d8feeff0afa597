"""The Dify adapter in-process (as the SDK calls it) against a loopback fake Ollama."""

from __future__ import annotations

import pytest
from dify_plugin.entities.model import EmbeddingInputType, ModelPropertyKey
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
)

from models.text_embedding.text_embedding import OllamaTextEmbeddingModel
from ollama_client.token_estimate import estimate_tokens_each
from tests.fake_ollama import FakeOllama
from tests.fake_ollama.embed_handler import OllamaEmbedHandler, expected_vector, token_count

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "nomic-embed-text"


@pytest.fixture
def server(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.set_route("POST", "/api/embed", OllamaEmbedHandler(fake_ollama))
    return fake_ollama


@pytest.fixture
def model() -> OllamaTextEmbeddingModel:
    return OllamaTextEmbeddingModel(model_schemas=[])


def creds(fake: FakeOllama | str, **fields: str) -> dict[str, str]:
    url = fake if isinstance(fake, str) else fake.url
    return {"base_url": url, **{f"embedding_{name}": value for name, value in fields.items()}}


def embed_bodies(fake: FakeOllama) -> list[dict]:
    return [request.json for request in fake.requests_to("/api/embed")]


# --- invoke ----------------------------------------------------------------------------------------------


def test_texts_are_batched_by_the_batch_size_and_keep_their_order(server, model):
    texts = [f"segment {i}: some words about the topic" for i in range(10)]
    result = model.invoke(MODEL, creds(server, batch_size="4"), texts)
    assert [len(body["input"]) for body in embed_bodies(server)] == [4, 4, 2]
    assert result.embeddings == [expected_vector(text, 768) for text in texts]
    assert result.model == MODEL


def test_usage_comes_from_prompt_eval_count(server, model):
    texts = ["x" * 400, "y" * 44]
    result = model.invoke(MODEL, creds(server), texts)
    assert result.usage.tokens == result.usage.total_tokens == token_count(texts[0]) + token_count(texts[1])
    assert result.usage.total_price == 0 and result.usage.currency == "USD"
    assert 0 <= result.usage.latency < 10


@pytest.mark.parametrize(
    ("input_type", "expected"),
    [
        (EmbeddingInputType.QUERY, "search_query: what is RAG?"),
        (EmbeddingInputType.DOCUMENT, "search_document: what is RAG?"),
        ("query", "search_query: what is RAG?"),
    ],
)
def test_prefixes_follow_the_input_type(server, model, input_type, expected):
    credentials = creds(server, query_prefix="search_query: ", document_prefix="search_document: ")
    result = model.invoke(MODEL, credentials, ["what is RAG?"], input_type=input_type)
    assert embed_bodies(server)[-1]["input"] == [expected]
    assert result.embeddings == [expected_vector(expected, 768)]


def test_no_prefix_configured_sends_the_text_unchanged(server, model):
    model.invoke(MODEL, creds(server), ["plain"], input_type=EmbeddingInputType.QUERY)
    assert embed_bodies(server)[-1]["input"] == ["plain"]


def test_an_empty_text_is_refused_even_with_a_prefix(server, model):
    with pytest.raises(InvokeBadRequestError, match="Text 2 of 2 is empty"):
        model.invoke(MODEL, creds(server, document_prefix="search_document: "), ["ok", ""])
    assert embed_bodies(server) == []


def test_truncate_off_sends_false_and_explains_a_too_long_text(server, model):
    server.register_model(MODEL, ["embedding"], context_length=32, embedding_length=768)
    with pytest.raises(InvokeBadRequestError) as caught:
        model.invoke(MODEL, creds(server, truncate="false"), ["short", "z" * 1000])
    assert embed_bodies(server)[-1]["truncate"] is False
    assert "Truncate is off" in str(caught.value) and "1000 characters" in str(caught.value)


def test_dimensions_keep_alive_and_context_size_reach_ollama(server, model):
    credentials = creds(server, dimensions="128", keep_alive="-1", context_size="1024")
    result = model.invoke(MODEL, credentials, ["vector"])
    body = embed_bodies(server)[-1]
    assert body["dimensions"] == 128 and body["keep_alive"] == -1 and body["options"] == {"num_ctx": 1024}
    assert len(result.embeddings[0]) == 128


def test_nothing_optional_is_sent_by_default(server, model):
    model.invoke(MODEL, creds(server), ["vector"])
    assert embed_bodies(server)[-1] == {"model": MODEL, "truncate": True, "input": ["vector"]}


def test_a_bad_field_fails_the_call_with_its_name(server, model):
    with pytest.raises(InvokeBadRequestError, match="Keep alive 'forever'"):
        model.invoke(MODEL, creds(server, keep_alive="forever"), ["x"])


def test_an_unreachable_server_is_a_connection_error(closed_port_url, model):
    with pytest.raises(InvokeConnectionError, match="Cannot connect to Ollama"):
        model.invoke(MODEL, creds(closed_port_url), ["x"])


# --- token counts ----------------------------------------------------------------------------------------


def test_token_counts_need_no_server(closed_port_url, model):
    texts = ["hello world", "知识库", "x" * 500]
    assert model.get_num_tokens(MODEL, creds(closed_port_url), texts) == estimate_tokens_each(texts) == [3, 3, 125]


# --- schema ----------------------------------------------------------------------------------------------


def test_schema_declares_the_batch_size_as_max_chunks_and_the_trained_context(server, model):
    schema = model.get_model_schema(MODEL, creds(server))
    assert schema.model_properties[ModelPropertyKey.MAX_CHUNKS] == 32
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 2048  # from /api/show

    schema = model.get_model_schema(MODEL, creds(server, batch_size="48", context_size="512"))
    assert schema.model_properties[ModelPropertyKey.MAX_CHUNKS] == 48
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 512


def test_schema_never_fails_even_when_the_server_is_down_or_a_field_is_bad(closed_port_url, model):
    schema = model.get_model_schema(MODEL, creds(closed_port_url, batch_size="lots"))
    assert schema.model_properties[ModelPropertyKey.MAX_CHUNKS] == 32
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 2048


# --- validation ------------------------------------------------------------------------------------------


def test_an_embedding_model_validates_without_embedding_anything(server, model):
    model.validate_credentials(MODEL, creds(server))
    assert server.requests_to("/api/embed") == []
    assert len(server.requests_to("/api/show")) == 1


@pytest.mark.parametrize(
    ("name", "fields", "words"),
    [
        ("mxbai-embed-large", {}, ["ollama pull mxbai-embed-large", "nomic-embed-text"]),
        ("llama3.2", {}, ["does not have the 'embedding' capability", "Add it as LLM"]),
        (MODEL, {"dimensions": "1024"}, ["more than model 'nomic-embed-text' produces (768)"]),
        (MODEL, {"context_size": "8192"}, ["trained for (2048 tokens)"]),
        (MODEL, {"keep_alive": "soon"}, ["Keep alive 'soon'"]),
        (MODEL, {"batch_size": "0"}, ["Batch size"]),
    ],
)
def test_validation_says_what_to_do(server, model, name, fields, words):
    with pytest.raises(CredentialsValidateFailedError) as caught:
        model.validate_credentials(name, creds(server, **fields))
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_validation_refuses_batches_too_large_for_the_daemon(server, model):
    server.register_model("qwen3-embedding:8b", ["embedding"], context_length=40960, embedding_length=4096)
    model.validate_credentials("qwen3-embedding:8b", creds(server))  # the default batch fits
    with pytest.raises(CredentialsValidateFailedError, match=r"Set Batch size to \d+ or less"):
        model.validate_credentials("qwen3-embedding:8b", creds(server, batch_size="128"))
    model.validate_credentials("qwen3-embedding:8b", creds(server, batch_size="128", dimensions="1024"))


def test_validation_of_an_unreachable_server_gives_the_docker_hint(closed_port_url, model):
    with pytest.raises(CredentialsValidateFailedError, match="host.docker.internal"):
        model.validate_credentials(MODEL, creds(closed_port_url))
