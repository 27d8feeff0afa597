"""The fake's HTTP/1.1 plumbing: a threading loopback server and the handler that records each request and plays
its `Scenario` byte by byte (chunked or Content-Length, delays, an abrupt close, a TCP reset)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_ollama.scenario import RecordedRequest, Scenario, encode_part

if TYPE_CHECKING:
    from tests.fake_ollama.server import FakeOllama


class LoopbackServer(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections when many clients connect at once (load tests).
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets or drops its connection is a scripted fault, not a fake-server failure.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def make_handler_class(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(FakeOllamaHandler):
        owner = fake

    return Handler


class FakeOllamaHandler(BaseHTTPRequestHandler):
    owner: FakeOllama
    protocol_version = "HTTP/1.1"  # keep-alive and chunked encoding, like Go's net/http
    server_version = "fake-ollama"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Like Go's net/http: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every small write.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.owner._track(self.connection, active=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.owner._track(self.connection, active=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean; tests read `requests` instead

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers up to the blank line
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()  # CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
            json=parsed,
            received_at=time.monotonic(),
        )
        self.owner._record(request)
        try:
            scenario = self.owner._answer(request)
        except Exception as exc:  # a broken test handler should fail the test visibly, not hang the client
            self.owner.handler_errors.append(exc)
            scenario = Scenario.error(500, f"fake Ollama handler failed: {exc!r}")
        try:
            self._play(scenario)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to tell it

    def _play(self, scenario: Scenario) -> None:
        if scenario.reset:
            self._reset_connection()
            return
        if self.owner._sleep(scenario.headers_delay):
            self._abort_connection()
            return

        payloads = [encode_part(part) for part in scenario.parts]
        send_body = self.command != "HEAD"
        self.send_response(scenario.status)
        if scenario.content_type:
            self.send_header("Content-Type", scenario.content_type)
        for name, value in scenario.headers.items():
            self.send_header(name, value)
        if scenario.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(sum(len(payload) for payload in payloads)))
        self.end_headers()
        if not send_body:
            return

        for index, payload in enumerate(payloads):
            if scenario.close_after_parts is not None and index >= scenario.close_after_parts:
                self._abort_connection()
                return
            if self.owner._sleep(scenario.delay_before(index)):
                self._abort_connection()
                return
            if scenario.reset_after_parts is not None and index >= scenario.reset_after_parts:
                self._reset_connection()
                return
            if scenario.chunked:
                if payload:  # an empty chunk would end the body early
                    self.wfile.write(b"%X\r\n%s\r\n" % (len(payload), payload))
            else:
                self.wfile.write(payload)
        if scenario.close_after_parts is not None:
            # Asked to cut at or after the last part: still withhold the chunk terminator.
            self._abort_connection()
            return
        if scenario.reset_after_parts is not None:
            self._reset_connection()
            return
        if scenario.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _reset_connection(self) -> None:
        # SO_LINGER with a zero timeout turns close() into a TCP RST.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # no shutdown() first: that would send a FIN instead

    def _abort_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.connection.close()
