"""The model class in-process, as the SDK calls it (`invoke` with filtering, timing and error mapping),
against the fake Ollama over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessageTool,
    ToolPromptMessage,
    UserPromptMessage,
)
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)

from models.llm.llm import OllamaLargeLanguageModel
from tests.fake_ollama import FakeOllama, Scenario

from .support import text

pytestmark = pytest.mark.usefixtures("fresh_caches")

WEATHER = PromptMessageTool(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def invoke(fake: FakeOllama | str, model: str = "qwen3", *, stream: bool = True, credentials: dict | None = None, **kw):
    url = fake if isinstance(fake, str) else fake.url
    llm = OllamaLargeLanguageModel(model_schemas=[])
    return list(
        llm.invoke(
            model,
            {"base_url": url, **(credentials or {})},
            kw.pop("messages", [UserPromptMessage(content="Hi")]),
            kw.pop("parameters", {}),
            kw.pop("tools", None),
            kw.pop("stop", None),
            stream,
        )
    )


def chat_body(fake: FakeOllama) -> dict[str, Any]:
    return fake.last_request("/api/chat").json


def test_streaming_chat_with_thinking_and_tool_calls(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_route("POST", "/api/chat", Scenario.from_fixture("llm_tool_calls_with_ids.ndjson"))

    chunks = invoke(fake_ollama, tools=[WEATHER])

    assert text(chunks) == "<think>\nI need the weather in both cities.\n</think>"
    assert [c.id for chunk in chunks for c in chunk.delta.message.tool_calls] == ["call_p1q2r3s4", "call_t5u6v7w8"]
    final = chunks[-1]
    assert final.delta.finish_reason == "tool_calls"
    assert (final.delta.usage.prompt_tokens, final.delta.usage.completion_tokens) == (201, 64)
    assert 0 < final.delta.usage.latency < 30  # measured from the SDK's per-request start, not from 0
    body = chat_body(fake_ollama)
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["stream"] is True and "think" not in body


def test_blocking_call_streams_from_ollama_and_returns_one_result(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_route("POST", "/api/chat", Scenario.from_fixture("llm_tool_calls_with_ids.ndjson"))

    [chunk] = invoke(fake_ollama, stream=False, tools=[WEATHER])

    assert chunk.delta.message.content == "<think>\nI need the weather in both cities.\n</think>"
    assert [c.id for c in chunk.delta.message.tool_calls] == ["call_p1q2r3s4", "call_t5u6v7w8"]
    assert chunk.delta.usage.prompt_tokens == 201
    assert chat_body(fake_ollama)["stream"] is True


def test_parameters_reach_ollama_after_the_sdk_filter(fake_ollama: FakeOllama) -> None:
    invoke(
        fake_ollama,
        "qwen3",
        credentials={"llm_context_size": "16384"},
        parameters={"temperature": 0.3, "max_tokens": 256, "keep_alive": "-1", "think": False, "mirostat": 1},
        stop=["END"],
    )

    body = chat_body(fake_ollama)
    assert body["options"] == {"temperature": 0.3, "num_predict": 256, "num_ctx": 16384, "stop": ["END"]}
    assert body["keep_alive"] == -1 and body["think"] is False
    assert "mirostat" not in json.dumps(body)


def test_a_non_thinking_model_never_gets_think(fake_ollama: FakeOllama) -> None:
    chunks = invoke(fake_ollama, "llama3.2", parameters={"think": True, "think_level": "high"})

    assert text(chunks) == "Hello! How can I help?"
    assert "think" not in chat_body(fake_ollama)  # no rule for it, so the SDK dropped it


def test_tool_loop_history_is_sent_back_faithfully(fake_ollama: FakeOllama) -> None:
    history = [
        UserPromptMessage(content="Weather in Paris?"),
        AssistantPromptMessage(
            content="<think>\nCall the tool.\n</think>",
            tool_calls=[
                AssistantPromptMessage.ToolCall(
                    id="call_abc12345",
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name="get_weather", arguments='{"city": "Paris"}'
                    ),
                )
            ],
        ),
        ToolPromptMessage(content="18°C", tool_call_id="call_abc12345", name="get_weather"),
    ]
    invoke(fake_ollama, messages=history, tools=[WEATHER])

    messages = chat_body(fake_ollama)["messages"]
    assert messages[1]["thinking"] == "Call the tool."
    assert messages[1]["tool_calls"][0]["id"] == "call_abc12345"
    assert messages[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert messages[2] == {
        "role": "tool",
        "content": "18°C",
        "tool_name": "get_weather",
        "tool_call_id": "call_abc12345",
    }


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    ("scenario", "error", "message"),
    [
        (Scenario.from_fixture("llm_midstream_error.ndjson"), InvokeServerUnavailableError, "CUDA error"),
        (Scenario.from_fixture("llm_missing_done.ndjson"), InvokeServerUnavailableError, "without its final 'done'"),
        (
            Scenario.ndjson([b'{"message":{"content":"a"},"done":false}\n', b"<html>proxy error</html>\n"]),
            InvokeServerUnavailableError,
            "not JSON",
        ),
        (Scenario.from_fixture("llm_thinking_exhausted.ndjson"), InvokeBadRequestError, "Raise Max Tokens"),
        (Scenario.error(404, "model 'qwen3' not found"), InvokeBadRequestError, "ollama pull qwen3"),
        (
            Scenario.error(400, "registry.ollama.ai/library/qwen3:latest does not support tools"),
            InvokeBadRequestError,
            "does not support tools",
        ),
    ],
)
def test_broken_answers_end_in_the_right_invoke_error(fake_ollama, scenario, error, message, stream) -> None:
    fake_ollama.set_route("POST", "/api/chat", scenario)
    with pytest.raises(error, match=message):
        invoke(fake_ollama, stream=stream)


def test_unreachable_server_is_a_connection_error_with_a_docker_hint(closed_port_url: str) -> None:
    with pytest.raises(InvokeConnectionError, match="host.docker.internal"):
        invoke(closed_port_url)


def test_bad_json_schema_is_a_bad_request(fake_ollama: FakeOllama) -> None:
    with pytest.raises(InvokeBadRequestError, match="not valid JSON"):
        invoke(fake_ollama, parameters={"json_schema": "{oops"})
    assert fake_ollama.requests_to("/api/chat") == []


def test_completion_mode(fake_ollama: FakeOllama) -> None:
    chunks = invoke(fake_ollama, "llama3.2", credentials={"llm_mode": "completion"})

    assert text(chunks) == "Once upon a time."
    assert fake_ollama.last_request("/api/generate").json["prompt"] == "Hi"


# --- validation -----------------------------------------------------------------------------------


def validate(fake: FakeOllama | str, model: str, **fields: str) -> None:
    url = fake if isinstance(fake, str) else fake.url
    credentials = {"base_url": url, **{f"llm_{name}": value for name, value in fields.items()}}
    OllamaLargeLanguageModel(model_schemas=[]).validate_credentials(model, credentials)


def test_validation_uses_api_show_and_never_generates(fake_ollama: FakeOllama) -> None:
    validate(fake_ollama, "qwen3", thinking="true", tool_call="true")
    assert [r.path for r in fake_ollama.requests] == ["/api/show"]


@pytest.mark.parametrize(
    ("model", "fields", "message"),
    [
        ("mistral", {}, r"ollama pull mistral.*Models available.*llama3\.2"),
        ("nomic-embed-text", {}, "Add it as Text Embedding instead"),
        ("llama3.2", {"vision": "true"}, "Vision support is set to Yes"),
        ("llama3.2", {"context_size": "big"}, "Model context size 'big' is not a whole number"),
    ],
)
def test_validation_messages_say_what_to_do(fake_ollama: FakeOllama, model: str, fields: dict, message: str) -> None:
    with pytest.raises(CredentialsValidateFailedError, match=message):
        validate(fake_ollama, model, **fields)


def test_validation_of_an_unreachable_server(closed_port_url: str) -> None:
    with pytest.raises(CredentialsValidateFailedError, match="host.docker.internal"):
        validate(closed_port_url, "qwen3")
