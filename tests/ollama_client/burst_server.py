"""A loopback HTTP/1.1 server that writes a whole chunked NDJSON answer in one `sendall`: a burst.

The fake Ollama writes every part separately, so whether a reader finds several chunks in one read depends on
timing. Here the answer (one NDJSON line per HTTP chunk, as Ollama frames it) is on the wire before the client
reads any of it, which makes "the reader is behind" deterministic for tests of burst merging. `POST /api/show`
answers a thinking-capable chat model, so the LLM model class can be driven too. Keep-alive is supported.
"""

from __future__ import annotations

import json
import socketserver
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

SHOW = {
    "details": {"family": "qwen3"},
    "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
    "capabilities": ["completion", "thinking", "tools"],
}


def frame(objects: Iterable[Mapping[str, Any]]) -> bytes:
    """The chunked body: one NDJSON line per HTTP chunk, then the last chunk."""
    body = bytearray()
    for obj in objects:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        body += b"%x\r\n%s\r\n" % (len(line), line)
    return bytes(body) + b"0\r\n\r\n"


class _Handler(socketserver.StreamRequestHandler):
    body = b""
    connections: list[int]

    def handle(self) -> None:
        self.connections.append(1)
        while True:
            request_line = self.rfile.readline()
            if not request_line:
                return
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            if b"/api/show" in request_line:
                payload = json.dumps(SHOW).encode()
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
                self.connection.sendall(head + payload)
            else:
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
                self.connection.sendall(head + self.body)


class _TLSServer(socketserver.ThreadingTCPServer):
    tls: ssl.SSLContext

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        return self.tls.wrap_socket(connection, server_side=True), address


@contextmanager
def burst_server(
    objects: Iterable[Mapping[str, Any]], *, tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, list[int]]]:
    """(base URL, list with one entry per TCP connection accepted); every POST but /api/show gets the burst.
    With `tls` (a server context) it speaks HTTPS."""
    connections: list[int] = []
    handler = type("BurstHandler", (_Handler,), {"body": frame(objects), "connections": connections})
    if tls is None:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    else:
        server = _TLSServer(("127.0.0.1", 0), handler)
        server.tls = tls
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"{'https' if tls else 'http'}://{host}:{port}", connections
    finally:
        server.shutdown()
        server.server_close()
