"""A fake Ollama: a real HTTP/1.1 server on 127.0.0.1 that records requests and plays scripted scenarios.

It exists so tests exercise the plugin's real transport (httpx, sockets, chunked NDJSON, timeouts) instead of a
mocked one. Built-in routes model a real server closely enough for happy paths; anything else is scripted per
route with `Scenario` objects (FIFO queue, then a default, then the built-in behaviour).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_ollama.audio import AudioClip, BadAudio, describe_clip, heard_clip

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "ollama"
# Verbatim upstream examples shared by every project in the workspace (not part of this repository).
SHARED_EXAMPLES_DIR = REPO_ROOT.parent / "shared" / "ollama-examples"

DEFAULT_VERSION = "0.13.0"
NDJSON = "application/x-ndjson"
JSON_UTF8 = "application/json; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"
CREATED_AT = "2025-07-07T20:22:19.184789Z"

# A body part: raw bytes, text, or a JSON object written as one NDJSON line.
Part = bytes | str | Mapping[str, Any]


def encode_part(part: Part) -> bytes:
    """Bytes for one body part; dicts become one compact JSON line, as Go's json.Marshal + "\\n" writes them."""
    if isinstance(part, bytes):
        return part
    if isinstance(part, str):
        return part.encode("utf-8")
    return (json.dumps(part, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it; tests assert on what the plugin sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lowercase keys
    body: bytes
    json: Any | None  # parsed body, None when absent or not JSON
    received_at: float  # time.monotonic(), for timing assertions (retry back-off, timeouts)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Scenario:
    """What to answer to one request.

    `chunked=True` sends each non-empty part as its own flushed HTTP chunk (how Ollama streams NDJSON);
    otherwise the parts are joined into one Content-Length body, still written part by part so delays and an
    abrupt close fall between parts.
    """

    status: int = 200
    parts: Sequence[Part] = ()
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    chunked: bool = False
    # Seconds to wait before each part: one number for every part, or one per part (missing ones are 0).
    part_delay: float | Sequence[float] = 0.0
    # Seconds to wait before the status line and headers (a stalled server).
    headers_delay: float = 0.0
    # Drop the connection after this many parts: no chunk terminator / short body, socket shut down.
    close_after_parts: int | None = None
    # Reset the connection (RST via SO_LINGER 0) before sending anything.
    reset: bool = False
    # Reset the connection (RST) after this many parts, once the delay before the next part has passed: a server
    # process killed in the middle of its answer, as opposed to `close_after_parts` (an orderly FIN).
    reset_after_parts: int | None = None

    @classmethod
    def ndjson(cls, parts: Iterable[Part], *, status: int = 200, **options: Any) -> Scenario:
        """A chunked `application/x-ndjson` stream, one chunk per part."""
        return cls(status=status, parts=tuple(parts), content_type=NDJSON, chunked=True, **options)

    @classmethod
    def json(cls, body: Any, *, status: int = 200, **options: Any) -> Scenario:
        """A single JSON document with a Content-Length body."""
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status=status, parts=(payload,), content_type=JSON_UTF8, **options)

    @classmethod
    def error(cls, status: int, message: str, **options: Any) -> Scenario:
        """Ollama's error shape before streaming starts: `{"error": message}` with an HTTP error status."""
        return cls.json({"error": message}, status=status, **options)

    @classmethod
    def text(cls, text: str, *, status: int = 200, **options: Any) -> Scenario:
        return cls(status=status, parts=(text,), content_type=TEXT_UTF8, **options)

    @classmethod
    def connection_reset(cls) -> Scenario:
        return cls(reset=True)

    @classmethod
    def html(cls, status: int, title: str, **options: Any) -> Scenario:
        """An HTML error page as reverse proxies (nginx, Traefik, Cloudflare) answer instead of Ollama."""
        page = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
        return cls(status=status, parts=(page,), content_type="text/html; charset=utf-8", **options)

    @classmethod
    def redirect(cls, location: str, *, status: int = 307, **options: Any) -> Scenario:
        headers = {"Location": location, **options.pop("headers", {})}
        return cls(status=status, headers=headers, content_type=TEXT_UTF8, **options)

    @classmethod
    def from_transcript(cls, path: Path | str, **options: Any) -> Scenario:
        """`.ndjson` -> a stream of its lines, byte for byte; `.json` -> that file as a JSON body."""
        path = Path(path)
        if path.suffix == ".ndjson":
            return cls.ndjson(load_ndjson_lines(path), **options)
        if path.suffix == ".json":
            raw = path.read_bytes()
            json.loads(raw)  # fail loudly on a broken fixture rather than serve it
            return cls(parts=(raw,), content_type=JSON_UTF8, **options)
        raise ValueError(f"unsupported transcript type (want .ndjson or .json): {path}")

    @classmethod
    def from_fixture(cls, name: str, **options: Any) -> Scenario:
        """A transcript from tests/fixtures/ollama/."""
        return cls.from_transcript(FIXTURES_DIR / name, **options)

    @classmethod
    def from_shared_example(cls, name: str, **options: Any) -> Scenario:
        """A verbatim upstream example from ../shared/ollama-examples/."""
        return cls.from_transcript(shared_example_path(name), **options)

    def with_options(self, **changes: Any) -> Scenario:
        """A copy with some fields changed, e.g. `.with_options(part_delay=0.05)`."""
        return replace(self, **changes)

    def delay_before(self, index: int) -> float:
        if isinstance(self.part_delay, int | float):
            return float(self.part_delay)
        return float(self.part_delay[index]) if index < len(self.part_delay) else 0.0


def shared_example_path(name: str) -> Path:
    path = SHARED_EXAMPLES_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"shared Ollama example missing: {path} (expected next to the repository)")
    return path


def load_ndjson_lines(path: Path | str) -> list[bytes]:
    """The non-blank lines of an NDJSON file, each kept verbatim with its "\\n"; every line must be JSON."""
    lines: list[bytes] = []
    for number, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number} is not a JSON line: {exc}") from exc
        lines.append(line + b"\n")
    return lines


def load_ndjson_objects(path: Path | str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in load_ndjson_lines(path)]


# --- chunk builders (shapes follow api/types.go ChatResponse / GenerateResponse key order) ---------------


def final_metrics(prompt_eval_count: int, eval_count: int) -> dict[str, int]:
    return {
        "total_duration": 123_456_789,
        "load_duration": 1_234_567,
        "prompt_eval_count": prompt_eval_count,
        "prompt_eval_duration": 12_345_678,
        "eval_count": eval_count,
        "eval_duration": 98_765_432,
    }


def chat_chunk(
    model: str,
    content: str = "",
    *,
    thinking: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    done: bool = False,
    done_reason: str | None = None,
    prompt_eval_count: int | None = None,
    eval_count: int | None = None,
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    chunk: dict[str, Any] = {"model": model, "created_at": CREATED_AT, "message": message, "done": done}
    if done:
        chunk["done_reason"] = done_reason or "stop"
        chunk.update(final_metrics(prompt_eval_count or 0, eval_count or 0))
    if logprobs is not None:
        chunk["logprobs"] = logprobs
    return chunk


def generate_chunk(
    model: str,
    response: str = "",
    *,
    thinking: str | None = None,
    done: bool = False,
    done_reason: str | None = None,
    prompt_eval_count: int | None = None,
    eval_count: int | None = None,
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {"model": model, "created_at": CREATED_AT, "response": response}
    if thinking is not None:
        chunk["thinking"] = thinking
    chunk["done"] = done
    if done:
        chunk["done_reason"] = done_reason or "stop"
        chunk.update(final_metrics(prompt_eval_count or 0, eval_count or 0))
    if logprobs is not None:
        chunk["logprobs"] = logprobs
    return chunk


# Ollama 0.12.11 added `logprobs`/`top_logprobs` to chat and generate; older servers ignore both fields.
LOGPROBS_MIN_VERSION = "0.12.11"
MAX_TOP_LOGPROBS = 20


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, patch) of "0.12.11" or "0.13.0-rc1"; unparseable parts count as 0."""
    numbers = []
    for part in version.split("-", 1)[0].split(".")[:3]:
        numbers.append(int(part) if part.isdigit() else 0)
    return tuple(numbers + [0] * (3 - len(numbers)))


def logprob_entry(token: str, logprob: float, top: Sequence[tuple[str, float]] | None = None) -> dict[str, Any]:
    """One element of a response's `logprobs` list (api/types.go Logprob), with `top_logprobs` when given."""
    entry: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}
    if top is not None:
        entry["top_logprobs"] = [
            {"token": alternative, "logprob": value, "bytes": list(alternative.encode("utf-8"))}
            for alternative, value in top
        ]
    return entry


# --- model registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeModel:
    name: str  # always with a tag, e.g. "llama3.2:latest"
    capabilities: tuple[str, ...]
    context_length: int
    family: str
    architecture: str
    embedding_length: int | None
    parameter_size: str

    @property
    def is_embedding_only(self) -> bool:
        return "embedding" in self.capabilities and "completion" not in self.capabilities

    def tags_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
            "size": 2_019_393_189,
            "digest": hashlib.sha256(self.name.encode()).hexdigest(),
            "details": self.details(),
        }

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": "Q4_K_M",
        }

    def show_response(self) -> dict[str, Any]:
        model_info: dict[str, Any] = {
            "general.architecture": self.architecture,
            "general.file_type": 15,
            "general.parameter_count": 3_212_749_888,
            "general.quantization_version": 2,
            f"{self.architecture}.context_length": self.context_length,
        }
        if self.embedding_length is not None:
            model_info[f"{self.architecture}.embedding_length"] = self.embedding_length
        return {
            "license": "",
            "modelfile": f"FROM {self.name}\n",
            "parameters": 'stop                           "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": self.details(),
            "model_info": model_info,
            "capabilities": list(self.capabilities),
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        }


def full_model_name(name: str) -> str:
    """Ollama treats "llama3.2" and "llama3.2:latest" as the same model."""
    last_segment = name.rsplit("/", 1)[-1]
    return name if ":" in last_segment else f"{name}:latest"


def deterministic_embedding(text: str, dimensions: int) -> list[float]:
    """A unit-length vector derived from the text, so equal texts embed equally across runs."""
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [((seed[i % len(seed)] + i * 31) % 255) / 127.0 - 1.0 for i in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [round(value / norm, 6) for value in raw]


Handler = Callable[[RecordedRequest], "Scenario | Mapping[str, Any]"]
RouteAnswer = Scenario | Handler


class FakeOllama:
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
        self._server: ThreadingHTTPServer | None = None
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
        server = _LoopbackServer(("127.0.0.1", 0), _make_handler_class(self))
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

    def register_model(
        self,
        name: str,
        capabilities: Sequence[str] = ("completion",),
        context_length: int = 8192,
        family: str = "llama",
        embedding_length: int | None = None,
        architecture: str | None = None,
        parameter_size: str = "3.2B",
    ) -> FakeModel:
        model = FakeModel(
            name=full_model_name(name),
            capabilities=tuple(capabilities),
            context_length=context_length,
            family=family,
            architecture=architecture or family,
            embedding_length=embedding_length,
            parameter_size=parameter_size,
        )
        with self._lock:
            self._models[model.name] = model
        return model

    def unregister_model(self, name: str) -> None:
        with self._lock:
            self._models.pop(full_model_name(name), None)

    def clear_models(self) -> None:
        with self._lock:
            self._models.clear()

    def register_default_models(self) -> None:
        """A small library like a typical local install: chat, tools, thinking, vision and embedding models."""
        self.register_model("llama3.2", ["completion", "tools"], context_length=131072, family="llama")
        self.register_model(
            "qwen3", ["completion", "tools", "thinking"], context_length=40960, family="qwen3", parameter_size="8.2B"
        )
        self.register_model("llava", ["completion", "vision"], context_length=32768, parameter_size="7B")
        self.register_model(
            "nomic-embed-text",
            ["embedding"],
            context_length=2048,
            family="nomic-bert",
            embedding_length=768,
            parameter_size="137M",
        )

    def register_audio_model(self, name: str = "gemma4:e4b") -> FakeModel:
        """A gemma4-like model that hears WAV and MP3 in `images` (Ollama 0.20.0+) and transcribes it."""
        return self.register_model(
            name, ["completion", "vision", "audio", "tools", "thinking"], context_length=131072, family="gemma4"
        )

    def model(self, name: str) -> FakeModel | None:
        with self._lock:
            return self._models.get(full_model_name(name))

    @property
    def models(self) -> list[FakeModel]:
        with self._lock:
            return list(self._models.values())

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

    # --- built-in routes modelling a real server ---------------------------------------------------

    def _builtin(self, request: RecordedRequest) -> Scenario:
        method = "GET" if request.method == "HEAD" else request.method
        routes: dict[str, dict[str, Callable[[RecordedRequest], Scenario]]] = {
            "/": {"GET": lambda _: Scenario.text("Ollama is running")},
            "/api/version": {"GET": lambda _: Scenario.json({"version": self.version})},
            "/api/tags": {"GET": lambda _: Scenario.json({"models": [m.tags_entry() for m in self.models]})},
            "/api/ps": {"GET": lambda _: Scenario.json({"models": []})},
            "/api/show": {"POST": self._show},
            "/api/chat": {"POST": self._chat},
            "/api/generate": {"POST": self._generate},
            "/api/embed": {"POST": self._embed},
        }
        handlers = routes.get(request.path)
        if handlers is None:
            return Scenario.text("404 page not found", status=404)  # gin's NoRoute answer
        handler = handlers.get(method)
        if handler is None:
            return Scenario.text("405 method not allowed", status=405)
        return handler(request)

    @staticmethod
    def _body(request: RecordedRequest) -> dict[str, Any] | Scenario:
        if not request.body:
            return Scenario.error(400, "missing request body")
        if not isinstance(request.json, dict):
            return Scenario.error(400, "invalid character in request body")
        return request.json

    def _show(self, request: RecordedRequest) -> Scenario:
        body = self._body(request)
        if isinstance(body, Scenario):
            return body
        name = body.get("model") or body.get("name") or ""
        if not name:
            return Scenario.error(400, "model is required")
        model = self.model(name)
        if model is None:
            return Scenario.error(404, f"model '{name}' not found")
        return Scenario.json(model.show_response())

    def _resolve_generating_model(self, request: RecordedRequest, verb: str) -> tuple[dict[str, Any], str] | Scenario:
        body = self._body(request)
        if isinstance(body, Scenario):
            return body
        name = body.get("model") or ""
        if not name:
            return Scenario.error(400, "model is required")
        model = self.model(name)
        if model is None:
            return Scenario.error(404, f'model "{name}" not found, try pulling it first')
        if model.is_embedding_only:
            return Scenario.error(400, f'"{name}" does not support {verb}')
        if body.get("tools") and "tools" not in model.capabilities:
            return Scenario.error(400, f"registry.ollama.ai/library/{model.name} does not support tools")
        think = body.get("think")
        if think not in (None, False) and "thinking" not in model.capabilities:
            return Scenario.error(400, f'"{name}" does not support thinking')
        return body, name

    def _chat(self, request: RecordedRequest) -> Scenario:
        resolved = self._resolve_generating_model(request, "chat")
        if isinstance(resolved, Scenario):
            return resolved
        body, name = resolved
        heard = self._hear_audio(body, name)
        if heard is not None:
            return heard
        top = self._top_logprobs(body)
        if isinstance(top, Scenario):
            return top
        words = ["Hello", "!", " How can I help?"]
        if body.get("stream", True):
            return Scenario.ndjson(
                [chat_chunk(name, word, logprobs=self._word_logprobs(top, [word])) for word in words]
                + [chat_chunk(name, done=True, prompt_eval_count=12, eval_count=len(words))]
            )
        final = chat_chunk(
            name,
            "".join(words),
            done=True,
            prompt_eval_count=12,
            eval_count=len(words),
            logprobs=self._word_logprobs(top, words),
        )
        return Scenario.json(final)

    def _hear_audio(self, body: dict[str, Any], name: str) -> Scenario | None:
        """For an audio model given audio in `images`: check each clip and answer with its transcript."""
        model = self.model(name)
        if model is None or "audio" not in model.capabilities:
            return None
        clips: list[AudioClip] = []
        for message in body.get("messages") or []:
            for image in (message.get("images") or []) if isinstance(message, dict) else []:
                try:
                    clip = heard_clip(str(image))
                except BadAudio as error:
                    return Scenario.error(500, f"failed to process inputs: {error}")
                if clip is not None:
                    clips.append(clip)
        if not clips:
            return None
        with self._lock:
            self.audio_clips.extend(clips)
        text = " ".join(self.transcriber(clip) for clip in clips)
        words = [word + " " for word in text.split(" ")]
        words[-1] = words[-1].rstrip()
        if not body.get("stream", True):
            return Scenario.json(chat_chunk(name, text, done=True, prompt_eval_count=300, eval_count=len(words)))
        return Scenario.ndjson(
            [chat_chunk(name, word) for word in words]
            + [chat_chunk(name, done=True, prompt_eval_count=300, eval_count=len(words))]
        )

    def _generate(self, request: RecordedRequest) -> Scenario:
        resolved = self._resolve_generating_model(request, "generate")
        if isinstance(resolved, Scenario):
            return resolved
        body, name = resolved
        top = self._top_logprobs(body)
        if isinstance(top, Scenario):
            return top
        words = ["Once", " upon", " a", " time."]
        if body.get("stream", True):
            return Scenario.ndjson(
                [generate_chunk(name, word, logprobs=self._word_logprobs(top, [word])) for word in words]
                + [generate_chunk(name, done=True, prompt_eval_count=8, eval_count=len(words))]
            )
        final = generate_chunk(
            name,
            "".join(words),
            done=True,
            prompt_eval_count=8,
            eval_count=len(words),
            logprobs=self._word_logprobs(top, words),
        )
        return Scenario.json(final)

    def _top_logprobs(self, body: dict[str, Any]) -> int | Scenario | None:
        """How many alternatives per token to answer, None for no logprobs, or the 400 for a bad count."""
        if version_tuple(self.version) < version_tuple(LOGPROBS_MIN_VERSION):
            return None  # the fields are unknown to older servers and silently ignored
        top = body.get("top_logprobs", 0)
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS:
            return Scenario.error(400, f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}")
        if not body.get("logprobs") and top == 0:
            return None
        return top

    @staticmethod
    def _word_logprobs(top: int | None, words: Sequence[str]) -> list[dict[str, Any]] | None:
        """Each word as one token that was very likely, followed by made-up less likely alternatives."""
        if top is None:
            return None
        entries = []
        for word in words:
            alternatives = [(word, -0.05)] + [(f"<alt{rank}>", -3.0 - rank) for rank in range(1, top)]
            entries.append(logprob_entry(word, -0.05, alternatives[:top] if top else None))
        return entries

    def _embed(self, request: RecordedRequest) -> Scenario:
        body = self._body(request)
        if isinstance(body, Scenario):
            return body
        name = body.get("model") or ""
        model = self.model(name) if name else None
        if model is None:
            return Scenario.error(404, f'model "{name}" not found, try pulling it first')
        raw_input = body.get("input", [])
        texts = [raw_input] if isinstance(raw_input, str) else list(raw_input)
        dimensions = model.embedding_length or 8
        return Scenario.json(
            {
                "model": name,
                "embeddings": [deterministic_embedding(str(text), dimensions) for text in texts],
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": sum(max(1, len(str(text)) // 4) for text in texts),
            }
        )


# --- HTTP plumbing ------------------------------------------------------------------------------------


class _LoopbackServer(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections when many clients connect at once (load tests).
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets or drops its connection is a scripted fault, not a fake-server failure.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def _make_handler_class(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(_FakeOllamaHandler):
        owner = fake

    return Handler


class _FakeOllamaHandler(BaseHTTPRequestHandler):
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
