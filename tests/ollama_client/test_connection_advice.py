"""Connection failures and 401/404 answers get the advice that fits the failure and the address."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable

import httpx
import pytest
import respx

from ollama_client import (
    ClientConfig,
    OllamaAuthError,
    OllamaClient,
    OllamaConnectionError,
    OllamaModelNotFoundError,
    OllamaTLSError,
    RetryPolicy,
)

pytestmark = pytest.mark.usefixtures("fresh_caches")

NO_WAIT = RetryPolicy(backoff_seconds=0)


def client_for(base_url: str, api_key: str | None = None, retry: RetryPolicy = NO_WAIT) -> OllamaClient:
    return OllamaClient(ClientConfig.create(base_url, api_key, 30), retry)


def dns_failure(request):
    raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(-2, "unknown")


def refused(request):
    raise httpx.ConnectError("[Errno 111] Connection refused") from ConnectionRefusedError(111, "refused")


@pytest.mark.parametrize(
    ("base_url", "version_url", "failure", "says", "does_not_say"),
    [
        pytest.param(
            "http://host.docker.internal:11434",
            "http://host.docker.internal:11434/api/version",
            dns_failure,
            ["host name could not be resolved", 'extra_hosts: ["host.docker.internal:host-gateway"]', "LAN IP"],
            ["use http://host.docker.internal"],
            id="unresolvable host.docker.internal gets the Linux fix, not itself",
        ),
        pytest.param(
            "http://ollama-box:11434",
            "http://ollama-box:11434/api/version",
            dns_failure,
            ["spelling of the host name", "IP address"],
            ["host.docker.internal"],
            id="unresolvable other name suggests the IP address",
        ),
        pytest.param(
            "http://gateway.test",
            "http://gateway.test/api/version",
            refused,
            [
                "connection refused",
                "port 11434 by default",
                "uses port 80",
                "without a port means port 80",
                "add :11434",
            ],
            [],
            id="refused on a port other than 11434 names Ollama's default port",
        ),
        pytest.param(
            "192.168.1.20",
            "http://192.168.1.20:11434/api/version",
            refused,
            ["http://192.168.1.20:11434/api/version", "OLLAMA_HOST=0.0.0.0"],
            ["by default, but"],
            id="refused on 11434 of another machine says listen on all interfaces",
        ),
    ],
)
@respx.mock
def test_a_connection_failure_gets_the_advice_that_fits_it_and_the_address(
    base_url: str, version_url: str, failure: Callable[[httpx.Request], None], says: list[str], does_not_say: list[str]
):
    respx.get(version_url).mock(side_effect=failure)
    with pytest.raises(OllamaConnectionError) as caught:
        client_for(base_url).version()
    message = str(caught.value)
    for advice in says:
        assert advice in message
    for wrong in does_not_say:
        assert wrong not in message


@pytest.fixture
def plain_http_server():
    """A loopback server that answers every connection with plain HTTP, counting the connections."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)
            try:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            finally:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    listener.close()
    thread.join(timeout=2)


def test_https_to_a_plain_http_server_says_use_http_and_is_not_retried(plain_http_server):
    port, accepted = plain_http_server
    with pytest.raises(OllamaConnectionError) as caught:
        client_for(f"https://127.0.0.1:{port}", retry=RetryPolicy()).version()
    message = str(caught.value)
    assert "plain HTTP" in message and "start with http:// instead of https://" in message
    assert len(accepted) == 1  # a retry cannot help, so none is made


def test_refused_on_a_typed_port_names_the_default_port(closed_port_url):
    with pytest.raises(OllamaConnectionError) as caught:
        client_for(closed_port_url).version()
    message = str(caught.value)
    assert "port 11434 by default" in message and "add :11434" in message
    assert "host.docker.internal" in message  # 127.0.0.1 inside a container is the container itself


def unauthorized(route_url: str, body: dict | None = None) -> None:
    respx.post(route_url).mock(return_value=httpx.Response(401, json=body or {"error": "unauthorized"}))


def auth_message(base_url: str, api_key: str | None, model: str = "gpt-oss:120b", body: dict | None = None) -> str:
    unauthorized(f"{base_url}/api/show", body)
    with pytest.raises(OllamaAuthError) as caught:
        client_for(base_url, api_key).show(model)
    return str(caught.value)


@respx.mock
def test_a_missing_key_and_a_wrong_key_get_different_messages_on_ollama_com():
    missing = auth_message("https://ollama.com", None)
    wrong = auth_message("https://ollama.com", "sk-wrong-key-123456")
    assert missing != wrong
    assert "No API key was entered" in missing and "ollama.com/settings/keys" in missing
    assert "API key was refused" in wrong and "wrong or was revoked" in wrong
    assert "sk-wrong-key-123456" not in wrong


@respx.mock
def test_a_missing_key_and_a_wrong_key_differ_behind_a_proxy():
    missing = auth_message("http://proxy.test:8080", None, model="qwen3")
    wrong = auth_message("http://proxy.test:8080", "sk-wrong-key-123456", model="qwen3")
    assert "No API key was entered" in missing
    assert "API key was refused" in wrong and "proxy" in wrong


@respx.mock
def test_a_local_server_not_signed_in_is_told_to_sign_in_whatever_the_key():
    body = {"error": "unauthorized", "signin_url": "https://ollama.com/connect?name=box&key=abc"}
    for key in (None, "sk-some-key-123456"):
        message = auth_message("http://127.0.0.1:11434", key, model="gpt-oss:120b-cloud", body=body)
        assert "ollama signin" in message and "API key field does not sign in" in message


def not_found_message(base_url: str, model: str) -> str:
    respx.post(f"{base_url}/api/chat").mock(
        return_value=httpx.Response(404, json={"error": f"model '{model}' not found"})
    )
    with pytest.raises(OllamaModelNotFoundError) as caught:
        client_for(base_url).post_json("/api/chat", {"model": model}, model=model)
    return str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "model", "advice"),
    [
        ("http://127.0.0.1:11434", "gpt-oss:120b-cloud", "ollama signin"),
        ("http://127.0.0.1:11434", "glm-4.6:cloud", "ollama signin"),
        ("https://ollama.com", "gpt-oss:120b-cloud", "use 'gpt-oss:120b'"),
        ("https://ollama.com", "gpt-oss:999b", "https://ollama.com/search?c=cloud"),
    ],
)
@respx.mock
def test_a_cloud_model_not_found_is_never_told_to_pull(base_url, model, advice):
    message = not_found_message(base_url, model)
    assert "ollama pull" not in message
    assert advice in message


@respx.mock
def test_a_local_model_not_found_is_still_told_to_pull():
    assert "run `ollama pull qwen3:8b` there" in not_found_message("http://127.0.0.1:11434", "qwen3:8b")


@respx.mock
def test_an_untrusted_certificate_is_named_and_not_retried():
    def untrusted(request):
        cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed") from cause

    route = respx.get("https://ollama.lan/api/version").mock(side_effect=untrusted)
    with pytest.raises(OllamaTLSError) as caught:
        client_for("https://ollama.lan", retry=RetryPolicy(backoff_seconds=0)).version()
    assert "TLS certificate is not trusted" in str(caught.value) and "trusted authority" in str(caught.value)
    assert route.call_count == 1
    assert isinstance(caught.value, OllamaConnectionError)  # Dify: InvokeConnectionError, a 10 s cooldown
