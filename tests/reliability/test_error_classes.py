"""Dify's load balancer decides by error class: InvokeConnectionError puts a server into a 10 s cooldown and
fails over, InvokeRateLimitError into 60 s. So every connection-level failure must be an InvokeConnectionError
and every 429 an InvokeRateLimitError, for every model type, streamed or not (issue 11, point 8)."""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.errors.model import InvokeConnectionError, InvokeError, InvokeRateLimitError

from models.llm.llm import OllamaLargeLanguageModel
from models.rerank.rerank import OllamaRerankModel
from models.text_embedding.text_embedding import OllamaTextEmbeddingModel
from tests.reliability.raw_server import CHUNKED_HEAD, RawRequest, RawServer, chunk, json_answer

pytestmark = pytest.mark.usefixtures("fresh_caches")

Handler = Callable[[socket.socket, RawRequest], bool]


def reset(connection: socket.socket, request: RawRequest) -> bool:
    # SO_LINGER 0: close with a TCP RST, as a crashing or restarting server does.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def rate_limited(connection: socket.socket, request: RawRequest) -> bool:
    connection.sendall(json_answer({"error": "too many requests, slow down"}, "429 Too Many Requests"))
    return True


def cut_mid_body(connection: socket.socket, request: RawRequest) -> bool:
    connection.sendall(CHUNKED_HEAD + chunk(b'{"message":{"role":"assistant","content":"He'))
    return False  # closed before the answer's end


def make_silent(server_box: list[RawServer]) -> Handler:
    def silent(connection: socket.socket, request: RawRequest) -> bool:
        while not server_box[0].stopped:
            time.sleep(0.05)
        return False

    return silent


def invoke_llm(stream: bool) -> Callable[[str, dict[str, Any]], object]:
    def call(model: str, credentials: dict[str, Any]) -> object:
        llm = OllamaLargeLanguageModel(model_schemas=[])
        result = llm.invoke(model, credentials, [UserPromptMessage(content="Hi")], {}, None, None, stream)
        return list(result)  # the SDK's invoke is a generator in both modes

    return call


def invoke_embedding(model: str, credentials: dict[str, Any]) -> object:
    return OllamaTextEmbeddingModel(model_schemas=[]).invoke(model, credentials, ["a text"])


def invoke_rerank(method: str) -> Callable[[str, dict[str, Any]], object]:
    def call(model: str, credentials: dict[str, Any]) -> object:
        reranker = OllamaRerankModel(model_schemas=[])
        return reranker.invoke(model, {**credentials, "rerank_method": method}, "query", ["doc one", "doc two"])

    return call


MODEL_CALLS = {
    "llm-stream": invoke_llm(stream=True),
    "llm-blocking": invoke_llm(stream=False),
    "text-embedding": invoke_embedding,
    "rerank-embedding-similarity": invoke_rerank("embedding_similarity"),
    "rerank-llm-judge": invoke_rerank("llm_judge"),
    "rerank-compatible-service": invoke_rerank("compatible_service"),
}
FAULTS: dict[str, tuple[type[InvokeError], Handler | None]] = {
    "connection refused": (InvokeConnectionError, None),
    "reset before answering": (InvokeConnectionError, reset),
    "accepts and never answers": (InvokeConnectionError, "silent"),  # type: ignore[dict-item]
    "answer cut off": (InvokeConnectionError, cut_mid_body),
    "429": (InvokeRateLimitError, rate_limited),
}


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
@pytest.mark.parametrize("kind", MODEL_CALLS, ids=list(MODEL_CALLS))
def test_connection_failures_and_429_reach_dify_as_the_classes_its_load_balancer_knows(
    kind: str, fault: str, closed_port_url: str
):
    expected, handler = FAULTS[fault]
    if fault == "answer cut off" and kind == "rerank-compatible-service":
        pytest.skip("a rerank service answers one JSON document, not a chunked stream; covered by 'reset'")
    call = MODEL_CALLS[kind]
    credentials = {"timeout": "1"}
    if handler is None:
        with pytest.raises(InvokeError) as caught:
            call("m", {**credentials, "base_url": closed_port_url})
    else:
        box: list[RawServer] = []
        server = RawServer(make_silent(box) if handler == "silent" else handler)
        box.append(server)
        with server, pytest.raises(InvokeError) as caught:
            call("m", {**credentials, "base_url": server.url})
    assert type(caught.value) is expected, f"{type(caught.value).__name__}: {caught.value}"
    assert json.dumps(str(caught.value))  # a message Dify can show
