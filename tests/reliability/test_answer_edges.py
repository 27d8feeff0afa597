"""The edges of an answer stay within bounds: after the `done` line the terminating chunk may take at most a
second (a server or proxy that holds it back costs a closed connection, not the caller waiting out the whole
Request timeout with the answer in hand), and a response head trickling in a line at a time ends at the call's
deadline."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaTimeoutError
from rerank_client import RerankServiceClient, resolve_service_endpoint
from rerank_client.errors import RerankTimeoutError
from tests.reliability.raw_server import CHUNKED_HEAD, RawRequest, RawServer, chunk

pytestmark = pytest.mark.usefixtures("fresh_caches")

DONE = b'{"model":"m","message":{"role":"assistant","content":"hi"},"done":true}\n'


def test_a_held_back_terminating_chunk_ends_the_stream_after_the_grace():
    release = threading.Event()

    def handler(connection: socket.socket, request: RawRequest) -> bool:
        connection.sendall(CHUNKED_HEAD + chunk(DONE))
        release.wait(20)
        return False

    with RawServer(handler) as server:
        client = OllamaClient(ClientConfig.create(server.url, None, 10))
        started = time.monotonic()
        chunks = list(client.stream("/api/chat", {"model": "m"}, model="m"))
        took = time.monotonic() - started
        release.set()
    assert chunks[-1]["done"] is True
    assert took < 3.0  # was the whole Request timeout (10 s here, 600 s by default)


def trickled_head(connection: socket.socket, request: RawRequest) -> bool:
    """A header line every 0.3 s: never silent for a read timeout, never done within the deadline."""
    try:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(20):
            time.sleep(0.3)
            connection.sendall(b"X-Wait: 1\r\n")
        connection.sendall(b"Content-Length: 2\r\n\r\n{}")
    except OSError:
        pass
    return False


def test_a_trickling_response_head_does_not_outlast_the_deadline():
    with RawServer(trickled_head) as server:
        client = OllamaClient(ClientConfig.create(server.url, None, 1))
        started = time.monotonic()
        with pytest.raises(OllamaTimeoutError, match="within the Request timeout of 1 s"):
            client.show("m")
        assert time.monotonic() - started < 2.5  # was 6 s: the head's 20 lines


def test_a_trickling_response_head_does_not_outlast_a_rerank_deadline():
    with RawServer(trickled_head) as server:
        client = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), None, 1.0)
        started = time.monotonic()
        with pytest.raises(RerankTimeoutError):
            client.rerank("m", "q", ["a"])
        assert time.monotonic() - started < 2.5
