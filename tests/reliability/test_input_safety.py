"""Input safety: image URLs, base64, tool-call arguments, oversized prompts, and the API key, which must never
appear in anything the plugin writes (stdout protocol lines and logs, stderr, error payloads)."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import pytest

from models.llm.images import ImageInputError, download_image
from ollama_client import ClientConfig, OllamaClient, OllamaServerBusyError, RetryPolicy, close_pooled_clients
from tests.fake_ollama import FakeOllama, RecordedRequest, Scenario, chat_chunk
from tests.reliability.support import (
    MODEL,
    USER_HI,
    RecordingPluginProcess,
    assert_serves_normally,
    creds,
    final_chunks,
)

pytestmark = pytest.mark.e2e

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
VISION_MODEL = "llava"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
API_KEY = "sk-ollama-7Hq2ZrX9vLmP4nB8cK1tY6wE"
# Dify's own signed file URLs: reachable on the fake's loopback address without any setting.
CAT = "/files/6f1c2a3e-0b4d-4c5e-9f60-7a8b9c0d1e2f/file-preview"
SIGNED = "?timestamp=1700000000&nonce=n0nce&sign=secret-signature"


def image_message(url: str | None = None, base64_data: str | None = None) -> list[dict[str, Any]]:
    image: dict[str, Any] = {"type": "image", "format": "png", "mime_type": "image/png"}
    image.update({"url": url} if url is not None else {"base64_data": base64_data})
    return [{"role": "user", "content": [{"type": "text", "data": "What is this?"}, image]}]


def assert_refused_before_ollama(result, fake: FakeOllama, message_start: str) -> None:
    assert result.error_type == "InvokeBadRequestError", result.error
    assert result.error_description.startswith(message_start), result.error_description
    assert fake.requests_to("/api/chat") == []  # nothing was sent to Ollama


# --- images ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://files.example/cat.png", "gopher://127.0.0.1:70/1", "/files/cat.png"]
)
def test_image_urls_only_over_http(plugin: RecordingPluginProcess, fake_ollama: FakeOllama, url: str):
    result = plugin.invoke_llm(VISION_MODEL, creds(fake_ollama.url), image_message(url))

    assert_refused_before_ollama(result, fake_ollama, "Image URL ")
    assert "only http(s) URLs and base64 data can be sent to Ollama" in result.error_description
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_every_image_redirect_is_checked_again(plugin: RecordingPluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("GET", CAT, Scenario.redirect("file:///etc/passwd", status=302))

    result = plugin.invoke_llm(VISION_MODEL, creds(fake_ollama.url), image_message(fake_ollama.url + CAT + SIGNED))

    assert_refused_before_ollama(result, fake_ollama, "Image URL file:///etc/passwd uses the scheme 'file'")
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_image_redirects_are_bounded(plugin: RecordingPluginProcess, fake_ollama: FakeOllama):
    fake_ollama.set_route("GET", CAT, Scenario.redirect(CAT + SIGNED + "&again=1", status=302))

    url = fake_ollama.url + CAT + SIGNED
    result = plugin.invoke_llm(VISION_MODEL, creds(fake_ollama.url), image_message(url))

    assert_refused_before_ollama(result, fake_ollama, f"Image URL {fake_ollama.url}{CAT} redirects more than 3")
    assert "secret-signature" not in result.error_description  # Dify's file URLs carry a signature
    assert len(fake_ollama.requests_to(CAT)) == 4  # the first request and 3 redirects
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


@pytest.mark.parametrize("chunked", [False, True], ids=["declared-length", "chunked"])
def test_image_size_is_capped(plugin: RecordingPluginProcess, fake_ollama: FakeOllama, chunked: bool):
    huge = PNG + b"\0" * (20 * 1024 * 1024)
    fake_ollama.set_route("GET", CAT, Scenario(parts=(huge,), content_type="image/png", chunked=chunked))

    result = plugin.invoke_llm(VISION_MODEL, creds(fake_ollama.url), image_message(fake_ollama.url + CAT + SIGNED))

    assert_refused_before_ollama(
        result, fake_ollama, f"The image {fake_ollama.url}{CAT} is larger than 20 MB; send a smaller image."
    )
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_image_download_timeout_bounds_a_trickling_server(fake_ollama: FakeOllama):
    """Each read arrives within the timeout, but the whole download must not take longer than it."""
    trickle = Scenario(parts=[PNG[i : i + 8] for i in range(0, len(PNG), 8)], content_type="image/png", part_delay=0.2)
    fake_ollama.set_route("GET", CAT, trickle)

    started = time.monotonic()
    with pytest.raises(ImageInputError, match=r"took longer than 0\.5 s"):
        download_image(fake_ollama.url + CAT + SIGNED, timeout=0.5)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not base64 at all!", "The image data is not valid base64 data."),
        ("data:image/png;base64,@@@@", "The image in the data URL is not valid base64 data."),
        ("data:image/png,plain", "An image data URL must look like data:image/png;base64,<data>."),
    ],
)
def test_base64_is_validated_before_sending(
    plugin: RecordingPluginProcess, fake_ollama: FakeOllama, data: str, message: str
):
    result = plugin.invoke_llm(VISION_MODEL, creds(fake_ollama.url), image_message(base64_data=data))

    assert_refused_before_ollama(result, fake_ollama, message)
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


# --- tool-call arguments ---------------------------------------------------------------------------------


def test_tool_arguments_from_the_server_that_are_not_json_are_a_clear_error(
    plugin: RecordingPluginProcess, fake_ollama: FakeOllama
):
    """Ollama sends arguments as an object; a proxy in front of it may pass a model's broken string through."""
    broken = [{"id": "call_1", "function": {"name": "get_weather", "arguments": '{"city": "Par'}}]
    fake_ollama.set_route(
        "POST",
        "/api/chat",
        Scenario.ndjson(
            [chat_chunk(MODEL, "Checking."), chat_chunk(MODEL, tool_calls=broken), chat_chunk(MODEL, done=True)]
        ),
    )

    result = plugin.invoke_llm(MODEL, creds(fake_ollama.url), USER_HI, tools=[WEATHER_TOOL])

    # The model's fault, not the user's input: not a bad request.
    assert result.error_type == "InvokeServerUnavailableError"
    assert result.error_description.startswith(
        "The model called the tool 'get_weather' with arguments that are not a JSON object ('{\"city\": \"Par'), so "
        "the tool cannot be run."
    )
    assert result.llm_tool_calls() == [] and final_chunks(result) == []
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_tool_arguments_as_a_json_string_object_pass_through(plugin: RecordingPluginProcess, fake_ollama: FakeOllama):
    as_text = [{"id": "call_1", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    fake_ollama.set_route(
        "POST", "/api/chat", Scenario.ndjson([chat_chunk(MODEL, tool_calls=as_text), chat_chunk(MODEL, done=True)])
    )

    result = plugin.invoke_llm(MODEL, creds(fake_ollama.url), USER_HI, tools=[WEATHER_TOOL]).raise_for_error()

    [call] = result.llm_tool_calls()
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize("arguments", ['{"city": "Par', "city=Paris", "[1, 2]"])
def test_tool_arguments_in_the_history_that_are_not_a_json_object_are_a_clear_error(
    plugin: RecordingPluginProcess, fake_ollama: FakeOllama, arguments: str
):
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
            ],
        },
        {"role": "tool", "content": "18°C", "tool_call_id": "c1", "name": "get_weather"},
    ]

    result = plugin.invoke_llm(MODEL, creds(fake_ollama.url), history, tools=[WEATHER_TOOL])

    assert_refused_before_ollama(
        result,
        fake_ollama,
        "The conversation history holds a call to the tool 'get_weather' whose arguments are not a JSON object "
        f"({arguments!r}); Ollama accepts only an object there.",
    )
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


# --- oversized prompts -----------------------------------------------------------------------------------

CONTEXT_MESSAGE = (
    "the prompt is longer than the context length currently available to the model; shorten the prompt, adjust "
    "the context length in settings, or use a model with a longer context length"
)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "blocking"])
def test_an_oversized_prompt_fails_with_ollamas_context_message(
    plugin: RecordingPluginProcess, fake_ollama: FakeOllama, stream: bool
):
    prompt = "All work and no play makes Jack a dull boy. " * 100_000  # 4.4 MB
    fake_ollama.set_route("POST", "/api/chat", Scenario.error(400, CONTEXT_MESSAGE))

    result = plugin.invoke_llm(MODEL, creds(fake_ollama.url), [{"role": "user", "content": prompt}], stream=stream)

    assert result.error_type == "InvokeBadRequestError"
    assert result.error_description == (
        f"Ollama at {fake_ollama.url}/api/chat (model 'qwen3') answered HTTP 400: \"{CONTEXT_MESSAGE}\". Shorten the "
        "input, raise the model's context size, or use a model with a longer context."
    )
    assert fake_ollama.last_request("/api/chat").json["messages"][0]["content"] == prompt  # sent whole, not cut
    tokens = plugin.get_llm_num_tokens(MODEL, creds(fake_ollama.url), [{"role": "user", "content": prompt}])
    assert tokens.raise_for_error().last_payload["num_tokens"] > 8192  # Dify can budget before sending
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_an_oversized_embedding_input_fails_with_ollamas_context_message(
    plugin: RecordingPluginProcess, fake_ollama: FakeOllama
):
    message = "input exceeds maximum context length and cannot be truncated further"
    fake_ollama.set_route("POST", "/api/embed", Scenario.error(400, message))

    result = plugin.invoke_text_embedding("nomic-embed-text", creds(fake_ollama.url), ["word " * 200_000])

    assert result.error_type == "InvokeBadRequestError"
    assert f'answered HTTP 400: "{message}". Shorten the input' in result.error_description
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


# --- the API key -----------------------------------------------------------------------------------------


def echo_authorization(status: int, template: str = "denied for {auth}", **options: Any):
    """A server or proxy that quotes the request's Authorization header in its answer."""

    def answer(request: RecordedRequest) -> Scenario:
        body = template.replace("{auth}", request.header("authorization") or "")
        return Scenario(status=status, parts=(body,), content_type=options.pop("content_type", "text/plain"), **options)

    return answer


def written_except_echoed_credentials(plugin: RecordingPluginProcess) -> bytes:
    """All the plugin wrote, minus the one place the protocol itself returns the credentials: the result of a
    successful validation (`{"result": true, "credentials": {...}}`, which Dify stores)."""
    kept = []
    for line in plugin.written().splitlines(keepends=True):
        try:
            message = json.loads(line)
        except ValueError:
            kept.append(line)
            continue
        payload = ((message.get("data") or {}).get("data") or {}) if isinstance(message, dict) else {}
        if isinstance(payload, dict) and payload.get("result") is True and "credentials" in payload:
            payload["credentials"] = "<returned to Dify by protocol>"
            kept.append(json.dumps(message).encode())
        else:
            kept.append(line)
    return b"".join(kept)


def test_the_api_key_never_appears_in_anything_the_plugin_writes(
    plugin: RecordingPluginProcess, fake_ollama: FakeOllama
):
    keyed = creds(fake_ollama.url, api_key=API_KEY)
    outcomes = []

    def chat(answer) -> None:
        fake_ollama.set_route("POST", "/api/chat", answer)
        outcomes.append(plugin.invoke_llm(MODEL, keyed, USER_HI))

    # Answers that quote the Authorization header: in an error status body (JSON, text, HTML title), a 503 that
    # is retried (and logged), a redirect target, a streamed error line, and a non-JSON line.
    chat(lambda r: Scenario.error(401, f"invalid token {r.header('authorization')}"))
    chat(echo_authorization(403, "<html><head><title>Denied {auth}</title></head></html>", content_type="text/html"))
    chat(echo_authorization(503, headers={"Retry-After": "0"}))
    chat(lambda r: Scenario.redirect(f"https://login.example/?token={r.header('authorization')}"))
    chat(
        lambda r: Scenario.ndjson([chat_chunk(MODEL, "a"), {"error": f"bad request with {r.header('authorization')}"}])
    )
    chat(lambda r: Scenario.ndjson([chat_chunk(MODEL, "a"), f"proxy says {r.header('authorization')}\n"]))
    fake_ollama.set_route("POST", "/api/chat", None)
    # Capability lookups and validation read /api/show; the embedding model /api/embed; rerank a foreign service.
    fake_ollama.set_route("POST", "/api/show", echo_authorization(200))
    outcomes.append(plugin.validate_model_credentials(MODEL, "llm", keyed))
    outcomes.append(plugin.invoke_llm(MODEL, keyed, USER_HI))  # the schema step logs that /api/show failed
    fake_ollama.set_route("POST", "/api/show", None)
    fake_ollama.set_route("POST", "/api/embed", echo_authorization(401))
    outcomes.append(plugin.invoke_text_embedding("nomic-embed-text", keyed, ["hello"]))
    fake_ollama.set_route("POST", "/api/embed", echo_authorization(200))
    outcomes.append(plugin.invoke_text_embedding("nomic-embed-text", keyed, ["hello"]))
    rerank = creds(fake_ollama.url + "/v1/rerank", api_key=API_KEY, rerank_method="compatible_service")
    for status in (401, 200, 500):
        fake_ollama.set_route("POST", "/v1/rerank", echo_authorization(status))
        outcomes.append(plugin.invoke_rerank("bge-reranker", rerank, "query", ["a", "b"]))
    outcomes.append(plugin.validate_model_credentials(MODEL, "llm", keyed))  # succeeds: credentials echoed
    assert_serves_normally(plugin, fake_ollama, keyed)

    authorizations = {request.header("authorization") for request in fake_ollama.requests}
    assert authorizations == {f"Bearer {API_KEY}"}  # the key was sent every time, so every echo carried it
    succeeded = [index for index, outcome in enumerate(outcomes) if outcome.ok]
    assert succeeded == [7, len(outcomes) - 1]  # the chat whose schema lookup failed, the last validation
    assert all("Bearer ***" in outcome.error_message for outcome in outcomes if outcome.error), [
        outcome.error_message for outcome in outcomes
    ]  # the echoed header arrived, and was redacted (in the redirect case: inside the quoted Location)
    written = written_except_echoed_credentials(plugin)
    assert API_KEY.encode() not in written
    assert API_KEY[8:].encode() not in written


@pytest.mark.parametrize(
    "api_key", ["sk-line\nbreak-9QxSECRETPART", "sk-nul\x00-9QxSECRETPART", "sk-ключ-9QxSECRETPART"]
)
def test_an_api_key_that_cannot_be_sent_is_a_clear_error_without_the_key(
    plugin: RecordingPluginProcess, fake_ollama: FakeOllama, api_key: str
):
    keyed = creds(fake_ollama.url, api_key=api_key)

    result = plugin.invoke_llm(MODEL, keyed, USER_HI)
    validation = plugin.validate_model_credentials(MODEL, "llm", keyed)

    expected = "The API key contains a line break, control character or non-ASCII character, which cannot be sent"
    assert result.error_type == "InvokeBadRequestError" and result.error_description.startswith(expected)
    assert validation.error_type == "CredentialsValidateFailedError" and validation.error_message.startswith(expected)
    assert fake_ollama.requests == []
    assert b"SECRETPART" not in plugin.written()
    assert_serves_normally(plugin, fake_ollama, creds(fake_ollama.url))


def test_the_api_key_is_not_in_any_log_record_even_at_debug_level(
    fake_ollama: FakeOllama, caplog: pytest.LogCaptureFixture
):
    """In-process, with every logger at DEBUG (httpx, httpcore, the retry log): more than the plugin runtime shows."""
    close_pooled_clients()
    fake_ollama.set_route("POST", "/api/chat", echo_authorization(503, headers={"Retry-After": "0"}))
    client = OllamaClient(ClientConfig.create(fake_ollama.url, API_KEY, 5), RetryPolicy(backoff_seconds=0))

    with caplog.at_level(logging.DEBUG), pytest.raises(OllamaServerBusyError) as caught:
        list(client.stream("/api/chat", {"model": MODEL, "messages": []}, model=MODEL))
    close_pooled_clients()

    assert "retrying POST" in caplog.text  # the retries were logged, quoting the error
    assert "Bearer ***" in caplog.text and "Bearer ***" in str(caught.value)
    assert API_KEY not in caplog.text and API_KEY not in str(caught.value)
