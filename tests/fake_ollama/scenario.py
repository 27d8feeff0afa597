"""What the fake Ollama answers and what it records: `Scenario`, `RecordedRequest`, and transcripts from files.

A `Scenario` is one scripted answer: status, headers and body parts, with the faults a real network or server
shows (delays, a stalled server, an abrupt close, a reset). `tests/fake_ollama/handler.py` plays it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "ollama"
# Verbatim upstream examples shared by every project in the workspace (not part of this repository).
SHARED_EXAMPLES_DIR = REPO_ROOT.parent / "shared" / "ollama-examples"

NDJSON = "application/x-ndjson"
JSON_UTF8 = "application/json; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"

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
