"""The fake's built-in routes, answering as a real Ollama does when a test scripts nothing for a route.

`/`, `/api/version`, `/api/tags`, `/api/ps`, `/api/show`, `/api/chat`, `/api/generate` and `/api/embed`, with
Ollama's error texts for a missing body, an unknown model, a capability the model lacks and a bad
`top_logprobs`; audio models transcribe the clips they are given.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from tests.fake_ollama.audio import AudioClip, BadAudio, heard_clip
from tests.fake_ollama.chunks import chat_chunk, generate_chunk, logprob_entry
from tests.fake_ollama.library import ModelLibrary
from tests.fake_ollama.scenario import RecordedRequest, Scenario

# Ollama 0.12.11 added `logprobs`/`top_logprobs` to chat and generate; older servers ignore both fields.
LOGPROBS_MIN_VERSION = "0.12.11"
MAX_TOP_LOGPROBS = 20


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, patch) of "0.12.11" or "0.13.0-rc1"; unparseable parts count as 0."""
    numbers = []
    for part in version.split("-", 1)[0].split(".")[:3]:
        numbers.append(int(part) if part.isdigit() else 0)
    return tuple(numbers + [0] * (3 - len(numbers)))


def deterministic_embedding(text: str, dimensions: int) -> list[float]:
    """A unit-length vector derived from the text, so equal texts embed equally across runs."""
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [((seed[i % len(seed)] + i * 31) % 255) / 127.0 - 1.0 for i in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [round(value / norm, 6) for value in raw]


class BuiltinRoutes(ModelLibrary):
    """Mixed into FakeOllama: the routes answer from its version, its models and its audio transcriber."""

    version: str
    audio_clips: list[AudioClip]
    transcriber: Callable[[AudioClip], str]

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
        return self._words_answer(body, ["Hello", "!", " How can I help?"], partial(chat_chunk, name), 12)

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
        return self._words_answer(body, ["Once", " upon", " a", " time."], partial(generate_chunk, name), 8)

    def _words_answer(
        self, body: dict[str, Any], words: Sequence[str], chunk: Callable[..., dict[str, Any]], prompt_tokens: int
    ) -> Scenario:
        """The words as a stream of one chunk each, or as one final chunk; with logprobs when asked for."""
        top = self._top_logprobs(body)
        if isinstance(top, Scenario):
            return top
        if body.get("stream", True):
            return Scenario.ndjson(
                [chunk(word, logprobs=self._word_logprobs(top, [word])) for word in words]
                + [chunk(done=True, prompt_eval_count=prompt_tokens, eval_count=len(words))]
            )
        final = chunk(
            "".join(words),
            done=True,
            prompt_eval_count=prompt_tokens,
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
