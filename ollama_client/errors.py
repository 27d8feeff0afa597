"""One exception type per Ollama failure kind, chosen by HTTP status and transport failure.

Ollama's own error text is kept in every message, together with the model, the URL and
what to do about it. The Dify side maps these classes to Invoke errors in one place
(models/invoke_errors.py); nothing here knows about Dify.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container
from dataclasses import dataclass

from ollama_client.auth_advice import cloud_model_not_found_advice, is_cloud_model, unauthorized_advice

# A 400 from Ollama is split further by the kind of request it rejects; these are the
# server's own phrasings (api/types.go, server/routes.go, llm/llama_server.go).
_UNSUPPORTED = re.compile(r"does not support", re.IGNORECASE)
_CONTEXT_OVERFLOW = re.compile(
    r"context length|context size|exceeds? (the )?(maximum )?context|exceed_context_size|prompt is too long",
    re.IGNORECASE,
)
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_QUOTED_BODY = 300


class OllamaError(Exception):
    """Base class. `message` is complete and safe to show a user (no secrets)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        ollama_message: str | None = None,
        url: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.ollama_message = ollama_message
        self.url = url
        self.model = model

    def __str__(self) -> str:
        return self.message


class OllamaConfigError(OllamaError):
    """The plugin's own settings are unusable (bad Base URL, timeout, …)."""


class OllamaConnectionError(OllamaError):
    """No usable connection: refused, DNS failure, reset, or the body was cut off."""


class OllamaTLSError(OllamaConnectionError):
    """The TLS handshake failed in a way a retry cannot fix: https:// to a plain-HTTP server, or an untrusted
    certificate."""


class OllamaTimeoutError(OllamaError):
    """Connecting took too long, or the server went silent for longer than the timeout."""


class OllamaBadRequestError(OllamaError):
    """Ollama rejected the request (400 and other 4xx not covered below)."""


class OllamaUnsupportedFeatureError(OllamaBadRequestError):
    """400 `... does not support tools|thinking|insert|chat|generate`."""


class OllamaContextOverflowError(OllamaBadRequestError):
    """400: the prompt or input is longer than the model's context window."""


class OllamaModelNotFoundError(OllamaBadRequestError):
    """404: the model is not pulled on this server."""


class OllamaEndpointNotFoundError(OllamaBadRequestError):
    """404 for the path itself: the Base URL does not point at an Ollama API."""


class OllamaRedirectError(OllamaBadRequestError):
    """3xx: the Base URL points at a redirect; we never replay a POST elsewhere."""


class OllamaAuthError(OllamaError):
    """401/403: missing or wrong API key, or cloud models disabled."""


class OllamaRateLimitError(OllamaError):
    """429: usage limit (ollama.com) or a rate-limiting proxy."""


class OllamaServerError(OllamaError):
    """499 and 5xx other than 503: the runner crashed, ran out of memory, was cancelled…"""


class OllamaServerBusyError(OllamaServerError):
    """503: Ollama's request queue is full; retrying later helps."""

    retry_after: str | None = None


class OllamaResponseTooLargeError(OllamaServerError):
    """A whole (non-streamed) answer larger than we read into memory."""


class OllamaStreamError(OllamaError):
    """The response stream broke: an error line, a non-JSON line, or no final `done` chunk."""


def redact_secret[E: BaseException](error: E, secret: str | None) -> E:
    """Mask `secret` (and any 8+ character run of it) in the error's texts: see ollama_client/redaction.py."""
    from ollama_client.redaction import redact_error  # redaction.py is the one place that knows how

    return redact_error(error, secret)


def ollama_at(url: str, model: str | None = None) -> str:
    """How messages name the server and the model: "Ollama at URL (model 'name')", without a missing model.

    >>> ollama_at("http://h:11434/api/chat", "qwen3"), ollama_at("http://h:11434/api/tags", None)
    ("Ollama at http://h:11434/api/chat (model 'qwen3')", 'Ollama at http://h:11434/api/tags')
    """
    return f"Ollama at {url}" + (f" (model '{model}')" if model else "")


def no_done_error(source: str = "Ollama's answer", chunks_seen: int | None = None) -> OllamaStreamError:
    """A stream that ended without its final `done: true` chunk (`chunks_seen`: how many came before).

    >>> str(no_done_error("Ollama at u", 0))[:52]
    'Ollama at u ended before any data without its final '
    """
    when = "" if chunks_seen is None else f" after {chunks_seen} chunk(s)" if chunks_seen else " before any data"
    return OllamaStreamError(
        f"{source} ended{when} without its final 'done' chunk: the answer is incomplete "
        "(the model runner may have stopped or the connection was cut)."
    )


def describe_body(body: bytes, content_type: str | None) -> tuple[str | None, str]:
    """Return (Ollama's `error` text or None, a short human description of the body)."""
    text = body.strip()
    if not text:
        return None, "an empty body"
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: a body of deeply nested brackets
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return parsed["error"], f'"{parsed["error"]}"'
    looks_html = (content_type or "").lower().startswith("text/html") or text[:15].lower().startswith(
        (b"<!doctype html", b"<html")
    )
    if looks_html:
        match = _HTML_TITLE.search(text)
        title = match.group(1).decode("utf-8", "replace").strip() if match else ""
        shown = f" titled '{title[:120]}'" if title else ""
        return None, f"an HTML page{shown} (not Ollama's JSON: a reverse proxy or another web server answered)"
    snippet = text[:_MAX_QUOTED_BODY].decode("utf-8", "replace")
    more = "…" if len(text) > _MAX_QUOTED_BODY else ""
    return None, f'"{snippet}{more}"'


@dataclass(frozen=True)
class ErrorAnswer:
    """A non-2xx answer, as the rules below see it."""

    status: int
    body: bytes
    ollama_message: str | None  # Ollama's `{"error": …}` text
    said: str  # a short description of the body
    url: str
    model: str | None
    location: str | None
    api_key_sent: bool | None

    @property
    def headline(self) -> str:
        return f"{ollama_at(self.url, self.model)} answered HTTP {self.status}: {self.said}."

    def ollama_says(self, pattern: re.Pattern[str]) -> bool:
        return self.ollama_message is not None and pattern.search(self.ollama_message) is not None


Advice = str | Callable[[ErrorAnswer], str]


@dataclass(frozen=True)
class StatusRule:
    """Answers with a status in `statuses` (and, if given, an Ollama error text matching `ollama_says`) raise
    `error` with the headline, then `advice`."""

    statuses: Container[int]
    error: type[OllamaError]
    advice: Advice = ""
    ollama_says: re.Pattern[str] | None = None
    whole_message: bool = False  # `advice` writes the whole message, headline included

    def matches(self, answer: ErrorAnswer) -> bool:
        return answer.status in self.statuses and (self.ollama_says is None or answer.ollama_says(self.ollama_says))

    def message(self, answer: ErrorAnswer) -> str:
        advice = self.advice(answer) if callable(self.advice) else self.advice
        if self.whole_message:
            return advice
        return f"{answer.headline} {advice}" if advice else answer.headline


def _redirect_message(answer: ErrorAnswer) -> str:
    target = f" to {answer.location}" if answer.location else ""
    return (
        f"{ollama_at(answer.url, answer.model)} answered with a redirect (HTTP {answer.status}){target}. Set the "
        "Base URL to the final address (for example https:// instead of http://, or without a path prefix)."
    )


def _auth_advice(answer: ErrorAnswer) -> str:
    if answer.ollama_message and "cloud is disabled" in answer.ollama_message:
        return "Cloud models are disabled on that server (OLLAMA_NO_CLOUD); use a local model or enable cloud."
    if answer.status == 403 and answer.ollama_message is None and not answer.body.strip():
        return (
            "Ollama refuses requests whose Host header it does not allow: start it with "
            "OLLAMA_HOST=0.0.0.0 and, behind a proxy, set OLLAMA_ORIGINS."
        )
    return unauthorized_advice(answer.url, answer.model, answer.body, answer.api_key_sent)


def _model_not_found_advice(answer: ErrorAnswer) -> str:
    if is_cloud_model(answer.model, answer.url):
        return cloud_model_not_found_advice(answer.model, answer.url)
    return (
        f"The model is not available on that server: run `ollama pull {answer.model or 'the model'}` there "
        "(check the exact name and tag with `ollama list`)."
    )


_CLIENT_ERRORS = frozenset(range(400, 500)) - {499}
_SERVER_ERRORS = frozenset(range(500, 600)) | {499}

# First match wins. Ollama's own statuses and phrasings: server/routes.go, api/types.go, llm/llama_server.go.
STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule(range(300, 400), OllamaRedirectError, _redirect_message, whole_message=True),
    StatusRule((401, 403), OllamaAuthError, _auth_advice),
    StatusRule((404,), OllamaModelNotFoundError, _model_not_found_advice, re.compile("not found", re.IGNORECASE)),
    StatusRule(
        (404,),
        OllamaEndpointNotFoundError,
        "That address does not serve the Ollama API. Check the Base URL: it should be the server root such as "
        "http://host:11434 (not an OpenAI-compatible /v1 endpoint of another server).",
    ),
    StatusRule((429,), OllamaRateLimitError, "Wait and retry, or raise the usage limit of the account."),
    StatusRule(
        (503,),
        OllamaServerBusyError,
        "The server is busy (its request queue is full); retry later or raise OLLAMA_MAX_QUEUE / "
        "OLLAMA_NUM_PARALLEL on the server.",
    ),
    StatusRule(
        (400,),
        OllamaUnsupportedFeatureError,
        "Turn that feature off in the model settings or pick a model that has it (`ollama show <model>` lists "
        "its capabilities).",
        _UNSUPPORTED,
    ),
    StatusRule(
        (400,),
        OllamaContextOverflowError,
        "Shorten the input, raise the model's context size, or use a model with a longer context.",
        _CONTEXT_OVERFLOW,
    ),
    StatusRule(_CLIENT_ERRORS, OllamaBadRequestError),
    StatusRule(_SERVER_ERRORS, OllamaServerError, "Check the Ollama server log for details."),
)


def error_from_response(
    status: int,
    body: bytes,
    *,
    url: str,
    model: str | None,
    content_type: str | None = None,
    location: str | None = None,
    retry_after: str | None = None,
    api_key_sent: bool | None = None,
) -> OllamaError:
    """Build the typed error for a non-2xx response (the first of STATUS_RULES that matches). `url` is the full
    request URL; `api_key_sent` tells a missing key from a refused one on 401 (None: not known)."""
    ollama_message, said = describe_body(body, content_type)
    answer = ErrorAnswer(status, body, ollama_message, said, url, model, location, api_key_sent)
    rule = next((rule for rule in STATUS_RULES if rule.matches(answer)), None)
    error_class = rule.error if rule is not None else OllamaServerError
    unexpected = f"{ollama_at(url, model)} answered with unexpected HTTP {status}: {said}."
    message = rule.message(answer) if rule is not None else unexpected
    error = error_class(message, status=status, ollama_message=ollama_message, url=url, model=model)
    if isinstance(error, OllamaServerBusyError):
        error.retry_after = retry_after
    return error
