"""Every request asks for an uncompressed answer, and a compressed one is refused unread: the size caps count
bytes after httpx inflated them, so 300 KiB of gzip would otherwise become 300 MiB in memory."""

from __future__ import annotations

import gzip
import socket

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaServerError
from rerank_client import RerankServiceClient, resolve_service_endpoint
from rerank_client.errors import RerankResponseError, RerankServerError
from tests.reliability.raw_server import RawRequest, RawServer

pytestmark = pytest.mark.usefixtures("fresh_caches")


def gzipped(payload: bytes):
    body = gzip.compress(payload)

    def handler(connection: socket.socket, request: RawRequest) -> bool:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        connection.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return False

    return handler


def test_ollama_asks_for_identity_and_refuses_a_gzip_answer():
    refused = pytest.raises(OllamaServerError, match=r"answered compressed \(Content-Encoding: gzip\).*proxy")
    with RawServer(gzipped(b'{"version": "0.9.0"}')) as server, refused:
        OllamaClient(ClientConfig.create(server.url, None, 5)).version()
    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_a_streamed_chat_refuses_a_gzip_answer():
    answer = b'{"message": {"role": "assistant", "content": "hi"}, "done": true}\n'
    with RawServer(gzipped(answer)) as server, pytest.raises(OllamaServerError, match="answered compressed"):
        list(OllamaClient(ClientConfig.create(server.url, None, 5)).stream("/api/chat", {"model": "m"}))


def test_rerank_asks_for_identity_and_refuses_a_gzip_answer():
    with RawServer(gzipped(b'{"results": [{"index": 0, "relevance_score": 0.5}]}')) as server:
        client = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), None, 5.0)
        with pytest.raises(RerankResponseError, match=r"answered compressed \(Content-Encoding: gzip\)"):
            client.rerank("m", "q", ["a"])
    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_a_broken_gzip_error_answer_from_a_rerank_service_keeps_its_status():
    def handler(connection: socket.socket, request: RawRequest) -> bool:
        head = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
        connection.sendall(head + b"Content-Length: 10\r\n\r\nnotgzip!!!")
        return False

    with RawServer(handler) as server:
        client = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), None, 5.0)
        with pytest.raises(RerankServerError, match="500"):
            client.rerank("m", "q", ["a"])
