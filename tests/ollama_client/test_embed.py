"""ollama_client.embed against a real loopback server that follows Ollama's /api/embed rules."""

from __future__ import annotations

import pytest

from ollama_client import (
    ClientConfig,
    OllamaBadRequestError,
    OllamaClient,
    OllamaConfigError,
    OllamaConnectionError,
    OllamaContextOverflowError,
    OllamaEndpointNotFoundError,
    OllamaModelNotFoundError,
    OllamaServerError,
    OllamaUnsupportedFeatureError,
    RetryPolicy,
)
from ollama_client.embed import DEFAULT_BATCH_SIZE, EmbedInputError, embed
from ollama_client.token_estimate import estimate_tokens
from tests.fake_ollama import FakeOllama, Scenario
from tests.fake_ollama.embed_handler import OllamaEmbedHandler, expected_vector, token_count

MODEL = "nomic-embed-text"
LENGTH = 768  # nomic-embed-text's embedding_length in the fake's registry


@pytest.fixture
def server(fake_ollama: FakeOllama) -> FakeOllama:
    fake_ollama.set_route("POST", "/api/embed", OllamaEmbedHandler(fake_ollama))
    return fake_ollama


def client_for(fake: FakeOllama) -> OllamaClient:
    return OllamaClient(ClientConfig.create(fake.url), RetryPolicy(backoff_seconds=0))


def sent_inputs(fake: FakeOllama) -> list[list[str]]:
    return [request.json["input"] for request in fake.requests_to("/api/embed")]


def test_one_request_per_batch_with_vectors_in_input_order(server):
    texts = [f"chunk number {i}" for i in range(7)]
    result = embed(client_for(server), MODEL, texts, batch_size=3)
    assert sent_inputs(server) == [texts[0:3], texts[3:6], texts[6:7]]
    assert result.embeddings == [expected_vector(text, LENGTH) for text in texts]
    assert result.requests == 3
    assert result.dimensions == LENGTH


def test_a_call_within_the_batch_size_is_one_request_with_a_list_input(server):
    result = embed(client_for(server), MODEL, ["only one"])
    assert sent_inputs(server) == [["only one"]]
    assert len(result.embeddings) == 1
    assert DEFAULT_BATCH_SIZE >= 16


def test_usage_is_the_sum_of_prompt_eval_count_over_requests(server):
    texts = ["a" * 40, "b" * 80, "c" * 120]
    result = embed(client_for(server), MODEL, texts, batch_size=2)
    assert result.prompt_tokens == sum(token_count(text) for text in texts) == 60
    assert result.tokens_estimated is False


def test_usage_is_estimated_only_for_answers_without_prompt_eval_count(fake_ollama, shared_examples):
    # The published multi-input example has no prompt_eval_count; the next answer has one.
    fake_ollama.enqueue(
        "POST",
        "/api/embed",
        Scenario.from_shared_example("api_md.embed.multi.json"),
        Scenario.json({"model": "all-minilm", "embeddings": [[0.1] * 10], "prompt_eval_count": 7}),
    )
    texts = ["Why is the sky blue?", "Why is the grass green?", "third"]
    result = embed(client_for(fake_ollama), "all-minilm", texts, batch_size=2)
    assert result.prompt_tokens == estimate_tokens(texts[0]) + estimate_tokens(texts[1]) + 7
    assert result.tokens_estimated is True
    assert result.embeddings[0][:2] == [0.010071029, -0.0017594862]


def test_settings_are_sent_only_when_given(server):
    embed(client_for(server), MODEL, ["x"])
    plain = server.last_request("/api/embed").json
    assert plain == {"model": MODEL, "truncate": True, "input": ["x"]}

    embed(client_for(server), MODEL, ["x"], truncate=False, dimensions=256, keep_alive=-1, options={"num_ctx": 8192})
    full = server.last_request("/api/embed").json
    assert full["truncate"] is False
    assert full["dimensions"] == 256
    assert full["keep_alive"] == -1
    assert full["options"] == {"num_ctx": 8192}


def test_dimensions_shorten_the_vectors(server):
    result = embed(client_for(server), MODEL, ["short vectors please"], dimensions=64)
    assert result.embeddings == [expected_vector("short vectors please", LENGTH, 64)]


def test_truncate_off_gives_an_error_that_names_the_setting_and_the_text(server):
    server.register_model("nomic-embed-text", ["embedding"], context_length=16, embedding_length=LENGTH)
    texts = ["fits", "x" * 200]
    with pytest.raises(OllamaContextOverflowError) as caught:
        embed(client_for(server), MODEL, texts, truncate=False)
    message = str(caught.value)
    assert "the input length exceeds the context length" in message
    assert "Truncate is off" in message and "200 characters" in message


def test_truncate_on_lets_ollama_cut_long_texts(server):
    server.register_model("nomic-embed-text", ["embedding"], context_length=16, embedding_length=LENGTH)
    result = embed(client_for(server), MODEL, ["x" * 200])
    assert result.prompt_tokens == 16
    assert len(result.embeddings) == 1


@pytest.mark.parametrize(
    ("texts", "words"),
    [
        (["fine", ""], ["Text 2 of 2", "empty"]),
        (["   \n\t"], ["Text 1 of 1", "whitespace"]),
        (["fine", None], ["Text 2 of 2", "NoneType"]),
        ("one string", ["list of texts"]),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(server, texts, words):
    with pytest.raises(EmbedInputError) as caught:
        embed(client_for(server), MODEL, texts)
    assert all(word in str(caught.value) for word in words)
    assert isinstance(caught.value, OllamaBadRequestError)
    assert server.requests_to("/api/embed") == []


def test_no_texts_means_no_request(server):
    result = embed(client_for(server), MODEL, [])
    assert result.embeddings == [] and result.requests == 0 and result.prompt_tokens == 0
    assert server.requests_to("/api/embed") == []


@pytest.mark.parametrize(("batch_size", "dimensions"), [(0, None), (257, None), (True, None), (8, 0), (8, "64")])
def test_bad_settings_are_config_errors(server, batch_size, dimensions):
    with pytest.raises(OllamaConfigError):
        embed(client_for(server), MODEL, ["x"], batch_size=batch_size, dimensions=dimensions)


def test_fewer_vectors_than_texts_is_an_error_not_a_silent_drop(fake_ollama):
    fake_ollama.enqueue("POST", "/api/embed", Scenario.json({"model": MODEL, "embeddings": [[0.1, 0.2]]}))
    with pytest.raises(OllamaServerError) as caught:
        embed(client_for(fake_ollama), MODEL, ["one", "two"])
    assert "returned 1 vectors for 2 texts" in str(caught.value)


def test_an_answer_without_embeddings_is_an_error(fake_ollama):
    fake_ollama.enqueue("POST", "/api/embed", Scenario.json({"embedding": [0.1, 0.2]}))
    with pytest.raises(OllamaServerError, match="without an 'embeddings' list"):
        embed(client_for(fake_ollama), MODEL, ["one"])


def test_a_non_json_answer_is_reported_as_not_ollama(fake_ollama):
    fake_ollama.enqueue("POST", "/api/embed", Scenario.text("<html><title>Login</title></html>"))
    with pytest.raises(OllamaConnectionError, match="HTML page titled 'Login'.*Check that the Base URL points at"):
        embed(client_for(fake_ollama), MODEL, ["one"])


def test_vectors_of_mixed_length_across_batches_are_an_error(fake_ollama):
    fake_ollama.enqueue(
        "POST",
        "/api/embed",
        Scenario.json({"model": MODEL, "embeddings": [[0.1, 0.2]]}),
        Scenario.json({"model": MODEL, "embeddings": [[0.1, 0.2, 0.3]]}),
    )
    with pytest.raises(OllamaServerError, match="different lengths"):
        embed(client_for(fake_ollama), MODEL, ["one", "two"], batch_size=1)


def test_dimensions_ignored_by_an_old_server_are_reported(fake_ollama):
    fake_ollama.enqueue("POST", "/api/embed", Scenario.json({"model": MODEL, "embeddings": [[0.6, 0.8, 0.0]]}))
    with pytest.raises(OllamaUnsupportedFeatureError, match=r"0\.11\.11"):
        embed(client_for(fake_ollama), MODEL, ["one"], dimensions=2)


def test_dimensions_above_the_model_size_are_reported(server):
    with pytest.raises(OllamaBadRequestError) as caught:
        embed(client_for(server), MODEL, ["one"], dimensions=1024)
    assert "produces 768-dimensional vectors" in str(caught.value)
    assert not isinstance(caught.value, OllamaUnsupportedFeatureError)


def test_a_model_that_is_not_pulled_says_to_pull_it(server):
    with pytest.raises(OllamaModelNotFoundError, match="ollama pull mxbai-embed-large"):
        embed(client_for(server), "mxbai-embed-large", ["one"])


def test_a_server_without_api_embed_suggests_an_upgrade(fake_ollama):
    fake_ollama.enqueue("POST", "/api/embed", Scenario.text("404 page not found", status=404))
    with pytest.raises(OllamaEndpointNotFoundError, match=r"0\.2\.6"):
        embed(client_for(fake_ollama), MODEL, ["one"])


def test_old_does_not_support_embeddings_500_becomes_an_unsupported_feature(fake_ollama):
    fake_ollama.enqueue("POST", "/api/embed", Scenario.error(500, "this model does not support embeddings"))
    with pytest.raises(OllamaUnsupportedFeatureError, match="Pick an embedding model"):
        embed(client_for(fake_ollama), "llama3.2", ["one"])
