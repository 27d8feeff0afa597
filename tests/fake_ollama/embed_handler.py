"""A scripted `/api/embed` that follows Ollama's EmbedHandler (server/routes.go) closely, with a cost model.

Install it with `fake.set_route("POST", "/api/embed", OllamaEmbedHandler(fake))`. Compared with the fake's
built-in route it also honours `truncate`, `dimensions` and `options.num_ctx`, answers Ollama's error texts,
and can charge a fixed time per request and per input so benchmarks have a known service time:

- `input`: a string (empty: no input) or a list of strings; anything else is 400 "invalid input type";
- no input: `{"model", "embeddings": []}`, as Ollama answers a load-only request;
- a text longer than the context (`min(options.num_ctx or default_num_ctx, context_length)`, tokens counted
  as one per 4 characters) is cut when `truncate` is absent or true, and is a 400 "the input length exceeds
  the context length" when `truncate` is false;
- `0 < dimensions < length` shortens and re-normalises every vector; larger values are ignored, like Ollama;
- `prompt_eval_count` is the sum of the tokens embedded.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .server import JSON_UTF8, FakeOllama, RecordedRequest, Scenario, deterministic_embedding

CHARS_PER_TOKEN = 4
DEFAULT_NUM_CTX = 4096


@dataclass
class EmbedStats:
    requests: int = 0
    inputs: int = 0
    service_seconds: float = 0.0  # time spent inside the handler: the modelled compute plus building the answer

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "inputs": self.inputs, "service_seconds": self.service_seconds}


def token_count(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def _normalised(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


class VectorPool:
    """Pre-encoded vectors for benchmarks: building an answer costs a join, not per-float Python work.

    Floats are written with 9 significant digits, the length Go's float32 encoding gives (~12.5 bytes per float
    with the comma), so answer sizes match a real server's. `index_for(text)` tells which vector a text gets.
    """

    def __init__(self, dimensions: int, size: int = 64) -> None:
        self.dimensions = dimensions
        self.size = size
        self.fragments: list[bytes] = []
        for index in range(size):
            seed = hashlib.sha256(f"pool-{index}".encode()).digest()
            raw = [((seed[i % len(seed)] + i * 31 + index) % 255) / 127.0 - 1.0 for i in range(dimensions)]
            self.fragments.append(("[" + ",".join(f"{v:.9g}" for v in _normalised(raw)) + "]").encode())

    def index_for(self, text: str) -> int:
        return zlib.crc32(text.encode("utf-8")) % self.size


class OllamaEmbedHandler:
    """Callable route answer for FakeOllama; thread-safe; `stats` accumulates across requests."""

    def __init__(
        self,
        fake: FakeOllama,
        *,
        per_request_seconds: float = 0.0,
        per_input_seconds: float = 0.0,
        default_num_ctx: int = DEFAULT_NUM_CTX,
        report_prompt_eval_count: bool = True,
        pool: VectorPool | None = None,
    ) -> None:
        self.fake = fake
        self.per_request_seconds = per_request_seconds
        self.per_input_seconds = per_input_seconds
        self.default_num_ctx = default_num_ctx
        self.report_prompt_eval_count = report_prompt_eval_count
        self.pool = pool
        self.stats = EmbedStats()
        self._lock = threading.Lock()

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = EmbedStats()

    def __call__(self, request: RecordedRequest) -> Scenario:
        started = time.perf_counter()
        answer, inputs = self._answer(request)
        if self.per_request_seconds or self.per_input_seconds:
            remaining = self.per_request_seconds + self.per_input_seconds * inputs - (time.perf_counter() - started)
            if remaining > 0:
                time.sleep(remaining)
        with self._lock:
            self.stats.requests += 1
            self.stats.inputs += inputs
            self.stats.service_seconds += time.perf_counter() - started
        return answer

    def _answer(self, request: RecordedRequest) -> tuple[Scenario, int]:
        body = request.json
        if not isinstance(body, dict):
            return Scenario.error(400, "missing request body"), 0
        name = body.get("model") or ""
        if not name:
            return Scenario.error(400, "model is required"), 0
        model = self.fake.model(name)
        if model is None:
            return Scenario.error(404, f'model "{name}" not found, try pulling it first'), 0
        raw = body.get("input")
        if isinstance(raw, str):
            texts = [raw] if raw else []
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            texts = list(raw)
        elif raw is None:
            texts = []
        else:
            return Scenario.error(400, "invalid input type"), 0
        if not texts:
            return Scenario.json({"model": name, "embeddings": []}), 0

        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        num_ctx = options.get("num_ctx") or self.default_num_ctx
        context = min(int(num_ctx), model.context_length)
        truncate = body.get("truncate") is not False
        dimensions = body.get("dimensions") if isinstance(body.get("dimensions"), int) else 0
        total_tokens = 0
        kept: list[str] = []
        for text in texts:
            tokens = token_count(text)
            if tokens > context:
                if not truncate:
                    return Scenario.error(400, "the input length exceeds the context length"), len(texts)
                text, tokens = text[: context * CHARS_PER_TOKEN], context
            kept.append(text)
            total_tokens += tokens
        return self._vectors_answer(name, kept, model.embedding_length or 8, dimensions, total_tokens), len(texts)

    def _vectors_answer(self, name: str, texts: list[str], length: int, dimensions: int, tokens: int) -> Scenario:
        count = f',"prompt_eval_count":{tokens}' if self.report_prompt_eval_count and tokens else ""
        if self.pool is not None and not 0 < dimensions < self.pool.dimensions:
            vectors = b",".join(self.pool.fragments[self.pool.index_for(text)] for text in texts)
            payload = b'{"model":' + json.dumps(name).encode() + b',"embeddings":[' + vectors + b"]"
            payload += b',"total_duration":14143917,"load_duration":1019500' + count.encode() + b"}"
            return Scenario(parts=(payload,), content_type=JSON_UTF8)
        vectors_list = [deterministic_embedding(text, length) for text in texts]
        if 0 < dimensions < length:
            vectors_list = [[round(v, 6) for v in _normalised(vector[:dimensions])] for vector in vectors_list]
        answer: dict[str, Any] = {
            "model": name,
            "embeddings": vectors_list,
            "total_duration": 14_143_917,
            "load_duration": 1_019_500,
        }
        if count:
            answer["prompt_eval_count"] = tokens
        return Scenario.json(answer)


def expected_vector(text: str, length: int, dimensions: int = 0) -> list[float]:
    """The vector OllamaEmbedHandler (without a pool) answers for `text`, for assertions."""
    vector = deterministic_embedding(text, length)
    if 0 < dimensions < length:
        return [round(v, 6) for v in _normalised(vector[:dimensions])]
    return vector
