"""Chat and completion through `python -m main` and the daemon's stdio protocol, against the fake Ollama."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.e2e.driver import InvocationResult, PluginProcess
from tests.fake_ollama import FakeOllama, Scenario

pytestmark = pytest.mark.e2e

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
USER_HI = [{"role": "user", "content": "Hi"}]


def creds(fake: FakeOllama | str, **fields: str) -> dict[str, str]:
    url = fake if isinstance(fake, str) else fake.url
    return {"base_url": url, **{f"llm_{name}": value for name, value in fields.items()}}


def final_chunks(result: InvocationResult) -> list[dict[str, Any]]:
    return [chunk for chunk in result.payloads if chunk["delta"].get("finish_reason") is not None]


def request_body(fake: FakeOllama, path: str = "/api/chat") -> dict[str, Any]:
    return fake.last_request(path).json


# --- chat -----------------------------------------------------------------------------------------


def test_streaming_chat_with_thinking_and_parallel_tool_calls(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/chat", Scenario.from_fixture("llm_tool_calls_with_ids.ndjson"))

    result = plugin.invoke_llm("qwen3", creds(fake_ollama), USER_HI, tools=[WEATHER_TOOL]).raise_for_error()

    assert result.llm_text() == "<think>\nI need the weather in both cities.\n</think>"
    calls = result.llm_tool_calls()  # what a Dify agent collects: every chunk's calls appended
    assert [c["id"] for c in calls] == ["call_p1q2r3s4", "call_t5u6v7w8"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Paris", "unit": "celsius"},
        {"city": "Tokyo", "unit": "celsius"},
    ]
    [final] = final_chunks(result)
    assert final is result.final_llm_chunk()
    assert final["delta"]["finish_reason"] == "tool_calls"
    assert (final["delta"]["usage"]["prompt_tokens"], final["delta"]["usage"]["completion_tokens"]) == (201, 64)
    # The think tags travel alone (Dify's Agent strategies match them as whole chunks); calls carry no text.
    contents = [payload["delta"]["message"]["content"] for payload in result.payloads]
    assert contents == ["<think>\n", "I need the weather in both cities.", "\n</think>", "", "", ""]
    body = request_body(fake_ollama)
    assert body["stream"] is True and body["tools"][0]["function"]["name"] == "get_weather"


def test_blocking_chat_returns_everything_in_one_result(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/chat", Scenario.from_fixture("llm_tool_calls_with_ids.ndjson"))

    result = plugin.invoke_llm("qwen3", creds(fake_ollama), USER_HI, tools=[WEATHER_TOOL], stream=False)

    [payload] = result.raise_for_error().payloads
    message = payload["delta"]["message"]
    assert message["content"] == "<think>\nI need the weather in both cities.\n</think>"
    assert [(c["id"], json.loads(c["function"]["arguments"])["city"]) for c in message["tool_calls"]] == [
        ("call_p1q2r3s4", "Paris"),
        ("call_t5u6v7w8", "Tokyo"),
    ]
    assert payload["delta"]["usage"]["prompt_tokens"] == 201
    assert request_body(fake_ollama)["stream"] is True  # idle timeout instead of a whole-answer timeout


def test_streamed_tool_call_on_the_done_chunk(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/chat", Scenario.from_fixture("llm_tool_calls_on_done.ndjson"))

    result = plugin.invoke_llm("qwen3", creds(fake_ollama), USER_HI, tools=[WEATHER_TOOL]).raise_for_error()

    assert result.llm_text() == "<think>\nUser wants weather for Berlin. Call the tool.\n</think>"
    assert [c["id"] for c in result.llm_tool_calls()] == ["call_b3r1in00"]
    [final] = final_chunks(result)
    assert final["delta"]["message"]["tool_calls"] and final["delta"]["finish_reason"] == "tool_calls"


def test_blocking_calls_to_the_same_function_from_an_old_server_keep_distinct_ids(
    plugin: PluginProcess, fake_ollama: FakeOllama
):
    fake_ollama.set_route("POST", "/api/chat", Scenario.from_fixture("llm_old_server_no_ids.ndjson"))

    result = plugin.invoke_llm("llama3.2", creds(fake_ollama), USER_HI, tools=[WEATHER_TOOL], stream=False)

    calls = result.raise_for_error().llm_tool_calls()
    assert len({c["id"] for c in calls}) == 3
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Paris"},
        {"city": "London"},
        {"zone": "UTC"},
    ]


def test_multi_turn_tool_loop_sends_thinking_tool_calls_and_tool_names(plugin: PluginProcess, fake_ollama: FakeOllama):
    history = [
        {"role": "user", "content": "Weather in Paris and London?"},
        {
            "role": "assistant",
            "content": "<think>\nTwo cities, two calls.\n</think>",
            "tool_calls": [
                {
                    "id": "call_p",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_l",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"London"}'},
                },
            ],
        },
        {"role": "tool", "content": "18°C", "tool_call_id": "call_p", "name": "get_weather"},
        {"role": "tool", "content": "12°C", "tool_call_id": "call_l", "name": ""},
    ]

    plugin.invoke_llm("qwen3", creds(fake_ollama), history, tools=[WEATHER_TOOL]).raise_for_error()

    sent = request_body(fake_ollama)["messages"]
    assert sent[1]["content"] == "" and sent[1]["thinking"] == "Two cities, two calls."
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in sent[1]["tool_calls"]] == [
        ("call_p", "get_weather", {"city": "Paris"}),
        ("call_l", "get_weather", {"city": "London"}),
    ]
    assert sent[2] == {"role": "tool", "content": "18°C", "tool_name": "get_weather", "tool_call_id": "call_p"}
    assert sent[3] == {"role": "tool", "content": "12°C", "tool_name": "get_weather", "tool_call_id": "call_l"}


def test_parameters_and_context_size_reach_ollama(plugin: PluginProcess, fake_ollama: FakeOllama):
    parameters = {"temperature": 0.2, "max_tokens": 300, "keep_alive": "-1", "think_level": "high", "top_k": 20}

    plugin.invoke_llm(
        "qwen3", creds(fake_ollama, context_size="16384"), USER_HI, parameters, stop=["STOP"]
    ).raise_for_error()

    body = request_body(fake_ollama)
    assert body["options"] == {"temperature": 0.2, "top_k": 20, "num_predict": 300, "num_ctx": 16384, "stop": ["STOP"]}
    assert body["keep_alive"] == -1 and body["think"] == "high"


def test_structured_output_sends_the_schema_and_answers_with_json_only(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/chat", Scenario.from_fixture("llm_structured_output.ndjson"))
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
    credentials = creds(fake_ollama)

    declared = plugin.get_model_schema("qwen3", "llm", credentials).raise_for_error().last_payload["model_schema"]
    assert "structured-output" in declared["features"]
    assert "json_schema" in {rule["name"] for rule in declared["parameter_rules"]}

    result = plugin.invoke_llm(
        "qwen3", credentials, USER_HI, {"json_schema": json.dumps({"name": "r", "schema": schema})}
    )

    assert json.loads(result.raise_for_error().llm_text()) == {"name": "Ada", "age": 36}
    assert request_body(fake_ollama)["format"] == schema


def test_vision_with_base64_and_with_an_http_url(plugin: PluginProcess, fake_ollama: FakeOllama):
    # Dify's own signed file URL: fetched from the fake's loopback address without any setting.
    cat = "/files/6f1c2a3e-0b4d-4c5e-9f60-7a8b9c0d1e2f/image-preview"
    fake_ollama.set_route("GET", cat, Scenario(parts=(PNG,), content_type="image/png"))
    image_messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "data": "What is this?"},
                {"type": "image", "format": "png", "mime_type": "image/png", "base64_data": PNG_B64},
                {
                    "type": "image",
                    "format": "png",
                    "mime_type": "image/png",
                    "url": f"{fake_ollama.url}{cat}?timestamp=1700000000&nonce=n&sign=s",
                },
            ],
        }
    ]

    plugin.invoke_llm("llava", creds(fake_ollama), image_messages).raise_for_error()

    [message] = request_body(fake_ollama)["messages"]
    assert message == {"role": "user", "content": "What is this?", "images": [PNG_B64, PNG_B64]}


def test_an_image_for_a_model_without_vision_is_a_clear_error(plugin: PluginProcess, fake_ollama: FakeOllama):
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "format": "png", "mime_type": "image/png", "base64_data": PNG_B64}],
        }
    ]

    result = plugin.invoke_llm("llama3.2", creds(fake_ollama), messages)

    assert result.error_type == "InvokeBadRequestError"
    assert "cannot read images" in result.error_description
    assert fake_ollama.requests_to("/api/chat") == []


def test_completion_mode_uses_generate(plugin: PluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("POST", "/api/generate", Scenario.from_fixture("llm_generate_thinking.ndjson"))
    messages = [{"role": "system", "content": "You are a poet."}, {"role": "user", "content": "A haiku, please."}]

    result = plugin.invoke_llm("qwen3", creds(fake_ollama, mode="completion"), messages).raise_for_error()

    assert result.llm_text() == "<think>\nA haiku needs 5-7-5.\n</think>Autumn moonlight falls"
    body = request_body(fake_ollama, "/api/generate")
    assert (body["prompt"], body["system"], body["stream"]) == ("A haiku, please.", "You are a poet.", True)


# --- schema, validation, tokens -------------------------------------------------------------------


def test_schema_follows_the_models_capabilities(plugin: PluginProcess, fake_ollama: FakeOllama):
    qwen = plugin.get_model_schema("qwen3", "llm", creds(fake_ollama)).raise_for_error().last_payload["model_schema"]
    assert set(qwen["features"]) == {"tool-call", "multi-tool-call", "stream-tool-call", "structured-output"}
    assert qwen["model_properties"] == {"mode": "chat", "context_size": 8192}
    assert {"think", "think_level", "num_ctx", "keep_alive"} <= {rule["name"] for rule in qwen["parameter_rules"]}

    llava = plugin.get_model_schema("llava", "llm", creds(fake_ollama, tool_call="true"))
    assert set(llava.raise_for_error().last_payload["model_schema"]["features"]) >= {"vision", "tool-call"}


def test_schema_without_a_reachable_server(plugin: PluginProcess, closed_port_url: str):
    result = plugin.get_model_schema("qwen3", "llm", creds(closed_port_url, vision="true"))
    schema = result.raise_for_error().last_payload["model_schema"]
    assert set(schema["features"]) == {"vision", "structured-output"}


@pytest.mark.parametrize(
    ("model", "fields", "expected"),
    [
        ("mistral", {}, "ollama pull mistral"),
        ("nomic-embed-text", {}, "Text Embedding"),
        ("llama3.2", {"thinking": "true"}, "Thinking support is set to Yes"),
    ],
)
def test_validation_messages(plugin: PluginProcess, fake_ollama: FakeOllama, model: str, fields: dict, expected: str):
    result = plugin.validate_model_credentials(model, "llm", creds(fake_ollama, **fields))
    assert result.error_type == "CredentialsValidateFailedError"
    assert expected in result.error_message


def test_validation_success_does_not_load_the_model(plugin: PluginProcess, fake_ollama: FakeOllama):
    result = plugin.validate_model_credentials("qwen3", "llm", creds(fake_ollama)).raise_for_error()
    assert result.last_payload["result"] is True
    assert fake_ollama.requests_to("/api/chat") == fake_ollama.requests_to("/api/generate") == []


def test_token_count_is_offline(plugin: PluginProcess, closed_port_url: str):
    messages = [{"role": "user", "content": "你好，世界"}]
    result = plugin.get_llm_num_tokens("qwen3", creds(closed_port_url), messages).raise_for_error()
    assert 5 <= result.last_payload["num_tokens"] <= 20


# --- errors ---------------------------------------------------------------------------------------

ERROR_CASES = [
    (Scenario.from_fixture("llm_midstream_error.ndjson"), "InvokeServerUnavailableError", "CUDA error: out of memory"),
    (Scenario.from_fixture("llm_missing_done.ndjson"), "InvokeServerUnavailableError", "without its final 'done'"),
    (
        Scenario.ndjson([b'{"message":{"content":"a"},"done":false}\n', b"upstream connect error\n"]),
        "InvokeServerUnavailableError",
        "not JSON",
    ),
    (Scenario.from_fixture("llm_thinking_exhausted.ndjson"), "InvokeBadRequestError", "Raise Max Tokens"),
    (Scenario.error(404, "model 'qwen3' not found"), "InvokeBadRequestError", "ollama pull qwen3"),
    (Scenario.error(401, "unauthorized"), "InvokeAuthorizationError", "API key"),
    (Scenario.error(429, "you've reached your hourly usage limit"), "InvokeRateLimitError", "usage limit"),
    (Scenario.error(500, "model runner has unexpectedly stopped"), "InvokeServerUnavailableError", "runner"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "blocking"])
@pytest.mark.parametrize(("scenario", "error_type", "text"), ERROR_CASES)
def test_each_error_kind_arrives_as_its_invoke_class(
    plugin: PluginProcess, fake_ollama: FakeOllama, scenario: Scenario, error_type: str, text: str, stream: bool
):
    fake_ollama.set_route("POST", "/api/chat", scenario)

    result = plugin.invoke_llm("qwen3", creds(fake_ollama), USER_HI, stream=stream)

    assert result.ended and result.error_type == error_type, result.error
    assert text in result.error_description
    assert final_chunks(result) == []  # never a silent success


def test_unreachable_server_is_a_connection_error(plugin: PluginProcess, closed_port_url: str):
    result = plugin.invoke_llm("qwen3", creds(closed_port_url), USER_HI)
    assert result.error_type == "InvokeConnectionError"
    assert "host.docker.internal" in result.error_description


def test_invalid_json_schema_is_a_bad_request(plugin: PluginProcess, fake_ollama: FakeOllama):
    result = plugin.invoke_llm("qwen3", creds(fake_ollama), USER_HI, {"json_schema": "{not json"})
    assert result.error_type == "InvokeBadRequestError"
    assert "not valid JSON" in result.error_description


def test_unsupported_content_type_is_named(plugin: PluginProcess, fake_ollama: FakeOllama):
    messages = [
        {
            "role": "user",
            "content": [{"type": "audio", "format": "mp3", "mime_type": "audio/mpeg", "base64_data": "AAAA"}],
        }
    ]
    result = plugin.invoke_llm("qwen3", creds(fake_ollama), messages)
    assert result.error_type == "InvokeBadRequestError"
    assert "Ollama cannot take audio input" in result.error_description
