"""What the stream benchmarks share: the plugin's LLM called as Dify calls it, the two floors, the SDK's
serialisation to the daemon, and small statistics helpers.

Import this module before httpx: it imports the Dify SDK first, which patches the process for gevent as in
the plugin runtime, so the floors and the plugin run on the same (patched) sockets.
"""

from __future__ import annotations

import dify_plugin  # noqa: F401  (isort: skip) - gevent patching first, as main.py does

import contextlib
import json
import os
import socket
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
from dify_plugin.core.server.__base.response_writer import ResponseWriter  # noqa: E402
from dify_plugin.entities.model.llm import LLMResultChunk, LLMResultChunkDelta  # noqa: E402
from dify_plugin.entities.model.message import AssistantPromptMessage, UserPromptMessage  # noqa: E402

from bench.stream_server import expected_text  # noqa: E402
from models.llm.llm import OllamaLargeLanguageModel  # noqa: E402
from models.llm.stream import THINK_CLOSE, THINK_OPEN, StreamTranslator  # noqa: E402

PROMPT = [UserPromptMessage(content="Write a long answer.")]


class NullWriter(ResponseWriter):
    """The SDK's stdio writer (write + flush per message), writing to /dev/null instead of the daemon's pipe."""

    def __init__(self) -> None:
        self._sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the benchmark

    def write(self, data: str) -> None:
        self._sink.write(data)
        self._sink.flush()

    def done(self) -> None:
        pass


def send_to_daemon(writer: ResponseWriter, session_id: str) -> Callable[[Any], None]:
    """What the SDK does with every object an invoke_llm generator yields (dify_plugin/plugin.py)."""

    def send(message: Any) -> None:
        writer.session_message(session_id=session_id, data=writer.stream_object(data=message))

    return send


def invoke_plugin(url: str, model: str) -> Iterator[LLMResultChunk]:
    """The plugin's public `invoke`, as the SDK's executor calls it for a streamed chat."""
    llm = OllamaLargeLanguageModel(model_schemas=[])
    return llm.invoke(model, {"base_url": url}, list(PROMPT), {}, None, None, True, "bench-user")


def floor_lines(http: httpx.Client, model: str) -> Iterator[dict[str, Any]]:
    """Floor (a): httpx's line iteration and json.loads, nothing else."""
    with http.stream("POST", "/api/chat", json={"model": model, "messages": [], "stream": True}) as response:
        for line in response.iter_lines():
            if line:
                yield json.loads(line)


def floor_chunks(http: httpx.Client, model: str) -> Iterator[LLMResultChunk]:
    """Floor (b): floor (a) plus one Dify LLMResultChunk per Ollama chunk, the least any plugin must do."""
    for index, chunk in enumerate(floor_lines(http, model)):
        message = chunk["message"]
        yield LLMResultChunk(
            model=model,
            delta=LLMResultChunkDelta(
                index=index, message=AssistantPromptMessage(content=message.get("thinking") or message["content"])
            ),
        )


def floor_wakeups(url: str, model: str, timeout: float = 600.0) -> Iterator[bytes]:
    """Floor (0): a bare socket reading the raw answer, nothing parsed: the cost of being woken up for each
    piece of data (the kernel, gevent's hub, the socket timeout), which every reader pays alike."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    body = json.dumps({"model": model, "messages": [], "stream": True}).encode()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = b"POST /api/chat HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (host.encode(), len(body))
        sock.sendall(head + body)
        tail = b""
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection before the end of the answer")
            yield data
            tail = (tail + data)[-5:]
            if tail == b"0\r\n\r\n":
                return


@contextlib.contextmanager
def merging_off() -> Iterator[None]:
    """The plugin as it would be without burst merging: one Dify chunk per Ollama chunk (benchmark only)."""

    merging = StreamTranslator.translate

    def one_by_one(self: StreamTranslator, chunks: Iterable[Mapping[str, Any]]) -> Iterator[LLMResultChunk]:
        for chunk in chunks:
            yield from merging(self, (chunk,))

    StreamTranslator.translate = one_by_one  # type: ignore[method-assign]
    try:
        yield
    finally:
        StreamTranslator.translate = merging  # type: ignore[method-assign]


def plain_http(url: str) -> httpx.Client:
    """A stock httpx client for the floors (not the plugin's pooled client)."""
    return httpx.Client(base_url=url, timeout=120)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> float:
    """Interquartile range (0 for fewer than 4 values)."""
    if len(values) < 4:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


# The expected text spells the plugin's think tags out (so the SDK-free benchmarks can use it): keep them equal.
assert expected_text("", "") == THINK_OPEN + THINK_CLOSE, "bench.stream_server.expected_text is out of date"
