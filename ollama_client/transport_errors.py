"""The typed error for each way a request can fail below HTTP: not connected, silent, cut off, too large, late.

client.py decides when to retry; this module only words the failure (the model, the URL and the fix) and says
whether another attempt could help. Nothing here reads the network.
"""

from __future__ import annotations

import httpx

from ollama_client.connect_advice import ConnectFailure, connect_error, connection_advice
from ollama_client.deadline import METADATA_SECONDS
from ollama_client.errors import (
    OllamaConnectionError,
    OllamaError,
    OllamaResponseTooLargeError,
    OllamaServerError,
    OllamaTimeoutError,
    OllamaTLSError,
    ollama_at,
)
from ollama_client.pool import MAX_CONNECT_TIMEOUT_SECONDS


def over_deadline(url: str, model: str | None, timeout: float, what: str, *, metadata: bool) -> OllamaTimeoutError:
    """The call ran out of its deadline (`timeout`: the Request timeout; `metadata`: a model or version lookup,
    whose deadline is shorter)."""
    if timeout <= METADATA_SECONDS or not metadata:
        limit = f"the Request timeout of {timeout:g} s, the longest one call may take"
        fix = "Raise 'Request timeout' in the model settings if answers legitimately take longer."
    else:
        limit = f"{METADATA_SECONDS:g} s, the longest a model or version lookup may take"
        fix = "A working Ollama answers this at once: check that the server is not hung or overloaded."
    return OllamaTimeoutError(
        f"{ollama_at(url, model)} did not finish within {limit} ({what}). {fix}", url=url, model=model
    )


def went_silent(url: str, model: str | None, what: str, fix: str) -> OllamaTimeoutError:
    """`what` happened for longer than the read timeout: "did not start answering within 600 s", …"""
    return OllamaTimeoutError(f"{ollama_at(url, model)} {what}. {fix}", url=url, model=model)


RAISE_TIMEOUT = "Raise 'Request timeout' in the model settings"


def send_failure(
    exc: httpx.TransportError,
    url: str,
    model: str | None,
    timeout: float,
    wait: httpx.Timeout,
    *,
    metadata: bool,
    stale: bool = False,
) -> tuple[OllamaError, bool]:
    """The error for a request that got no response, and whether to retry it: only when the server cannot have
    processed it (not connected: refused, a connect timeout, but not a TLS mismatch; or `stale`: a kept-alive
    connection that failed before any response byte). A server that received the request and then closed, reset
    or went silent is not asked again: it may be working on it. `timeout`: the Request timeout; `wait`: this
    attempt's."""
    if isinstance(exc, httpx.ConnectTimeout):
        seconds = wait.connect or MAX_CONNECT_TIMEOUT_SECONDS
        shown = f"{seconds:g}" if seconds >= 1 else f"{seconds:.2g}"
        error: OllamaError = OllamaTimeoutError(
            f"Could not connect to Ollama at {url} within {shown} s. {connection_advice(url, ConnectFailure.TIMEOUT)}",
            url=url,
            model=model,
        )
        return error, True
    if isinstance(exc, httpx.ConnectError):
        error = connect_error(exc, url, model)
        return error, not isinstance(error, OllamaTLSError)  # https:// to plain HTTP, an untrusted certificate
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        error = OllamaConnectionError(
            f"Ollama at {url} closed the connection without answering ({type(exc).__name__}: {exc or 'closed'}). "
            "Check that the server is running and not restarting or out of memory.",
            url=url,
            model=model,
        )
        return error, stale
    if isinstance(exc, httpx.TimeoutException):
        if metadata and (wait.read or 0) < timeout:
            return over_deadline(
                url, model, timeout, "it accepted the connection but did not answer", metadata=True
            ), False
        what = f"did not start answering within {timeout:g} s (a large model may still be loading)"
        return went_silent(url, model, what, f"{RAISE_TIMEOUT}, or keep the model loaded with keep_alive."), False
    error = OllamaConnectionError(
        f"Request to Ollama at {url} failed: {type(exc).__name__}: {exc}", url=url, model=model
    )
    return error, False


def too_large(url: str, model: str | None, limit: int) -> OllamaResponseTooLargeError:
    fix = "check that the Base URL points at Ollama itself, not at another server or a proxy that adds to it"
    if url.endswith("/api/embed"):
        fix = "lower the embedding 'Batch size' (or the dimensions) so each answer is smaller, or " + fix
    return OllamaResponseTooLargeError(
        f"{ollama_at(url, model)} answered more than {limit // (1024 * 1024)} MiB, the most this plugin reads for "
        f"one such answer; nothing was used. To fix it, {fix}.",
        url=url,
        model=model,
    )


def broken_while_reading(
    exc: httpx.TransportError | httpx.DecodingError, url: str, model: str | None
) -> OllamaConnectionError:
    return OllamaConnectionError(
        f"The connection to Ollama at {url} broke while reading its answer ({type(exc).__name__}).",
        url=url,
        model=model,
    )


def broken_mid_answer(
    exc: httpx.TransportError | httpx.DecodingError, url: str, model: str | None
) -> OllamaConnectionError:
    return OllamaConnectionError(
        f"The connection to {ollama_at(url, model)} broke in the middle of the answer ({type(exc).__name__}: "
        f"{exc or 'closed'}); the answer is incomplete. Check that the server did not restart or run out of memory.",
        url=url,
        model=model,
    )


def compression_of(response: httpx.Response) -> str | None:
    """The Content-Encoding of an answer, None for an uncompressed one. Every request asks for
    `Accept-Encoding: identity`: a compressed answer would be inflated past the size caps, which count what
    arrives on the wire only after httpx decoded it (a small gzip bomb becomes gigabytes)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    return encoding if encoding not in ("", "identity") else None


def compressed_answer(url: str, model: str | None, encoding: str, status: int) -> OllamaServerError:
    return OllamaServerError(
        f"{ollama_at(url, model)} answered compressed (Content-Encoding: {encoding}) although the plugin asked for "
        "an uncompressed answer; nothing was read. Ollama never compresses: check the proxy between Dify and "
        "Ollama and turn off its compression for this address.",
        status=status,
        url=url,
        model=model,
    )
