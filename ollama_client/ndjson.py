"""Incremental NDJSON reader for Ollama's streaming responses.

Bytes are buffered until a newline and each complete line is parsed as UTF-8 JSON, so a
multi-byte character split across network reads survives (a newline byte never occurs
inside a UTF-8 sequence). Nothing is dropped silently: an `{"error": …}` line, a line that
is not JSON or not UTF-8, a line over the size limit, and a stream that ends without
`done: true` each raise OllamaStreamError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ollama_client.errors import OllamaStreamError

# Ollama's runner and Go client allow lines up to 8 MiB (a large base64 image echo, long logprobs).
MAX_LINE_BYTES = 8 * 1024 * 1024
_SNIPPET = 200


class NDJSONStreamReader:
    """Feed raw bytes, get parsed objects. `source` names the request in error messages."""

    def __init__(self, source: str, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.source = source
        self.max_line_bytes = max_line_bytes
        self.done = False
        self.objects_seen = 0
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        """Yield the objects completed by `data`, in order, before raising for a bad line after them."""
        buffer = self._buffer
        buffer += data
        if b"\n" not in data:
            if len(buffer) > self.max_line_bytes:
                self._fail(f"sent a line longer than {self.max_line_bytes // (1024 * 1024)} MiB")
            return
        *lines, rest = buffer.split(b"\n")
        self._buffer = bytearray(rest)
        for line in lines:
            obj = self._parse(line)
            if obj is not None:
                yield obj
        if len(rest) > self.max_line_bytes:
            self._fail(f"sent a line longer than {self.max_line_bytes // (1024 * 1024)} MiB")

    def finish(self) -> Iterator[dict[str, Any]]:
        """Call at end of body: parses a last line without newline, checks that `done` arrived."""
        if self._buffer.strip():
            obj = self._parse(bytes(self._buffer))
            if obj is not None:
                yield obj
        self._buffer.clear()
        if not self.done:
            got = f"after {self.objects_seen} chunk(s)" if self.objects_seen else "before any data"
            self._fail(
                f"ended {got} without its final 'done' chunk: the answer is incomplete "
                "(the model runner may have stopped or the connection was cut)"
            )

    def _parse(self, line: bytes) -> dict[str, Any] | None:
        if len(line) > self.max_line_bytes:
            self._fail(f"sent a line longer than {self.max_line_bytes // (1024 * 1024)} MiB")
        if not line.strip():
            return None
        if self.done:
            # Ollama writes nothing after the done chunk; anything else would be lost.
            self._fail(f"sent data after its final chunk: {self._snippet(line)}")
        try:
            obj = json.loads(line)
        except UnicodeDecodeError:
            self._fail(f"sent a line that is not valid UTF-8: {self._snippet(line)}")
        except ValueError:
            self._fail(f"sent a line that is not JSON: {self._snippet(line)}")
        if not isinstance(obj, dict):
            self._fail(f"sent a JSON line that is not an object: {self._snippet(line)}")
        error = obj.get("error")
        if error is not None:
            text = error if isinstance(error, str) else json.dumps(error)
            raise OllamaStreamError(f'{self.source} reported an error while streaming: "{text}"', ollama_message=text)
        self.objects_seen += 1
        if obj.get("done") is True:
            self.done = True
        return obj

    def _snippet(self, data: bytes) -> str:
        text = data[:_SNIPPET].decode("utf-8", "replace")
        return repr(text + ("…" if len(data) > _SNIPPET else ""))

    def _fail(self, problem: str) -> None:
        raise OllamaStreamError(f"{self.source} {problem}.")


def iter_ndjson(chunks: Iterable[bytes], source: str) -> Iterator[dict[str, Any]]:
    """Parse a whole byte stream; raises OllamaStreamError as described in the module doc."""
    reader = NDJSONStreamReader(source)
    for data in chunks:
        yield from reader.feed(data)
    yield from reader.finish()
