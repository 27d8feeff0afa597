"""The chunked-body reader (ollama_client/chunked.py): same bytes and errors as httpx/h11, fewer steps.

Unit tests drive ChunkedBody with a scripted stream; the rest go through the pooled client against real
loopback servers, where the fast path must actually be taken, and must leave the connection reusable.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from ollama_client import (
    ClientConfig,
    OllamaClient,
    OllamaConnectionError,
    OllamaModelNotFoundError,
    OllamaServerError,
    OllamaStreamError,
    OllamaTimeoutError,
    RetryPolicy,
    close_pooled_clients,
    pool,
)
from ollama_client.chunked import TESTED_HTTPCORE, ChunkedBody, TappedBackend, install_chunked_reader
from ollama_client.pool import http_client_for
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk
from tests.ollama_client.burst_server import burst_server, frame

pytestmark = pytest.mark.usefixtures("fresh_caches")

MODEL = "qwen3"
ROOT = Path(__file__).resolve().parents[2]


class ScriptedStream:
    """Stands in for a connection's stream: each socket read returns the next scripted piece."""

    def __init__(self, pieces: list[bytes | BaseException]) -> None:
        self.pieces = list(pieces)
        self.reads = 0
        self.given_back: bytes | None = None
        self.inner = self

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads += 1
        if not self.pieces:
            raise AssertionError("read past the end of the script: the reader waited for data it did not need")
        piece = self.pieces.pop(0)
        if isinstance(piece, BaseException):
            raise piece
        return piece

    def get_extra_info(self, info: str) -> None:
        return None  # no socket: ChunkedBody reads through read()

    def give_back(self, data: bytes) -> None:
        self.given_back = data


def body_of(held: bytes, pieces: list[bytes | BaseException]) -> tuple[ChunkedBody, ScriptedStream]:
    stream = ScriptedStream(pieces)
    return ChunkedBody(stream, held, timeout=5), stream  # type: ignore[arg-type]


def lines(*texts: str) -> list[dict]:
    return [chat_chunk(MODEL, text) for text in texts] + [chat_chunk(MODEL, done=True, eval_count=len(texts))]


def ndjson(objects: list[dict]) -> bytes:
    return b"".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for o in objects)


# --- de-chunking --------------------------------------------------------------------------------------


def test_every_split_of_the_framed_body_gives_the_same_bytes():
    objects = lines("héllo", " 世界", " 🦙", "!")
    framed = frame(objects)
    for cut in range(len(framed) + 1):
        body, stream = body_of(b"", [framed[:cut], framed[cut:]] if cut else [framed])
        assert b"".join(body) == ndjson(objects), cut
        assert body.complete and stream.given_back == b"0\r\n\r\n"


def test_a_read_returns_everything_already_received_without_touching_the_socket():
    framed = frame(lines("a", "b", "c", "d"))
    body, stream = body_of(framed, [])  # all of it arrived with the headers; the socket must stay untouched
    assert body.read() == ndjson(lines("a", "b", "c", "d"))
    assert stream.reads == 0 and body.complete


def test_a_single_chunk_is_returned_after_one_read_without_waiting_for_more():
    objects = lines("first", "second")
    first_line = ndjson(objects[:1])
    first_chunk = frame(objects)[: len(b"%x\r\n" % len(first_line)) + len(first_line) + 2]
    body, stream = body_of(b"", [first_chunk])  # a second socket read would fail the test
    assert body.read() == first_line
    assert stream.reads == 1 and not body.complete


def test_extensions_trailing_spaces_and_trailers_are_accepted_like_h11():
    raw = b'3;name="x" \r\nabc\r\n2  \r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n'
    body, stream = body_of(b"", [raw[:5], raw[5:]])
    assert b"".join(body) == b"abcde"
    assert stream.given_back == b"0\r\nX-Trailer: 1\r\n\r\n"  # h11 reads the trailers and ends the response


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"zz\r\nabc\r\n", "illegal chunk header"),
        (b"0x3\r\nabc\r\n", "illegal chunk header"),  # int(..., 16) would take it; h11 does not
        (b"3\r\nabcXY", "malformed chunk footer"),
    ],
)
def test_malformed_framing_is_a_protocol_error(raw: bytes, words: str):
    body, _ = body_of(b"", [raw])
    with pytest.raises(httpx.RemoteProtocolError, match=words):
        b"".join(body)


def test_a_connection_closed_mid_body_is_h11s_incomplete_chunked_read():
    body, _ = body_of(frame(lines("a"))[:20], [b""])
    with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete chunked read"):
        b"".join(body)


@pytest.mark.parametrize(
    ("failure", "expected"), [(TimeoutError("timed out"), httpx.ReadTimeout), (OSError("reset"), httpx.ReadError)]
)
def test_socket_failures_become_the_httpx_errors_h11_would_cause(failure: Exception, expected: type):
    body, _ = body_of(b"", [failure])
    with pytest.raises(expected):
        body.read()


# --- through the pooled client, against real servers --------------------------------------------------


def client_for(url: str, timeout: float = 30) -> OllamaClient:
    return OllamaClient(ClientConfig.create(url, None, timeout), RetryPolicy(backoff_seconds=0))


@pytest.fixture
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times ChunkedBody.read ran: proof that the fast path, not httpx's line reading, was used."""
    calls: list[int] = []
    original = ChunkedBody.read

    def read(self: ChunkedBody) -> bytes:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(ChunkedBody, "read", read)
    return calls


def test_the_pooled_client_reads_ollamas_chunked_stream_itself_and_reuses_the_connection(counted_reads):
    objects = lines("Hel", "lo", " there")
    with burst_server(objects) as (url, connections):
        client = client_for(url)
        assert isinstance(http_client_for(client.config.base_url)._transport._pool._network_backend, TappedBackend)
        for _ in range(3):
            assert list(client.stream("/api/chat", {"model": MODEL})) == objects
        client.show(MODEL)  # a plain JSON request on the same connection afterwards
    assert counted_reads, "the chunked body was read by httpx, not by ChunkedBody"
    assert len(connections) == 1, "the connection was not returned to the pool after the streams"


@pytest.fixture
def tls_context(tmp_path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1, trusted by new httpx clients."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_https_answers_take_the_fast_path_too(tls_context: ssl.SSLContext, counted_reads):
    objects = lines("secure", " stream")
    with burst_server(objects, tls=tls_context) as (url, connections):
        client = client_for(url)
        assert list(client.stream("/api/chat", {"model": MODEL})) == objects
        assert list(client.stream("/api/chat", {"model": MODEL})) == objects
    assert counted_reads and len(connections) == 1


def test_a_burst_arrives_as_one_batch_and_a_paced_stream_one_object_at_a_time(fake_ollama: FakeOllama):
    objects = lines(*[f"t{i}" for i in range(50)])
    with burst_server(objects) as (url, _):
        batches = list(client_for(url).stream_batches("/api/chat", {"model": MODEL}))
    assert [obj for batch in batches for obj in batch] == objects
    assert len(batches) < 5  # 51 objects, already on the wire: a handful of reads at most

    paced = lines("a", "b", "c")
    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson(paced, part_delay=0.05))
    batches = list(client_for(fake_ollama.url).stream_batches("/api/chat", {"model": MODEL}))
    assert batches == [[obj] for obj in paced]  # each arrived alone and left at once


def test_errors_mid_stream_on_the_fast_path_are_the_same_typed_errors(fake_ollama: FakeOllama, counted_reads):
    first = chat_chunk(MODEL, "Hel")
    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson([first, chat_chunk(MODEL, "lo")], close_after_parts=1))
    received = []
    with pytest.raises(OllamaConnectionError, match="broke in the middle of the answer.*incomplete chunked read"):
        for obj in client_for(fake_ollama.url).stream("/api/chat", {"model": MODEL}):
            received.append(obj)
    assert received == [first]

    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson([first, chat_chunk(MODEL, "lo")], part_delay=[0, 2]))
    with pytest.raises(
        OllamaTimeoutError, match="did not finish within the Request timeout of 0.3 s, the longest one call may take"
    ):
        list(client_for(fake_ollama.url, timeout=0.3).stream("/api/chat", {"model": MODEL}))

    fake_ollama.enqueue(
        "POST", "/api/chat", Scenario.ndjson([first, {"error": "model runner has unexpectedly stopped"}])
    )
    with pytest.raises(OllamaStreamError, match="unexpectedly stopped"):
        list(client_for(fake_ollama.url).stream("/api/chat", {"model": MODEL}))
    assert counted_reads

    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson(lines("fine")))
    assert list(client_for(fake_ollama.url).stream("/api/chat", {"model": MODEL})) == lines("fine")


def test_answers_the_fast_path_does_not_apply_to_are_read_by_httpx(fake_ollama: FakeOllama, counted_reads):
    objects = lines("a", "b")
    client = client_for(fake_ollama.url)

    # An error status: the held body goes to h11 and becomes the typed error; the connection stays usable.
    fake_ollama.enqueue("POST", "/api/chat", Scenario.error(404, f"model '{MODEL}' not found"))
    with pytest.raises(OllamaModelNotFoundError):
        list(client.stream("/api/chat", {"model": MODEL}))
    # Not chunked (a Content-Length body, as some proxies send).
    fake_ollama.enqueue("POST", "/api/chat", Scenario(parts=[ndjson(objects)], content_type="application/x-ndjson"))
    assert list(client.stream("/api/chat", {"model": MODEL})) == objects
    # Chunked but compressed by a proxy: refused unread (a size cap cannot bound what gzip inflates to).
    fake_ollama.enqueue(
        "POST",
        "/api/chat",
        Scenario(
            parts=[gzip.compress(ndjson(objects))],
            content_type="application/x-ndjson",
            headers={"Content-Encoding": "gzip"},
            chunked=True,
        ),
    )
    with pytest.raises(OllamaServerError, match=r"answered compressed \(Content-Encoding: gzip\)"):
        list(client.stream("/api/chat", {"model": MODEL}))
    assert not counted_reads

    fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson(objects))
    assert list(client.stream("/api/chat", {"model": MODEL})) == objects
    assert counted_reads


# --- the pinned versions --------------------------------------------------------------------------------------


def test_the_fast_reader_is_installed_on_the_pinned_httpcore(caplog: pytest.LogCaptureFixture):
    """Fails on an httpx or httpcore release whose internals no longer take the fast reader: then pin or adapt."""
    import httpcore
    from packaging.specifiers import SpecifierSet

    pinned = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("httpcore")]
    assert pinned == ["httpcore" + TESTED_HTTPCORE]
    assert httpcore.__version__ in SpecifierSet(TESTED_HTTPCORE), "the installed httpcore is not the tested range"
    with caplog.at_level(logging.WARNING, logger="ollama_client.pool"):
        pooled = http_client_for("http://127.0.0.1:9")
    assert isinstance(pooled._transport._pool._network_backend, TappedBackend)
    assert install_chunked_reader(pooled) is True  # installing twice changes nothing
    assert not caplog.records


def test_a_client_the_reader_cannot_tap_is_left_unchanged():
    mocked = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    assert install_chunked_reader(mocked) is False


def test_without_the_fast_reader_streams_still_work_and_one_warning_says_why(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, counted_reads
):
    monkeypatch.setattr(pool, "install_chunked_reader", lambda client: False)  # as on an untested httpcore
    monkeypatch.setattr(pool, "_warned", False)
    objects = lines("still", " fine")
    with caplog.at_level(logging.WARNING, logger="ollama_client.pool"):
        for _ in range(2):
            fake_ollama.enqueue("POST", "/api/chat", Scenario.ndjson(objects))
            assert list(client_for(fake_ollama.url).stream("/api/chat", {"model": MODEL})) == objects
            close_pooled_clients()  # the next request builds a new pool: still one warning in all
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "httpcore" in warnings[0] and TESTED_HTTPCORE in warnings[0] and "requirements.txt" in warnings[0]
    assert not counted_reads
