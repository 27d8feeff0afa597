"""Read a streamed (chunked) HTTP/1.1 response body a whole socket read at a time.

Ollama flushes every NDJSON line as its own HTTP chunk. Through httpx each one travels alone through
h11's chunk parser and five generator layers, which costs more than parsing the JSON line itself. This
module plugs into httpcore's network-backend interface instead:

1. `install_chunked_reader(client)` wraps the pool's backend, so every connection's stream is a `TappedStream`.
2. A request sent inside `expect_chunked_body()` arms its connection: the stream hands h11 only the
   response head and holds back the bytes after it.
3. `take_chunked_body(response)` takes the held body when the answer is a plain chunked 2xx: `ChunkedBody`
   strips the framing itself, returning everything one socket read brought (many chunks at once when
   the reader is behind), and at the end gives h11 the terminating chunk so the connection goes back to
   the pool as usual.

Whenever the fast path does not apply (a 1xx or error answer, a body that is not chunked, a proxy or a
mocked transport), h11 simply reads the held bytes next and the body is read the normal way. Failures
are raised as the httpx exceptions h11 would have caused (ReadTimeout, ReadError, RemoteProtocolError
with h11's wording), so callers handle both paths alike: client.py feeds either source's bytes to the same
NDJSON reader and error mapping.

Why not public httpx API only: the per-chunk work this skips is h11's, behind every public reading method
(`iter_raw` included), and only a socket read shows which chunks arrived together (burst merging). Without
it the plugin spends ~5x the CPU per chunk in bursts and ~1.7x on a paced stream (bench/README.md). The
price is reliance on httpcore internals, kept safe: requirements.txt pins the tested range
(TESTED_HTTPCORE), pool.py logs one warning when the reader cannot be installed, and
tests/ollama_client/test_chunked.py fails when the installed versions no longer take it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # httpx imports httpcore only when a client is built; so does this module (start-up time)
    import httpcore

# The versions whose internals install_chunked_reader() relies on (the pool's `_network_backend`, the
# `network_stream` response extension, h11 reading through the stream): requirements.txt pins the same range,
# and tests/ollama_client/test_chunked.py fails if the reader cannot be installed on what is installed.
TESTED_HTTPCORE = ">=1.0.9,<1.1"
READ_SIZE = 64 * 1024  # what httpcore reads at a time
_HEAD_END = b"\r\n\r\n"
# h11's chunk header: 1-20 hex digits, an optional extension, optional trailing whitespace, CRLF.
_CHUNK_HEADER = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\r\n]*)?[ \t]*\r\n")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
# h11 allows 100 KiB of incomplete event in httpcore; a chunk header is a few bytes.
MAX_CHUNK_HEADER_BYTES = 100 * 1024
# Trailers after the last chunk: h11's limit too. Without one, a server could send them forever, each read
# rescanning everything held (100% CPU for every tenant of the process).
MAX_TRAILER_BYTES = 100 * 1024
# A call's deadline shortens the socket's timeout only when it is this much sooner than the timeout already
# set: updating it on every read would cost more than the read on a fast stream.
_DEADLINE_SLACK_SECONDS = 0.25
_INCOMPLETE = "peer closed connection without sending complete message body (incomplete chunked read)"

# Set while a request whose chunked answer we want to read ourselves is being sent (per thread/greenlet).
_expecting_body: ContextVar[bool] = ContextVar("expecting_chunked_body", default=False)
# When the answer being awaited must have arrived (time.monotonic()), set around sending a request: a read timeout
# alone bounds silence, so a head trickling in a line at a time could outlast the call's deadline.
_head_deadline: ContextVar[float | None] = ContextVar("head_deadline", default=None)
# The stream that carried the latest request sent in this thread/greenlet (see `unanswered_on_reused_connection`).
_last_exchange: ContextVar[TappedStream | None] = ContextVar("last_tapped_exchange", default=None)

# TappedStream states.
_PASS = 0  # bytes go to h11 unchanged
_HEAD = 1  # armed: hand h11 the response head, hold what follows
_HELD = 2  # head delivered, body held for take_chunked_body() (or for h11 if it asks first)
_BODY = 3  # ChunkedBody is reading the body
_DRAIN = 4  # h11 gets the held bytes (the terminating chunk, or a body we did not take), then _PASS


@contextlib.contextmanager
def expect_chunked_body() -> Iterator[None]:
    """Arm the connection of the request sent inside this block (also each retry of it)."""
    token = _expecting_body.set(True)
    try:
        yield
    finally:
        _expecting_body.reset(token)


class TappedStream:
    """A connection's stream (httpcore's NetworkStream interface) that can hold a response body back from
    h11 for `ChunkedBody`."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner
        self._state = _PASS
        self._held = b""
        self._head_tail = b""  # the last bytes of the head so far, to find an end split across reads
        self.requests = 0  # requests sent on this connection so far
        self.received = 0  # bytes read from the network since the latest request was sent
        self._sending = False

    # -- httpcore.NetworkStream ----------------------------------------------------------------

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._sending = False  # httpcore sends a whole request before it reads the answer
        at = _head_deadline.get()
        if at is not None:  # the response head is being read: no read may outlast the call's deadline
            left = at - time.monotonic()
            if left <= 0:
                import httpcore  # loaded already: a client exists

                raise httpcore.ReadTimeout("the call's deadline passed before the answer's head arrived")
            timeout = left if timeout is None else min(timeout, left)
        state = self._state
        if state == _PASS:
            data = self.inner.read(max_bytes, timeout)
            self.received += len(data)
            return data
        if state == _HEAD:
            return self._read_head(max_bytes, timeout)
        if state == _BODY:
            raise RuntimeError("the response body is being read by ChunkedBody")
        # _HELD (h11 wants the body itself: it was not taken) or _DRAIN: give it what we hold.
        data, self._held = self._held[:max_bytes], self._held[max_bytes:]
        if not self._held:
            self._state = _PASS
        if data:
            return data
        data = self.inner.read(max_bytes, timeout)
        self.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not self._sending:  # the first write of a request
            self._sending = True
            self.requests += 1
            self.received = 0
            _last_exchange.set(self)
        # The first write of a request is its head; arm if the sender asked for it.
        if self._state == _PASS and _expecting_body.get():
            self._state = _HEAD
            self._head_tail = b""
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self._state = _PASS
        self._held = b""
        self.inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> TappedStream:
        return TappedStream(self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)

    # -- internals -----------------------------------------------------------------------------

    def _read_head(self, max_bytes: int, timeout: float | None) -> bytes:
        data = self.inner.read(max_bytes, timeout)
        self.received += len(data)
        if not data:
            self._state = _PASS
            return data
        seen = self._head_tail + data
        end = seen.find(_HEAD_END)
        if end < 0:
            self._head_tail = seen[-3:]
            return data
        cut = end + len(_HEAD_END) - len(self._head_tail)
        self._held = data[cut:]
        self._state = _HELD
        return data[:cut]

    def take_body(self, timeout: float | None, deadline: float | None = None) -> ChunkedBody | None:
        if self._state != _HELD:
            return None
        self._state = _BODY
        held, self._held = self._held, b""
        return ChunkedBody(self, held, timeout, deadline)

    def give_back(self, data: bytes) -> None:
        """The body is over: h11 reads `data` (the terminating chunk and trailers) next."""
        self._held = data
        self._state = _DRAIN if data else _PASS


@contextlib.contextmanager
def head_deadline(at: float) -> Iterator[None]:
    """Reads of the connection (the response head, while `http.send` runs inside this block) end by `at`."""
    token = _head_deadline.set(at)
    try:
        yield
    finally:
        _head_deadline.reset(token)


def forget_last_exchange() -> None:
    """Call before sending a request whose failure `unanswered_on_reused_connection` may judge."""
    _last_exchange.set(None)


def unanswered_on_reused_connection() -> bool:
    """Whether the request sent last in this thread/greenlet went out on a kept-alive connection that then
    failed before a single response byte: the server had closed it while idle, so nothing was processed and
    resending is safe. False when unknown (a fresh connection, a transport without tapped streams)."""
    stream = _last_exchange.get()
    _last_exchange.set(None)
    return stream is not None and stream.requests > 1 and stream.received == 0


class TappedBackend:
    """Wraps a network backend (httpcore's NetworkBackend interface) so every connection's stream is tapped."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self.inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> TappedStream:
        return TappedStream(self.inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> TappedStream:
        return TappedStream(self.inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class ChunkedBody:
    """The de-chunked body of one response; `read()` returns what is at hand, waiting only when nothing is."""

    __slots__ = ("_crlf_due", "_deadline", "_done", "_left", "_raw", "_recv", "_stream", "_timeout", "_trailers_seen")

    def __init__(self, stream: TappedStream, held: bytes, timeout: float | None, deadline: float | None = None) -> None:
        """`timeout`: the longest silence; `deadline` (time.monotonic()): when reading must be over, however
        the server paces its bytes."""
        self._stream = stream
        self._deadline = deadline
        if deadline is not None:
            left = max(deadline - time.monotonic(), 0.001)  # a socket timeout must be positive
            timeout = left if timeout is None else min(timeout, left)
        self._timeout = timeout
        self._recv = _direct_recv(stream.inner, timeout)
        self._raw = held  # received, not yet de-chunked
        self._left = 0  # payload bytes of the current chunk still to come
        self._crlf_due = False  # the CRLF after a chunk's payload is still to come
        self._trailers_seen = 0  # bytes of `_raw` already searched for the end of the trailers
        self._done = False

    @property
    def complete(self) -> bool:
        """The terminating chunk arrived (and was handed back to h11)."""
        return self._done

    def end_within(self, seconds: float) -> None:
        """The answer is complete: wait at most `seconds` more for the terminating chunk (then ReadTimeout, and
        the connection is closed instead of reused), not the whole read timeout."""
        at = time.monotonic() + seconds
        self._deadline = at if self._deadline is None else min(self._deadline, at)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.read, b"")  # a C-level loop: no generator frame to resume per read

    def read(self) -> bytes:
        """All complete payload in hand, else what the next socket read brings; b"" at the end of the body."""
        while not self._done:
            if self._raw:
                payload = self._dechunk()
                if payload:
                    return payload
                if self._done:
                    break
            self._receive()
        return b""

    def _receive(self) -> None:
        if self._deadline is not None:
            self._approach_deadline(self._deadline)
        try:
            if self._recv is not None:
                data = self._recv(READ_SIZE)
            else:
                data = self._stream.inner.read(READ_SIZE, self._timeout)
        except Exception as exc:
            raise _as_httpx_error(exc) from exc
        if not data:
            raise httpx.RemoteProtocolError(_INCOMPLETE)
        self._raw = self._raw + data if self._raw else data

    def _approach_deadline(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise httpx.ReadTimeout("the call's deadline passed")
        timeout = self._timeout
        if timeout is None or left < timeout - _DEADLINE_SLACK_SECONDS:
            self._timeout = left
            if self._recv is not None:
                self._recv.__self__.settimeout(left)  # type: ignore[attr-defined]

    def _dechunk(self) -> bytes:
        """Strip the framing from as much of `_raw` as has arrived; keep an incomplete header for later."""
        raw = self._raw
        size = len(raw)
        pos = 0
        parts: list[bytes] = []
        left = self._left
        crlf_due = self._crlf_due
        while True:
            if left:
                take = min(left, size - pos)
                if not take:
                    break
                parts.append(raw[pos : pos + take])
                pos += take
                left -= take
                if left:
                    break
                crlf_due = True
            if crlf_due:
                if size - pos < 2:
                    break
                if raw[pos : pos + 2] != b"\r\n":
                    raise httpx.RemoteProtocolError(f"malformed chunk footer: {raw[pos : pos + 2]!r}")
                pos += 2
                crlf_due = False
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                if size - pos > MAX_CHUNK_HEADER_BYTES:
                    raise httpx.RemoteProtocolError(f"illegal chunk header: {raw[pos : pos + 40]!r}")
                break  # the header line is still incomplete
            digits = raw[pos:eol]
            if 0 < len(digits) <= 20 and not digits.strip(_HEX_DIGITS):  # the usual bare size: no regex needed
                left = int(digits, 16)
            else:
                header = _CHUNK_HEADER.match(raw, pos)
                if header is None or header.end() != eol + 2:
                    raise httpx.RemoteProtocolError(f"illegal chunk header: {raw[pos : pos + 40]!r}")
                left = int(header[1], 16)
            if not left:  # the last chunk: h11 reads it and any trailers, and ends the response
                searched = max(eol + 2, pos + self._trailers_seen - 3)  # not again what earlier reads searched
                if not raw.startswith(b"\r\n", eol + 2) and raw.find(_HEAD_END, searched) < 0:
                    if size - eol > MAX_TRAILER_BYTES:
                        raise httpx.RemoteProtocolError(
                            f"the trailers after the last chunk exceed {MAX_TRAILER_BYTES // 1024} KiB"
                        )
                    self._trailers_seen = size - pos
                    break  # trailers still incomplete: keep the last chunk's header for the next read
                self._done = True
                self._stream.give_back(raw[pos:])
                pos = size
                break
            pos = eol + 2
        self._raw = raw[pos:]
        self._left = left
        self._crlf_due = crlf_due
        return b"".join(parts)


def _as_httpx_error(exc: Exception) -> Exception:
    """The httpx exception httpx would raise for a failed read (socket errors, or httpcore's for other streams)."""
    import httpcore

    if isinstance(exc, TimeoutError | httpcore.TimeoutException):
        return httpx.ReadTimeout(str(exc) or "timed out")
    if isinstance(exc, OSError | httpcore.NetworkError):
        return httpx.ReadError(str(exc))
    return exc


def _direct_recv(stream: httpcore.NetworkStream, timeout: float | None) -> Callable[[int], bytes] | None:
    """The socket's own `recv` (its timeout set once), for a plain TCP or TLS stream; None for anything else
    (e.g. TLS inside a TLS proxy tunnel), which is then read through httpcore. Skips httpcore's per-read
    exception-mapping context and timeout reset, which cost as much as the read itself for a small chunk."""
    sock = stream.get_extra_info("socket")
    if not isinstance(sock, socket.socket):
        return None
    if stream.get_extra_info("ssl_object") is not None and not isinstance(sock, ssl.SSLSocket):
        return None
    sock.settimeout(timeout)
    return sock.recv


def take_chunked_body(response: httpx.Response, deadline: float | None = None) -> ChunkedBody | None:
    """The body of `response` for reading with ChunkedBody, or None: then read it through httpx as usual.
    `deadline` (time.monotonic()) ends the reading however the server paces its bytes."""
    stream = response.extensions.get("network_stream")
    if not isinstance(stream, TappedStream):
        return None
    headers = response.headers
    if (
        response.http_version != "HTTP/1.1"
        or not 200 <= response.status_code < 300
        or response.status_code == 204
        or headers.get("transfer-encoding", "").strip().lower() != "chunked"
        or headers.get("content-encoding", "identity").strip().lower() != "identity"
    ):
        return None
    timeout = (response.request.extensions.get("timeout") or {}).get("read")
    return stream.take_body(timeout, deadline)


def close_response(response: httpx.Response, body: ChunkedBody | None) -> None:
    """Close the response; after a complete body the connection goes back to the pool."""
    if body is not None and body.complete:
        with contextlib.suppress(httpx.HTTPError):
            for _ in response.iter_raw():  # h11 reads the terminating chunk we handed back
                pass
    response.close()


def install_chunked_reader(client: httpx.Client) -> bool:
    """Give `client`'s connection pool tapped streams. False (and no change) where httpx is built differently:
    then streams are read the normal way."""
    import httpcore

    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(pool, httpcore.ConnectionPool):
        return False
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = TappedBackend(backend)
        return True
    return isinstance(backend, TappedBackend)
