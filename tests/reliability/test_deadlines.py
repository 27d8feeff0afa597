"""Nothing waits longer than it must: metadata lookups against a server that never answers, one deadline for a
whole invoke, and a server that trickles bytes or floods trailers (issue 11 point 2, issue 14 point 5)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import ollama_client
from models.llm.schema import model_profile
from models.validation import check_model
from ollama_client import (
    ClientConfig,
    OllamaClient,
    OllamaConnectionError,
    OllamaTimeoutError,
)
from ollama_client import client as client_module
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk
from tests.reliability.raw_server import CHUNKED_HEAD, RawRequest, RawServer, chunk, ndjson_chunk

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "qwen3"


def never_answers(server_stopped: Callable[[], bool]) -> Callable[[socket.socket, RawRequest], bool]:
    def handler(connection: socket.socket, request: RawRequest) -> bool:
        while not server_stopped():  # the connection is accepted and the request read; no byte ever comes back
            time.sleep(0.05)
        return False

    return handler


class SilentServer(RawServer):
    def __init__(self) -> None:
        super().__init__(never_answers(lambda: self.stopped))


def timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        call()
    except BaseException as error:
        return time.monotonic() - start, error
    return time.monotonic() - start, None


def test_validation_against_a_server_that_never_answers_fails_within_15_s_whatever_the_timeout():
    with SilentServer() as server:
        credentials = {"base_url": server.url, "timeout": "600"}
        elapsed, error = timed(lambda: check_model(credentials, MODEL, needs="completion"))
    assert isinstance(error, CredentialsValidateFailedError)
    assert elapsed < 15
    message = str(error)
    assert f"{server.url}/api/show" in message and "10 s" in message and "did not answer" in message


@pytest.mark.parametrize("call", ["show", "version", "tags"])
def test_every_metadata_call_is_bounded_by_the_metadata_deadline(monkeypatch, call: str):
    monkeypatch.setattr(client_module, "METADATA_SECONDS", 0.5)
    with SilentServer() as server:
        client = OllamaClient(ClientConfig.create(server.url, None, 600))
        action = {"show": lambda: client.show(MODEL), "version": client.version, "tags": client.tags}[call]
        elapsed, error = timed(action)
    assert isinstance(error, OllamaTimeoutError), error
    assert 0.4 < elapsed < 2
    assert f"/api/{call}" in str(error) and "did not answer" in str(error)


def test_the_capability_lookup_and_the_chat_share_one_request_timeout():
    """Before: the lookup waited one full timeout and the chat another (10 s with a 5 s timeout)."""
    with SilentServer() as server:
        credentials = {"base_url": server.url, "timeout": "2"}
        start = time.monotonic()
        profile = model_profile(MODEL, credentials)  # the lookup gives up; the schema comes from the settings
        assert profile.capabilities.tool_call is None
        client = ollama_client(credentials, deadline=profile.deadline)
        with pytest.raises(OllamaTimeoutError) as caught:
            list(client.stream("/api/chat", {"model": MODEL}, model=MODEL))
        elapsed = time.monotonic() - start
    assert elapsed < 2.5, elapsed
    assert "Request timeout" in str(caught.value)


def test_one_invoke_never_takes_longer_than_its_request_timeout():
    from dify_plugin.entities.model.message import UserPromptMessage
    from dify_plugin.errors.model import InvokeConnectionError

    from models.llm.llm import OllamaLargeLanguageModel

    with SilentServer() as server:
        llm = OllamaLargeLanguageModel(model_schemas=[])
        start = time.monotonic()
        with pytest.raises(InvokeConnectionError):
            list(
                llm.invoke(
                    MODEL,
                    {"base_url": server.url, "timeout": "2"},
                    [UserPromptMessage(content="Hi")],
                    {},
                    None,
                    None,
                    False,
                )
            )
        assert time.monotonic() - start < 2.5


def trickle(pause: float, data: bytes) -> Callable[[socket.socket, RawRequest], bool]:
    """A 200 answer whose body never ends: `data` again every `pause` seconds, so no read ever times out."""

    def handler(connection: socket.socket, request: RawRequest) -> bool:
        connection.sendall(CHUNKED_HEAD + ndjson_chunk(chat_chunk(MODEL, "Hel")))
        while True:
            time.sleep(pause)
            connection.sendall(data)

    return handler


@pytest.mark.parametrize(
    "data",
    [chunk(b" "), ndjson_chunk(chat_chunk(MODEL, "."))],
    ids=["whitespace-chunks", "one-token-at-a-time"],
)
def test_a_trickle_cannot_extend_a_streamed_call_beyond_its_request_timeout(data: bytes):
    with RawServer(trickle(0.05, data)) as server:
        client = OllamaClient(ClientConfig.create(server.url, None, 1.5))
        start = time.monotonic()
        with pytest.raises(OllamaTimeoutError, match="did not finish within the Request timeout of 1.5 s"):
            for _ in client.stream("/api/chat", {"model": MODEL}, model=MODEL):
                pass
        assert time.monotonic() - start < 2.5


def flood_trailers(connection: socket.socket, request: RawRequest) -> bool:
    """A complete answer, then a last chunk followed by trailers that never end."""
    connection.sendall(
        CHUNKED_HEAD
        + ndjson_chunk(chat_chunk(MODEL, "Hi"))
        + ndjson_chunk(chat_chunk(MODEL, done=True, prompt_eval_count=1, eval_count=1))
        + b"0\r\n"
    )
    line = b"X-Flood: " + b"a" * 1000 + b"\r\n"
    while True:
        connection.sendall(line * 64)
        time.sleep(0)  # let the other requests of the process run (the plugin runtime is gevent too)


def test_a_trailer_flood_is_cut_and_a_healthy_request_in_the_same_process_stays_fast(fake_ollama: FakeOllama):
    """Before: the flooded call spun the CPU forever and another tenant's request took 35 s instead of 0.08 s."""
    fake_ollama.set_route("POST", "/api/chat", Scenario.ndjson([chat_chunk(MODEL, "ok"), chat_chunk(MODEL, done=True)]))
    healthy = OllamaClient(ClientConfig.create(fake_ollama.url, None, 30))
    list(healthy.stream("/api/chat", {"model": MODEL}, model=MODEL))  # warm up
    with RawServer(flood_trailers) as server:
        flooded: list[object] = []
        outcome: list[BaseException | None] = []

        def read_flooded() -> None:
            client = OllamaClient(ClientConfig.create(server.url, None, 30))
            try:
                flooded.extend(client.stream("/api/chat", {"model": MODEL}, model=MODEL))
                outcome.append(None)
            except BaseException as error:
                outcome.append(error)

        start = time.monotonic()
        thread = threading.Thread(target=read_flooded)
        thread.start()
        time.sleep(0.05)
        healthy_times = []
        for _ in range(5):
            began = time.monotonic()
            list(healthy.stream("/api/chat", {"model": MODEL}, model=MODEL))
            healthy_times.append(time.monotonic() - began)
        thread.join(10)
        assert not thread.is_alive()
        flooded_seconds = time.monotonic() - start
    assert max(healthy_times) < 1, healthy_times
    assert flooded_seconds < 5
    # The answer itself was complete: the user gets it; only the connection is dropped instead of reused.
    assert outcome == [None]
    assert [obj["message"]["content"] for obj in flooded] == ["Hi", ""]


def test_endless_trailers_after_an_incomplete_answer_are_a_connection_error():
    def handler(connection: socket.socket, request: RawRequest) -> bool:
        connection.sendall(CHUNKED_HEAD + ndjson_chunk(chat_chunk(MODEL, "Hi")) + b"0\r\n")
        while True:
            connection.sendall(b"X-Flood: " + b"a" * 1000 + b"\r\n")

    with RawServer(handler) as server:
        client = OllamaClient(ClientConfig.create(server.url, None, 30))
        with pytest.raises(OllamaConnectionError, match="trailers after the last chunk exceed 100 KiB"):
            list(client.stream("/api/chat", {"model": MODEL}, model=MODEL))
