import json
import logging
import socket
import threading

import httpx
import pytest
import respx

from ollama_client import (
    ClientConfig,
    OllamaAuthError,
    OllamaBadRequestError,
    OllamaClient,
    OllamaConnectionError,
    OllamaContextOverflowError,
    OllamaEndpointNotFoundError,
    OllamaModelNotFoundError,
    OllamaRateLimitError,
    OllamaRedirectError,
    OllamaServerBusyError,
    OllamaServerError,
    OllamaStreamError,
    OllamaTimeoutError,
    OllamaUnsupportedFeatureError,
    RetryPolicy,
    close_pooled_clients,
)
from ollama_client.pool import http_client_for

pytestmark = pytest.mark.usefixtures("fresh_caches")

BASE = "http://ollama.test:11434"
SECRET = "sk-test-abcdef0123456789"
NO_WAIT = RetryPolicy(backoff_seconds=0)


def client(api_key: str | None = None, timeout: float = 30) -> OllamaClient:
    return OllamaClient(ClientConfig.create(BASE, api_key, timeout), NO_WAIT)


def ndjson(*objects: dict) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def error_json(text: str) -> dict:
    return {"json": {"error": text}}


STATUS_CASES = [
    # (status, response kwargs, expected class, words the message must contain)
    (
        400,
        error_json("registry.ollama.ai/library/gemma:2b does not support tools"),
        OllamaUnsupportedFeatureError,
        ["does not support tools", "Turn that feature off"],
    ),
    (
        400,
        error_json('"gemma" does not support thinking'),
        OllamaUnsupportedFeatureError,
        ["does not support thinking"],
    ),
    (
        400,
        error_json(
            "the prompt is longer than the context length currently available to the model; shorten the "
            "prompt, adjust the context length in settings, or use a model with a longer context length"
        ),
        OllamaContextOverflowError,
        ["longer than the context length", "context size"],
    ),
    (400, error_json("the input length exceeds the context length"), OllamaContextOverflowError, ["exceeds"]),
    (400, error_json('invalid think value: "x"'), OllamaBadRequestError, ['invalid think value: "x"']),
    (401, error_json("unauthorized"), OllamaAuthError, ["unauthorized", "API key", "ollama.com/settings/keys"]),
    (403, error_json("ollama cloud is disabled: remote model is unavailable"), OllamaAuthError, ["OLLAMA_NO_CLOUD"]),
    (403, {"content": b""}, OllamaAuthError, ["OLLAMA_HOST=0.0.0.0"]),
    (404, error_json("model 'llama9' not found"), OllamaModelNotFoundError, ["ollama pull llama9", "ollama list"]),
    (
        404,
        error_json('model "llama9" not found, try pulling it first'),
        OllamaModelNotFoundError,
        ["ollama pull llama9"],
    ),
    (
        404,
        {"content": b"404 page not found", "headers": {"content-type": "text/plain"}},
        OllamaEndpointNotFoundError,
        ["does not serve the Ollama API", "404 page not found"],
    ),
    (405, {"content": b"405 method not allowed"}, OllamaBadRequestError, ["405"]),
    (
        429,
        error_json("you've reached your hourly usage limit, please wait or upgrade to continue"),
        OllamaRateLimitError,
        ["hourly usage limit"],
    ),
    (499, error_json("request canceled"), OllamaServerError, ["request canceled"]),
    (
        500,
        error_json("model runner has unexpectedly stopped, this may be due to resource limitations"),
        OllamaServerError,
        ["unexpectedly stopped", "server log"],
    ),
    (
        502,
        {
            "content": b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "headers": {"content-type": "text/html"},
        },
        OllamaServerError,
        ["HTML page titled '502 Bad Gateway'", "reverse proxy"],
    ),
    (504, {"content": b"upstream timed out"}, OllamaServerError, ["upstream timed out"]),
    (
        503,
        error_json("server busy, please try again.  maximum pending requests exceeded"),
        OllamaServerBusyError,
        ["server busy", "OLLAMA_MAX_QUEUE"],
    ),
]


@pytest.mark.parametrize(("status", "response", "expected", "words"), STATUS_CASES)
@respx.mock
def test_http_errors_become_typed_errors_that_name_model_url_and_fix(status, response, expected, words):
    respx.post(f"{BASE}/api/chat").mock(return_value=httpx.Response(status, **response))
    with pytest.raises(expected) as caught:
        client().post_json("/api/chat", {"model": "llama9"}, model="llama9")
    error = caught.value
    assert type(error) is expected
    assert error.status == status
    assert f"{BASE}/api/chat" in str(error)
    assert "llama9" in str(error)
    for word in words:
        assert word in str(error)


@pytest.mark.parametrize(("status", "response", "expected", "words"), STATUS_CASES)
@respx.mock
def test_streaming_requests_classify_http_errors_the_same_way(status, response, expected, words):
    respx.post(f"{BASE}/api/chat").mock(return_value=httpx.Response(status, **response))
    with pytest.raises(expected):
        list(client().stream("/api/chat", {"model": "llama9"}, model="llama9"))


@respx.mock
def test_redirect_is_not_followed_and_names_the_target():
    route = respx.post(f"{BASE}/api/chat").mock(
        return_value=httpx.Response(301, headers={"location": "https://ollama.test/api/chat"})
    )
    with pytest.raises(OllamaRedirectError, match="redirect .*https://ollama.test/api/chat"):
        client().post_json("/api/chat", {}, model="m")
    assert route.call_count == 1


def test_connection_refused_suggests_docker_networking(closed_port_url):
    with pytest.raises(OllamaConnectionError) as caught:
        OllamaClient(ClientConfig.create(closed_port_url), NO_WAIT).version()
    message = str(caught.value)
    assert "connection refused" in message
    assert "host.docker.internal" in message and "LAN IP" in message
    assert closed_port_url in message


@respx.mock
def test_dns_failure_is_named_as_such_and_retried_a_bounded_number_of_times():
    def fail(request):
        raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(-2, "unknown")

    route = respx.get(f"{BASE}/api/version").mock(side_effect=fail)
    with pytest.raises(OllamaConnectionError, match="host name could not be resolved"):
        client().version()
    assert route.call_count == 3


@respx.mock
def test_connect_timeout_and_read_timeout_are_timeout_errors():
    respx.get(f"{BASE}/api/version").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(OllamaTimeoutError, match="Could not connect"):
        client().version()
    respx.post(f"{BASE}/api/chat").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(OllamaTimeoutError, match="Request timeout"):
        client(timeout=42).post_json("/api/chat", {}, model="m")


@respx.mock
def test_connection_failure_then_success_is_retried_transparently():
    route = respx.get(f"{BASE}/api/version").mock(
        side_effect=[httpx.ConnectError("Connection refused"), httpx.Response(200, json={"version": "0.13.0"})]
    )
    assert client().version() == "0.13.0"
    assert route.call_count == 2


@respx.mock
def test_503_is_retried_then_succeeds():
    route = respx.post(f"{BASE}/api/chat").mock(
        side_effect=[
            httpx.Response(503, json={"error": "server busy"}),
            httpx.Response(200, content=ndjson({"message": {"content": "hi"}, "done": True})),
        ]
    )
    assert [c["message"]["content"] for c in client().stream("/api/chat", {}, model="m")] == ["hi"]
    assert route.call_count == 2


@respx.mock
def test_503_gives_up_after_bounded_retries():
    route = respx.post(f"{BASE}/api/chat").mock(return_value=httpx.Response(503, json={"error": "server busy"}))
    with pytest.raises(OllamaServerBusyError):
        list(client().stream("/api/chat", {}, model="m"))
    assert route.call_count == 3


@pytest.mark.parametrize("status", [400, 404, 429, 500, 502])
@respx.mock
def test_other_statuses_are_not_retried(status):
    route = respx.post(f"{BASE}/api/chat").mock(return_value=httpx.Response(status, json={"error": "x"}))
    with pytest.raises(Exception):  # noqa: B017 - the class is covered above; here only the count matters
        client().post_json("/api/chat", {}, model="m")
    assert route.call_count == 1


@respx.mock
def test_a_stream_that_breaks_after_output_is_never_replayed():
    def broken_body():
        yield ndjson({"message": {"content": "Hel"}, "done": False})
        raise httpx.ReadError("Connection reset by peer")

    route = respx.post(f"{BASE}/api/chat").mock(side_effect=lambda request: httpx.Response(200, content=broken_body()))
    received = []
    with pytest.raises(OllamaConnectionError, match="broke in the middle of the answer"):
        for chunk in client().stream("/api/chat", {}, model="m"):
            received.append(chunk["message"]["content"])
    assert received == ["Hel"]
    assert route.call_count == 1


@respx.mock
def test_midstream_error_line_raises_after_delivering_earlier_chunks():
    body = ndjson(
        {"message": {"content": "a"}, "done": False}, {"error": "an error was encountered while running the model"}
    )
    respx.post(f"{BASE}/api/chat").mock(return_value=httpx.Response(200, content=body))
    received = []
    with pytest.raises(OllamaStreamError, match="while running the model") as caught:
        for chunk in client().stream("/api/chat", {}, model="qwen3"):
            received.append(chunk)
    assert len(received) == 1
    assert "qwen3" in str(caught.value) and f"{BASE}/api/chat" in str(caught.value)


@respx.mock
def test_read_timeout_in_the_middle_of_a_stream_is_a_timeout_error():
    def stalled():
        yield ndjson({"message": {"content": "a"}, "done": False})
        raise httpx.ReadTimeout("stalled")

    respx.post(f"{BASE}/api/chat").mock(side_effect=lambda request: httpx.Response(200, content=stalled()))
    with pytest.raises(OllamaTimeoutError, match="sent nothing for 7 s"):
        list(client(timeout=7).stream("/api/chat", {}, model="m"))


@respx.mock
def test_ok_status_with_html_is_reported_not_parsed():
    respx.get(f"{BASE}/api/version").mock(
        return_value=httpx.Response(
            200, content=b"<html><title>Login</title></html>", headers={"content-type": "text/html"}
        )
    )
    with pytest.raises(
        OllamaConnectionError, match="HTML page titled 'Login' .*Check that the Base URL points at the Ollama server"
    ):
        client().version()


@respx.mock
def test_api_key_is_sent_as_bearer_and_never_appears_in_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    echo = httpx.Response(401, json={"error": f"unauthorized: bad token Bearer {SECRET}"})
    route = respx.post(f"{BASE}/api/chat").mock(return_value=echo)
    with pytest.raises(OllamaAuthError) as caught:
        client(api_key=SECRET).post_json("/api/chat", {}, model="m")
    assert route.calls.last.request.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(caught.value)
    assert SECRET not in (caught.value.ollama_message or "")
    assert SECRET not in repr(ClientConfig.create(BASE, SECRET))

    respx.get(f"{BASE}/api/version").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(OllamaConnectionError) as caught:
        client(api_key=SECRET).version()
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text


@respx.mock
def test_no_authorization_header_without_a_key():
    route = respx.get(f"{BASE}/api/version").mock(return_value=httpx.Response(200, json={"version": "1"}))
    client().version()
    assert "authorization" not in route.calls.last.request.headers


def test_one_pool_per_server_whatever_the_key_and_timeout_shared_across_threads():
    a = http_client_for(BASE)
    assert a is http_client_for(BASE + "/prefix")
    assert a is not http_client_for("http://other.test:11434")
    assert http_client_for("https://ollama.com") is http_client_for("https://ollama.com:443/")
    close_pooled_clients()
    seen = []
    barrier = threading.Barrier(8)

    def grab():
        barrier.wait()
        seen.append(http_client_for(BASE))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1


@respx.mock
def test_key_and_timeout_travel_with_each_request_and_connect_is_capped():
    route = respx.get(f"{BASE}/api/tags").mock(return_value=httpx.Response(200, json={"models": []}))
    OllamaClient(ClientConfig.create(BASE, "k1", 900), NO_WAIT).get_json("/api/tags")
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer k1"
    # /api/tags is a metadata call: at most 10 s whatever the Request timeout.
    assert sent.extensions["timeout"]["read"] <= 10 and sent.extensions["timeout"]["connect"] <= 10
    chat = respx.post(f"{BASE}/api/chat").mock(return_value=httpx.Response(200, json={"done": True}))
    OllamaClient(ClientConfig.create(BASE, "k2", 900), NO_WAIT).post_json("/api/chat", {})
    sent = chat.calls.last.request
    assert sent.headers["authorization"] == "Bearer k2"
    assert 899 < sent.extensions["timeout"]["read"] <= 900
    assert sent.extensions["timeout"]["connect"] == 10


@respx.mock
def test_streamed_request_answered_by_an_html_page_names_it_without_reading_it_as_ndjson():
    respx.post(f"{BASE}/api/chat").mock(
        return_value=httpx.Response(
            200, content=b"<!DOCTYPE html><html><title>Sign in</title></html>", headers={"content-type": "text/html"}
        )
    )
    with pytest.raises(OllamaConnectionError) as caught:
        list(client().stream("/api/chat", {}, model="m"))
    assert "answered HTTP 200 with an HTML page titled 'Sign in'" in str(caught.value)
    assert "Check that the Base URL points at the Ollama server" in str(caught.value)
