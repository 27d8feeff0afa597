"""A fake Ollama: a real HTTP/1.1 server on 127.0.0.1 that records requests and plays scripted scenarios.

It exists so tests exercise the plugin's real transport (httpx, sockets, chunked NDJSON, timeouts) instead of a
mocked one. Built-in routes model a real server closely enough for happy paths; anything else is scripted per
route with `Scenario` objects (FIFO queue, then a default, then the built-in behaviour).

This module is the server's life cycle, scripting and request log; its parts live beside it: scenario.py (what
to answer, what was received), chunks.py (Ollama's chunk shapes), library.py (the pulled models),
builtin_routes.py (the answers of a real server) and handler.py (the HTTP plumbing).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from tests.fake_ollama.audio import AudioClip, describe_clip
from tests.fake_ollama.builtin_routes import (
    LOGPROBS_MIN_VERSION,
    MAX_TOP_LOGPROBS,
    BuiltinRoutes,
    deterministic_embedding,
    version_tuple,
)
from tests.fake_ollama.chunks import CREATED_AT, chat_chunk, final_metrics, generate_chunk, logprob_entry
from tests.fake_ollama.handler import LoopbackServer, make_handler_class
from tests.fake_ollama.library import FakeModel, ModelLibrary, full_model_name
from tests.fake_ollama.scenario import (
    FIXTURES_DIR,
    JSON_UTF8,
    NDJSON,
    REPO_ROOT,
    SHARED_EXAMPLES_DIR,
    TEXT_UTF8,
    Part,
    RecordedRequest,
    Scenario,
    encode_part,
    load_ndjson_lines,
    load_ndjson_objects,
    shared_example_path,
)

__all__ = [
    "CREATED_AT",
    "DEFAULT_VERSION",
    "FIXTURES_DIR",
    "JSON_UTF8",
    "LOGPROBS_MIN_VERSION",
    "MAX_TOP_LOGPROBS",
    "NDJSON",
    "REPO_ROOT",
    "SHARED_EXAMPLES_DIR",
    "TEXT_UTF8",
    "FakeModel",
    "FakeOllama",
    "Handler",
    "ModelLibrary",
    "Part",
    "RecordedRequest",
    "RouteAnswer",
    "Scenario",
    "chat_chunk",
    "deterministic_embedding",
    "encode_part",
    "final_metrics",
    "full_model_name",
    "generate_chunk",
    "load_ndjson_lines",
    "load_ndjson_objects",
    "logprob_entry",
    "shared_example_path",
    "version_tuple",
]

DEFAULT_VERSION = "0.13.0"

Handler = Callable[[RecordedRequest], "Scenario | Mapping[str, Any]"]
RouteAnswer = Scenario | Handler


class FakeOllama(BuiltinRoutes, ModelLibrary):
    """A fake Ollama server on 127.0.0.1 with scripted routes, a model registry and a request log."""

    def __init__(self, *, version: str = DEFAULT_VERSION, bearer_token: str | None = None) -> None:
        self.version = version
        # When set, every request needs `Authorization: Bearer <token>` (like ollama.com).
        self.bearer_token = bearer_token
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._request_arrived = threading.Condition(self._lock)
        self._queues: dict[tuple[str, str], deque[RouteAnswer]] = {}
        self._defaults: dict[tuple[str, str], RouteAnswer] = {}
        self._models: dict[str, FakeModel] = {}
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: LoopbackServer | None = None
        # Exceptions raised by scripted handler callables (answered as 500 so the client does not hang).
        self.handler_errors: list[BaseException] = []
        self._thread: threading.Thread | None = None
        # Audio models: every clip heard, in order, and what each is transcribed as (tests may replace it).
        self.audio_clips: list[AudioClip] = []
        self.transcriber: Callable[[AudioClip], str] = describe_clip
        self.register_default_models()

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = LoopbackServer(("127.0.0.1", 0), make_handler_class(self))
        server.daemon_threads = True  # a client stuck mid-stream must never keep the test process alive
        self._server = server
        # A short poll interval keeps stop() quick; serve_forever only checks for shutdown between polls.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a scripted delay
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # cut clients that are mid-stream or idle on keep-alive
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOllama is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- scripting ---------------------------------------------------------------------------------

    def enqueue(self, method: str, path: str, *answers: RouteAnswer) -> None:
        """Answer the next requests to (method, path) with these, in order (e.g. a 503 then a 200)."""
        with self._lock:
            self._queues.setdefault((method.upper(), path), deque()).extend(answers)

    def set_route(self, method: str, path: str, answer: RouteAnswer | None) -> None:
        """Answer every request to (method, path) with this once its queue is empty; None restores built-ins."""
        with self._lock:
            if answer is None:
                self._defaults.pop((method.upper(), path), None)
            else:
                self._defaults[(method.upper(), path)] = answer

    def pending_scenarios(self, method: str, path: str) -> int:
        with self._lock:
            return len(self._queues.get((method.upper(), path), ()))

    # --- request log -------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            request
            for request in self.requests
            if request.path == path and (method is None or request.method == method.upper())
        ]

    def last_request(self, path: str | None = None) -> RecordedRequest:
        candidates = self.requests if path is None else self.requests_to(path)
        if not candidates:
            raise AssertionError(f"fake Ollama received no request{'' if path is None else ' to ' + path}")
        return candidates[-1]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for_requests(self, path: str, count: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until `count` requests to `path` arrived (for tests racing a background client)."""
        deadline = time.monotonic() + timeout
        with self._request_arrived:
            while True:
                matching = [request for request in self._requests if request.path == path]
                remaining = deadline - time.monotonic()
                if len(matching) >= count or remaining <= 0:
                    break
                self._request_arrived.wait(remaining)
        if len(matching) < count:
            raise AssertionError(f"expected {count} request(s) to {path} within {timeout}s, got {len(matching)}")
        return matching

    # --- internals used by the handler -------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._request_arrived:
            self._requests.append(request)
            self._request_arrived.notify_all()

    def _track(self, connection: socket.socket, active: bool) -> None:
        with self._lock:
            if active:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True when the sleep was cut short."""
        return seconds > 0 and self._stopping.wait(seconds)

    def _answer(self, request: RecordedRequest) -> Scenario:
        if self.bearer_token is not None and request.header("authorization") != f"Bearer {self.bearer_token}":
            return Scenario.error(401, "unauthorized")
        key = (request.method, request.path)
        with self._lock:
            queue = self._queues.get(key)
            answer = queue.popleft() if queue else self._defaults.get(key)
        if answer is None:
            return self._builtin(request)
        if isinstance(answer, Scenario):
            return answer
        produced = answer(request)
        return produced if isinstance(produced, Scenario) else Scenario.json(produced)
