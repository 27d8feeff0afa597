"""No part of an API key leaks when a server echoes it where the HTTP parser rejects it: in a header line or a
chunk-size line. h11 quotes the rejected line, and that text travels in the exception chain, in logs, and in
the error the user sees."""

from __future__ import annotations

import logging
import socket
import traceback

import pytest

from ollama_client import ClientConfig, OllamaClient, OllamaError
from rerank_client import RerankServiceClient, resolve_service_endpoint
from rerank_client.errors import RerankServiceError
from tests.reliability.raw_server import CHUNKED_HEAD, RawRequest, RawServer, chunk

pytestmark = pytest.mark.usefixtures("fresh_caches")

KEY = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
DONE = b'{"model":"m","message":{"role":"assistant","content":"hi"},"done":true}\n'


def leaked_fragments(text: str) -> list[str]:
    return [KEY[i : i + 8] for i in range(len(KEY) - 7) if KEY[i : i + 8] in text]


def echoing(answer: bytes):
    """Answers `answer` with {auth} replaced by the Authorization header the request carried."""

    def handler(connection: socket.socket, request: RawRequest) -> bool:
        connection.sendall(answer.replace(b"{auth}", request.headers["authorization"].encode()))
        return False

    return handler


JSON_CHUNKED = CHUNKED_HEAD.replace(b"application/x-ndjson", b"application/json")
ANSWERS = {
    "malformed header line": b"HTTP/1.1 200 OK\r\n{auth}\r\n\r\n",
    "malformed chunk-size line": JSON_CHUNKED + b"1\r\n{\r\n{auth}\r\n",
}


def shown(error: BaseException) -> str:
    return str(error) + "".join(traceback.format_exception(error))


@pytest.mark.parametrize("answer", ANSWERS, ids=list(ANSWERS))
@pytest.mark.parametrize("call", ["show", "chat"])
def test_ollama_error_and_its_traceback_hold_no_part_of_the_key(answer, call, caplog):
    caplog.set_level(logging.INFO)  # DEBUG is httpcore's own wire trace
    with RawServer(echoing(ANSWERS[answer])) as server:
        client = OllamaClient(ClientConfig.create(server.url, KEY, 5))
        with pytest.raises(OllamaError) as caught:
            if call == "show":
                client.show("m")
            else:
                list(client.chat({"model": "m", "messages": []}))
    assert leaked_fragments(shown(caught.value)) == []
    assert leaked_fragments(caplog.text) == []


def test_rerank_error_and_its_traceback_hold_no_part_of_the_key(caplog):
    caplog.set_level(logging.INFO)  # DEBUG is httpcore's own wire trace
    with RawServer(echoing(ANSWERS["malformed header line"])) as server:
        client = RerankServiceClient(resolve_service_endpoint(f"{server.url}/rerank"), KEY, 5.0)
        with pytest.raises(RerankServiceError) as caught:
            client.rerank("m", "q", ["a"])
    assert leaked_fragments(shown(caught.value)) == []
    assert leaked_fragments(caplog.text) == []


def test_a_broken_end_after_a_complete_answer_logs_no_part_of_the_key(caplog, monkeypatch):
    caplog.set_level(logging.INFO)  # DEBUG is httpcore's own wire trace
    # httpx's chunk parser (used when the fast reader does not apply) reads the trailers inside the stream loop.
    monkeypatch.setattr("ollama_client.client.take_chunked_body", lambda *args, **kwargs: None)
    # The answer is complete; the line after the terminating chunk (a trailer) echoes the key and is malformed.
    answer = CHUNKED_HEAD + chunk(DONE) + b"0\r\n{auth}\r\n\r\n"
    with RawServer(echoing(answer)) as server:
        client = OllamaClient(ClientConfig.create(server.url, KEY, 5))
        chunks = list(client.stream("/api/chat", {"model": "m", "messages": []}, model="m"))
    assert chunks[-1]["done"] is True
    assert "ignoring a broken end" in caplog.text
    assert leaked_fragments(caplog.text) == []
