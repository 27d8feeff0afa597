"""One exception type per rerank-service failure kind, chosen by HTTP status, transport failure and answer shape.

Messages name the service URL and the model and say what to do; nothing here knows about Dify
(models/invoke_errors.py maps these classes to Invoke errors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

BATCH_HINT = (
    "Choose the rerank method 'Compatible rerank service' and set 'Documents per request' to the service's limit "
    "(TEI: --max-client-batch-size, 32 by default), or raise that limit on the service."
)
MAX_QUOTED_CHARS = 300
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class RerankServiceError(Exception):
    """Base class. `message` is complete and meant for the user; the client redacts the API key in it."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None, model: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url
        self.model = model

    def __str__(self) -> str:
        return self.message


class RerankConfigError(RerankServiceError):
    """The Base URL cannot address a rerank service."""


class RerankConnectionError(RerankServiceError):
    """No usable connection: refused, DNS, TLS, closed before answering, or broken while answering."""


class RerankTimeoutError(RerankConnectionError):
    """Connecting took too long, or the service was silent for longer than the request timeout."""


class RerankRequestError(RerankServiceError):
    """A 4xx the user can fix: model name, Base URL, documents per request."""


class RerankModelNotFoundError(RerankRequestError):
    """404 answered by the service itself (an error object), not by a missing route."""


class RerankEndpointNotFoundError(RerankRequestError):
    """Every candidate path answered like a missing route."""


class RerankRedirectError(RerankRequestError):
    """3xx: the Base URL points at a redirect; a POST is never replayed elsewhere."""


class RerankAuthError(RerankServiceError):
    """401/403: missing or wrong API key."""


class RerankRateLimitError(RerankServiceError):
    """429: the service's rate limit or quota."""


class RerankServerError(RerankServiceError):
    """5xx: the service failed or is overloaded."""


class RerankResponseError(RerankServiceError):
    """2xx with an answer that is not a usable rerank result (not JSON, wrong shape, too large)."""


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= MAX_QUOTED_CHARS else f'"{text[:MAX_QUOTED_CHARS]}…"'


def parse_json(body: bytes) -> object | None:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: deeply nested brackets
        return None


def describe_answer(body: bytes, content_type: str | None) -> str:
    """A short description of an answer body: the service's own message when it has one.

    >>> describe_answer(b'{"error": {"message": "bad model"}}', "application/json")
    '"bad model"'
    >>> describe_answer(b"", None)
    'an empty body'
    """
    parsed = parse_json(body)
    if isinstance(parsed, Mapping):
        for key in ("error", "message", "detail", "error_message"):
            value = parsed.get(key)
            if isinstance(value, Mapping):  # OpenAI style {"error": {"message": ...}}
                value = value.get("message")
            if isinstance(value, list) and value and isinstance(value[0], Mapping):  # FastAPI validation
                value = "; ".join(str(entry.get("msg", entry)) for entry in value[:3])
            if isinstance(value, str) and value.strip():
                return _quoted(value)
    text = body.strip()
    if not text:
        return "an empty body"
    if (content_type or "").lower().startswith("text/html") or text[:15].lower().startswith((b"<!doctype", b"<html")):
        match = _HTML_TITLE.search(text)
        title = match.group(1).decode("utf-8", "replace").strip()[:120] if match else ""
        return "an HTML page" + (f" titled '{title}'" if title else "")
    return _quoted(text[: MAX_QUOTED_CHARS * 4].decode("utf-8", "replace"))


def is_missing_route(body: bytes) -> bool:
    """Whether a 404 says the path does not exist rather than something the service looked up.

    A missing route answers an empty body, plain text or HTML (gin's "404 page not found", axum, nginx),
    or Starlette's bare `{"detail": "..."}` (vLLM, Xinference, Infinity); a service that looked for a model
    answers its own error object (`{"error": {...}}`, `{"object": "error", "message": ...}`).
    """
    parsed = parse_json(body)
    if not isinstance(parsed, Mapping):
        return True
    return set(parsed) == {"detail"} and isinstance(parsed["detail"], str)


def error_from_status(
    status: int, body: bytes, *, url: str, model: str, content_type: str | None, location: str | None
) -> RerankServiceError:
    """The typed error for a non-2xx answer of the rerank endpoint at `url`."""
    said = describe_answer(body, content_type)
    base = f"The rerank service at {url} (model '{model}') answered HTTP {status}: {said}."
    kwargs: dict = {"status": status, "url": url, "model": model}
    if 300 <= status < 400:
        target = f" to {location}" if location else ""
        return RerankRedirectError(
            f"The rerank service at {url} answered with a redirect (HTTP {status}){target}. Enter the final address "
            "as the Base URL (e.g. https:// instead of http://).",
            **kwargs,
        )
    if status in (401, 403):
        return RerankAuthError(
            f"{base} Check the API key field: enter the key this service expects (it is sent as "
            "'Authorization: Bearer <key>'), or leave it empty for a service without authentication.",
            **kwargs,
        )
    if status == 404:
        return RerankModelNotFoundError(
            f"{base} Enter as the model name a rerank model this service serves, and check that the Base URL is "
            "its rerank endpoint.",
            **kwargs,
        )
    if status == 413:
        return RerankRequestError(f"{base} The request was too large. {BATCH_HINT}", **kwargs)
    if status == 429:
        return RerankRateLimitError(f"{base} Wait and retry, or raise the service's rate limit.", **kwargs)
    if status >= 500:
        return RerankServerError(f"{base} The service failed or is still starting; check its log.", **kwargs)
    return RerankRequestError(
        f"{base} Check the model name (a rerank model this service serves) and that the Base URL is its rerank "
        f"endpoint; for a limit on documents: {BATCH_HINT}",
        **kwargs,
    )
