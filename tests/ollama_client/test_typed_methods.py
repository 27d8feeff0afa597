"""OllamaClient's typed methods: each sends its endpoint's shape, and answers keep every field Ollama sent."""

from __future__ import annotations

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaConnectionError, OllamaStreamError
from ollama_client.wire import ChatRequest, GenerateRequest
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk, generate_chunk

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "qwen3"
TOOL_CALL = {"id": "call_7", "function": {"index": 1, "name": "get_time", "arguments": {"zone": "UTC"}}}


def client(fake: FakeOllama) -> OllamaClient:
    return OllamaClient(ClientConfig.create(fake.url))


def test_chat_streams_batches_and_keeps_tool_call_ids_indexes_and_unknown_fields(fake_ollama: FakeOllama):
    last = {**chat_chunk(MODEL, done=True, done_reason="stop"), "a_field_from_a_later_ollama": 1}
    answer = [chat_chunk(MODEL, "Hi"), chat_chunk(MODEL, tool_calls=[TOOL_CALL]), last]
    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson(answer))

    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "time?"}])
    received = [chunk for batch in client(fake_ollama).chat(request) for chunk in batch]

    assert received == answer
    assert received[1]["message"]["tool_calls"] == [TOOL_CALL]
    sent = fake_ollama.requests_to("/api/chat")[0].json
    assert sent["stream"] is True and sent["messages"] == request["messages"]
    assert "stream" not in request  # the caller's request is not changed


def test_generate_streams_from_the_generate_endpoint(fake_ollama: FakeOllama):
    answer = [generate_chunk(MODEL, "4"), generate_chunk(MODEL, done=True, done_reason="stop")]
    fake_ollama.enqueue("POST", "/api/generate", Scenario.ndjson(answer))

    batches = list(client(fake_ollama).generate(GenerateRequest(model=MODEL, prompt="2+2=", raw=True)))

    assert [chunk for batch in batches for chunk in batch] == answer
    sent = fake_ollama.requests_to("/api/generate")[0].json
    assert sent["stream"] is True and sent["raw"] is True and sent["prompt"] == "2+2="


def test_whole_answers_are_asked_for_unstreamed(fake_ollama: FakeOllama):
    whole = chat_chunk(MODEL, "yes", done=True, done_reason="stop")
    fake_ollama.enqueue("POST", "/api/chat", Scenario.json(whole))
    fake_ollama.enqueue("POST", "/api/generate", Scenario.json(generate_chunk(MODEL, "no", done=True)))

    assert client(fake_ollama).chat_answer(ChatRequest(model=MODEL, messages=[]))["message"]["content"] == "yes"
    assert client(fake_ollama).generate_answer(GenerateRequest(model=MODEL, prompt="?"))["response"] == "no"
    assert fake_ollama.requests_to("/api/chat")[0].json["stream"] is False
    assert fake_ollama.requests_to("/api/generate")[0].json["stream"] is False


def test_embed_show_tags_and_version_reach_their_endpoints(fake_ollama: FakeOllama):
    fake_ollama.enqueue("POST", "/api/embed", Scenario.json({"model": MODEL, "embeddings": [[0.5, 0.25]]}))
    ollama = client(fake_ollama)

    assert ollama.embed({"model": MODEL, "input": ["a"]})["embeddings"] == [[0.5, 0.25]]
    assert fake_ollama.requests_to("/api/embed")[0].json == {"model": MODEL, "input": ["a"]}
    assert isinstance(ollama.show(MODEL).get("capabilities"), list)
    assert all(isinstance(entry, dict) for entry in ollama.tags())
    assert ollama.version() == fake_ollama.version
    assert ollama.endpoint_url("chat") == f"{fake_ollama.url}/api/chat"


def test_errors_without_a_model_never_name_model_none(fake_ollama: FakeOllama):
    """Before, a call without a model printed "(model 'None')" when its answer broke or ended early."""
    ollama = client(fake_ollama)
    fake_ollama.enqueue("POST", "/api/x", Scenario.ndjson([chat_chunk(MODEL, "a"), chat_chunk(MODEL, "b")]))
    with pytest.raises(OllamaStreamError) as ended:
        list(ollama.stream("/api/x", {}))
    fake_ollama.enqueue(
        "POST", "/api/x", Scenario.ndjson([chat_chunk(MODEL, "a"), chat_chunk(MODEL, "b")], close_after_parts=1)
    )
    with pytest.raises(OllamaConnectionError) as broke:
        list(ollama.stream("/api/x", {}))

    for error in (ended.value, broke.value):
        assert f"Ollama at {fake_ollama.url}/api/x " in str(error)
        assert "None" not in str(error)
    assert "without its final 'done' chunk" in str(ended.value)
    assert "broke in the middle of the answer" in str(broke.value)
