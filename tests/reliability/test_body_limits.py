"""Whole (non-streamed) answers are capped: a server answering 200 MiB to /api/show or /api/embed is refused
with a message naming the URL, the limit and the fix, without the process ever holding the whole answer
(issue 14, point 4). Before: a 200 MiB /api/show answer peaked at 669 MiB."""

from __future__ import annotations

import socket
import tracemalloc

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaResponseTooLargeError
from ollama_client.embed import embed
from tests.reliability.raw_server import CHUNKED_HEAD, RawRequest, RawServer, chunk, json_head

pytestmark = pytest.mark.usefixtures("fresh_caches")

MIB = 1024 * 1024
HUGE = 200 * MIB
PIECE = b'{"padding": "' + b"x" * (MIB - 20) + b'",\n'


def huge_answer(chunked: bool):
    def handler(connection: socket.socket, request: RawRequest) -> bool:
        if chunked:
            connection.sendall(CHUNKED_HEAD.replace(b"x-ndjson", b"json"))
        else:
            connection.sendall(json_head(HUGE))
        sent = 0
        while sent < HUGE:  # written as the client reads: the server never holds it either
            connection.sendall(chunk(PIECE) if chunked else PIECE)
            sent += len(PIECE)
        return False

    return handler


@pytest.mark.parametrize("chunked", [False, True], ids=["declared-length", "chunked"])
@pytest.mark.parametrize(
    ("call", "path", "limit"),
    [
        (lambda client: client.show("llama3.2"), "/api/show", 8),
        (lambda client: client.tags(), "/api/tags", 8),
        (lambda client: embed(client, "nomic-embed-text", ["a text"]), "/api/embed", 32),
    ],
    ids=["show", "tags", "embed"],
)
def test_a_huge_answer_is_refused_without_being_held(chunked: bool, call, path: str, limit: int):
    with RawServer(huge_answer(chunked)) as server:
        client = OllamaClient(ClientConfig.create(server.url, None, 30))
        tracemalloc.start()
        try:
            with pytest.raises(OllamaResponseTooLargeError) as caught:
                call(client)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    message = str(caught.value)
    assert f"{server.url}{path}" in message
    assert f"answered more than {limit} MiB" in message
    assert "check that the Base URL points at Ollama itself" in message
    if path == "/api/embed":
        assert "lower the embedding 'Batch size'" in message
    assert peak < (limit + 8) * MIB  # at most the limit (and one read) in memory, never the 200 MiB
