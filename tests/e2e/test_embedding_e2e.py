"""Text embedding through `python -m main` and the daemon's stdio protocol, against the fake Ollama."""

from __future__ import annotations

import math

import pytest

from tests.e2e.driver import PluginProcess
from tests.fake_ollama import FakeOllama
from tests.fake_ollama.embed_handler import OllamaEmbedHandler, expected_vector, token_count

pytestmark = pytest.mark.e2e

MODEL = "nomic-embed-text"


@pytest.fixture
def server(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.set_route("POST", "/api/embed", OllamaEmbedHandler(fake_ollama))
    return fake_ollama


def creds(fake: FakeOllama | str, **fields: str) -> dict[str, str]:
    url = fake if isinstance(fake, str) else fake.url
    return {"base_url": url, **{f"embedding_{name}": value for name, value in fields.items()}}


def embed_inputs(fake: FakeOllama) -> list[list[str]]:
    return [request.json["input"] for request in fake.requests_to("/api/embed")]


def test_indexing_like_dify_makes_one_request_per_max_chunks_batch(plugin: PluginProcess, server: FakeOllama):
    credentials = creds(server, batch_size="16")
    schema = plugin.get_model_schema(MODEL, "text-embedding", credentials).raise_for_error().last_payload
    max_chunks = schema["model_schema"]["model_properties"]["max_chunks"]
    assert max_chunks == 16
    assert schema["model_schema"]["model_properties"]["context_size"] == 2048

    chunks = [f"Chunk {i}: " + "knowledge base text " * 20 for i in range(40)]
    vectors, tokens = [], 0
    for start in range(0, len(chunks), max_chunks):  # what Dify's CacheEmbedding does
        batch = chunks[start : start + max_chunks]
        counted = plugin.get_text_embedding_num_tokens(MODEL, credentials, batch).raise_for_error()
        assert len(counted.last_payload["num_tokens"]) == len(batch)
        result = plugin.invoke_text_embedding(MODEL, credentials, batch).raise_for_error()
        assert result.oversized_lines == 0
        vectors += result.last_payload["embeddings"]
        tokens += result.last_payload["usage"]["tokens"]

    assert len(server.requests_to("/api/embed")) == math.ceil(len(chunks) / max_chunks) == 3
    assert vectors == [expected_vector(chunk, 768) for chunk in chunks]
    assert tokens == sum(token_count(chunk) for chunk in chunks)


def test_a_call_larger_than_the_batch_size_is_split_in_order(plugin: PluginProcess, server: FakeOllama):
    texts = [f"text {i}" for i in range(7)]
    result = plugin.invoke_text_embedding(MODEL, creds(server, batch_size="3"), texts).raise_for_error()
    assert embed_inputs(server) == [texts[0:3], texts[3:6], texts[6:]]
    assert result.last_payload["embeddings"] == [expected_vector(text, 768) for text in texts]


def test_prefixes_follow_dify_input_type(plugin: PluginProcess, server: FakeOllama):
    credentials = creds(server, query_prefix="search_query: ", document_prefix="search_document: ")
    plugin.invoke_text_embedding(MODEL, credentials, ["what is RAG?"], input_type="query").raise_for_error()
    plugin.invoke_text_embedding(MODEL, credentials, ["RAG is retrieval."], input_type="document").raise_for_error()
    assert embed_inputs(server) == [["search_query: what is RAG?"], ["search_document: RAG is retrieval."]]


def test_dimensions_and_truncate_off_are_sent(plugin: PluginProcess, server: FakeOllama):
    result = plugin.invoke_text_embedding(MODEL, creds(server, dimensions="256", truncate="false"), ["short"])
    body = server.last_request("/api/embed").json
    assert body["dimensions"] == 256 and body["truncate"] is False
    assert result.raise_for_error().last_payload["embeddings"] == [expected_vector("short", 768, 256)]


def test_truncate_off_and_a_too_long_text_is_a_clear_bad_request(plugin: PluginProcess, server: FakeOllama):
    server.register_model(MODEL, ["embedding"], context_length=64, embedding_length=768)
    result = plugin.invoke_text_embedding(MODEL, creds(server, truncate="false"), ["ok", "long " * 200])
    assert result.error_type == "InvokeBadRequestError"
    assert "the input length exceeds the context length" in result.error_description
    assert "Truncate is off" in result.error_description


@pytest.mark.parametrize(
    ("texts", "fields", "error_type", "words"),
    [
        (["fine", ""], {}, "InvokeBadRequestError", "Text 2 of 2 is empty"),
        (["fine"], {"keep_alive": "a while"}, "InvokeBadRequestError", "Keep alive 'a while'"),
        (["fine"], {"dimensions": "4096"}, "InvokeBadRequestError", "produces 768-dimensional vectors"),
    ],
)
def test_bad_input_and_settings_are_reported(plugin, server, texts, fields, error_type, words):
    result = plugin.invoke_text_embedding(MODEL, creds(server, **fields), texts)
    assert result.error_type == error_type
    assert words in result.error_description


def test_a_model_that_is_not_pulled_on_invoke(plugin: PluginProcess, server: FakeOllama):
    result = plugin.invoke_text_embedding("bge-m3", creds(server), ["x"])
    assert result.error_type == "InvokeBadRequestError"
    assert "ollama pull bge-m3" in result.error_description


def test_an_unreachable_server_on_invoke(plugin: PluginProcess, closed_port_url: str):
    result = plugin.invoke_text_embedding(MODEL, creds(closed_port_url), ["x"])
    assert result.error_type == "InvokeConnectionError"
    assert "host.docker.internal" in result.error_description


def test_token_counts_work_offline(plugin: PluginProcess, closed_port_url: str):
    result = plugin.get_text_embedding_num_tokens(MODEL, creds(closed_port_url), ["abcd" * 25, "知识库"])
    assert result.raise_for_error().last_payload == {"num_tokens": [25, 3]}


@pytest.mark.parametrize(
    ("name", "base", "words"),
    [
        (MODEL, "server", None),
        ("mxbai-embed-large", "server", "ollama pull mxbai-embed-large"),
        ("llama3.2", "server", "does not have the 'embedding' capability"),
        (MODEL, "closed", "Cannot connect to Ollama"),
    ],
)
def test_validation(plugin: PluginProcess, server: FakeOllama, closed_port_url: str, name, base, words):
    url = server.url if base == "server" else closed_port_url
    result = plugin.validate_model_credentials(name, "text-embedding", creds(url))
    if words is None:
        assert result.ok and result.last_payload["result"] is True
        assert server.requests_to("/api/embed") == []  # validation does not load the model
    else:
        assert result.error_type == "CredentialsValidateFailedError"
        assert words in result.error_message


def test_a_full_default_batch_of_4096_dimension_vectors_fits_the_daemon_line(plugin, server: FakeOllama):
    server.register_model("qwen3-embedding:8b", ["embedding"], context_length=40960, embedding_length=4096)
    credentials = creds(server)
    max_chunks = plugin.get_model_schema("qwen3-embedding:8b", "text-embedding", credentials).last_payload[
        "model_schema"
    ]["model_properties"]["max_chunks"]
    texts = [f"passage {i} " * 40 for i in range(max_chunks)]
    result = plugin.invoke_text_embedding("qwen3-embedding:8b", credentials, texts).raise_for_error()
    assert result.oversized_lines == 0
    assert [len(vector) for vector in result.last_payload["embeddings"]] == [4096] * max_chunks
