"""A request is sent again only when the server cannot have processed it: a kept-alive connection it had
closed while idle (no response byte). A server that started answering, or reset a fresh connection after
working on the request, is not asked a second time."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaConnectionError
from ollama_client.config import RetryPolicy
from rerank_client import RerankServiceClient, resolve_service_endpoint
from rerank_client.errors import RerankConnectionError
from tests.reliability.raw_server import RawRequest, RawServer, json_answer

CHAT_DONE = {"model": "m", "message": {"role": "assistant", "content": "hi"}, "done": True}
RERANKED = {"results": [{"index": 0, "relevance_score": 0.5}]}


def _client(url: str) -> OllamaClient:
    return OllamaClient(ClientConfig.create(url, timeout=10.0), retry=RetryPolicy(attempts=3, backoff_seconds=0.01))


def partial_head_then_close(connection: socket.socket, request: RawRequest) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n")


def reset_after_working(connection: socket.socket, request: RawRequest) -> None:
    time.sleep(0.1)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("handler", [partial_head_then_close, reset_after_working])
def test_ollama_request_the_server_received_is_not_resent(handler):
    with RawServer(handler) as server, pytest.raises(OllamaConnectionError):
        _client(server.url).chat_answer({"model": "m", "messages": []})
    assert len(server.requests) == 1


@pytest.mark.parametrize("handler", [partial_head_then_close, reset_after_working])
def test_rerank_request_the_server_received_is_not_resent(handler):
    with RawServer(handler) as server:
        client = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), None, 10.0)
        with pytest.raises(RerankConnectionError):
            client.rerank("m", "q", ["a"])
    assert len(server.requests) == 1


def _closes_second_request_unanswered(answer: bytes):
    """Answers on a kept-alive connection, then closes it on the next request without a byte (the race of a
    server closing an idle connection just as it is reused)."""
    seen = {"n": 0}

    def handler(connection: socket.socket, request: RawRequest) -> bool:
        seen["n"] += 1
        if seen["n"] == 2:
            return False
        connection.sendall(answer)
        return True

    return handler


def test_ollama_resends_once_when_a_kept_alive_connection_closes_unanswered():
    with RawServer(_closes_second_request_unanswered(json_answer(CHAT_DONE))) as server:
        client = _client(server.url)
        client.chat_answer({"model": "m", "messages": []})
        client.chat_answer({"model": "m", "messages": []})
    assert len(server.requests) == 3
    assert server.connections == 2


def test_rerank_resends_once_when_a_kept_alive_connection_closes_unanswered():
    with RawServer(_closes_second_request_unanswered(json_answer(RERANKED))) as server:
        client = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), None, 10.0)
        client.rerank("m", "q", ["a"])
        assert client.rerank("m", "q", ["a"])
    assert len(server.requests) == 3
