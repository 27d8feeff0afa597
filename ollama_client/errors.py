"""One exception type per Ollama failure kind, chosen by HTTP status and transport failure.

Ollama's own error text is kept in every message, together with the model, the URL and
what to do about it. The Dify side maps these classes to Invoke errors in one place
(models/invoke_errors.py); nothing here knows about Dify.
"""

from __future__ import annotations

import json
import re

from ollama_client.auth_advice import cloud_model_not_found_advice, is_cloud_model, unauthorized_advice

DOCKER_HINT = (
    "If Dify runs in Docker, 'localhost' is the Dify container itself: use "
    "http://host.docker.internal:11434 or the LAN IP of the machine running Ollama, "
    "and start Ollama with OLLAMA_HOST=0.0.0.0 so it listens on all interfaces."
)

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


def _who(model: str | None, url: str) -> str:
    return f"Ollama at {url}" + (f" (model '{model}')" if model else "")


def describe_body(body: bytes, content_type: str | None) -> tuple[str | None, str]:
    """Return (Ollama's `error` text or None, a short human description of the body)."""
    text = body.strip()
    if not text:
        return None, "an empty body"
    try:
        parsed = json.loads(text)
    except ValueError:
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
    """Build the typed error for a non-2xx response. `url` is the full request URL; `api_key_sent` tells a
    missing key from a refused one on 401 (None: not known)."""
    ollama_message, said = describe_body(body, content_type)
    who = _who(model, url)
    base = f"{who} answered HTTP {status}: {said}."
    kwargs = {"status": status, "ollama_message": ollama_message, "url": url, "model": model}

    if 300 <= status < 400:
        target = f" to {location}" if location else ""
        return OllamaRedirectError(
            f"{who} answered with a redirect (HTTP {status}){target}. Set the Base URL to the final "
            "address (for example https:// instead of http://, or without a path prefix).",
            **kwargs,
        )
    if status in (401, 403):
        if ollama_message and "cloud is disabled" in ollama_message:
            fix = "Cloud models are disabled on that server (OLLAMA_NO_CLOUD); use a local model or enable cloud."
        elif status == 403 and ollama_message is None and not body.strip():
            fix = (
                "Ollama refuses requests whose Host header it does not allow: start it with "
                "OLLAMA_HOST=0.0.0.0 and, behind a proxy, set OLLAMA_ORIGINS."
            )
        else:
            fix = unauthorized_advice(url, model, body, api_key_sent)
        return OllamaAuthError(f"{base} {fix}", **kwargs)
    if status == 404:
        if ollama_message is not None and "not found" in ollama_message.lower():
            name = model or "the model"
            if is_cloud_model(model, url):
                return OllamaModelNotFoundError(f"{base} {cloud_model_not_found_advice(model, url)}", **kwargs)
            return OllamaModelNotFoundError(
                f"{base} The model is not available on that server: run `ollama pull {name}` there "
                "(check the exact name and tag with `ollama list`).",
                **kwargs,
            )
        return OllamaEndpointNotFoundError(
            f"{base} That address does not serve the Ollama API. Check the Base URL: it should be the "
            "server root such as http://host:11434 (not an OpenAI-compatible /v1 endpoint of another server).",
            **kwargs,
        )
    if status == 429:
        return OllamaRateLimitError(f"{base} Wait and retry, or raise the usage limit of the account.", **kwargs)
    if status == 503:
        busy = OllamaServerBusyError(
            f"{base} The server is busy (its request queue is full); retry later or raise "
            "OLLAMA_MAX_QUEUE / OLLAMA_NUM_PARALLEL on the server.",
            **kwargs,
        )
        busy.retry_after = retry_after
        return busy
    if status == 400 and ollama_message is not None:
        if _UNSUPPORTED.search(ollama_message):
            return OllamaUnsupportedFeatureError(
                f"{base} Turn that feature off in the model settings or pick a model that has it "
                "(`ollama show <model>` lists its capabilities).",
                **kwargs,
            )
        if _CONTEXT_OVERFLOW.search(ollama_message):
            return OllamaContextOverflowError(
                f"{base} Shorten the input, raise the model's context size, or use a model with a longer context.",
                **kwargs,
            )
    if 400 <= status < 500 and status != 499:
        return OllamaBadRequestError(base, **kwargs)
    if status == 499 or status >= 500:
        return OllamaServerError(f"{base} Check the Ollama server log for details.", **kwargs)
    return OllamaServerError(f"{who} answered with unexpected HTTP {status}: {said}.", **kwargs)
