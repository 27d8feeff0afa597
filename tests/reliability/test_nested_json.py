"""A body of deeply nested brackets is an unusable answer like any other that is not JSON, not a
RecursionError escaping the plugin's error mapping."""

from __future__ import annotations

import socket

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaConnectionError, OllamaServerError, OllamaStreamError
from ollama_client.config import RetryPolicy
from rerank_client import RerankServiceClient, resolve_service_endpoint
from rerank_client.errors import RerankResponseError, RerankServerError
from tests.reliability.raw_server import RawRequest, RawServer

pytestmark = pytest.mark.usefixtures("fresh_caches")

NESTED = b"[" * 60_000


def answering(status: str, content_type: bytes):
    def handler(connection: socket.socket, request: RawRequest) -> bool:
        head = b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        connection.sendall(head % (status.encode(), content_type, len(NESTED)) + NESTED)
        return False

    return handler


@pytest.mark.parametrize(
    ("status", "content_type", "call", "error"),
    [
        ("500 Internal Server Error", b"application/json", "version", OllamaServerError),
        ("200 OK", b"application/json", "version", OllamaConnectionError),
        ("200 OK", b"application/x-ndjson", "stream", OllamaStreamError),
    ],
)
def test_ollama_answers_of_nested_brackets_are_typed_errors(status, content_type, call, error):
    with RawServer(answering(status, content_type)) as server:
        client = OllamaClient(ClientConfig.create(server.url, None, 5), retry=RetryPolicy(attempts=1))
        with pytest.raises(error):
            client.version() if call == "version" else list(client.stream("/api/chat", {"model": "m"}))


@pytest.mark.parametrize(
    ("status", "error"), [("500 Internal Server Error", RerankServerError), ("200 OK", RerankResponseError)]
)
def test_rerank_answers_of_nested_brackets_are_typed_errors(status, error):
    with RawServer(answering(status, b"application/json")) as server:
        client = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), None, 5.0)
        with pytest.raises(error):
            client.rerank("m", "q", ["a"])
