"""HTTP transport to one Ollama server: auth, timeouts, deadlines, body limits, retries, typed errors.

Connections come from the shared per-server pools of pool.py; the API key and the timeout travel with each
request. Every call has a Deadline (deadline.py): by default `timeout` seconds from its start, shorter for
metadata calls, or one shared by the whole invoke; neither silence nor a trickling server outlasts it.
Retries happen only before the first response byte, only for connection failures and 503, only while the
deadline allows, and never once a stream has started.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ollama_client.base_url import normalise_base_url
from ollama_client.chunked import (
    ChunkedBody,
    close_response,
    expect_chunked_body,
    take_chunked_body,
)
from ollama_client.connect_advice import ConnectFailure, connect_error, connection_advice
from ollama_client.deadline import METADATA_SECONDS, Deadline
from ollama_client.errors import (
    OllamaConfigError,
    OllamaConnectionError,
    OllamaError,
    OllamaResponseTooLargeError,
    OllamaServerBusyError,
    OllamaTimeoutError,
    OllamaTLSError,
    describe_body,
    error_from_response,
)
from ollama_client.ndjson import NDJSONStreamReader
from ollama_client.pool import (
    MAX_CONNECT_TIMEOUT_SECONDS,
    auth_headers,
    close_pooled_clients,
    leased_http_client,
    request_timeout,
)
from ollama_client.redaction import redact_bytes, redact_error, secret_digest

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 600.0
MAX_ERROR_BODY_BYTES = 64 * 1024
# Whole (non-streamed) answers are read into memory, so each is capped. Ollama's own answers stay far below:
# /api/show is tens of kB (a long license), /api/embed about 21 MiB for 256 texts of 4,096 dimensions.
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BODY_BYTES_BY_PATH = {"/api/embed": 32 * 1024 * 1024, "/api/version": 1024 * 1024}
_METADATA_PATHS = frozenset({"/api/show", "/api/version", "/api/tags"})

__all__ = ["ClientConfig", "OllamaClient", "RetryPolicy", "close_pooled_clients"]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # the first try plus two retries
    backoff_seconds: float = 0.5  # doubled after each retry
    max_retry_after_seconds: float = 5.0

    def delay(self, retry_number: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                seconds = float(retry_after)
            except ValueError:
                seconds = math.nan  # an HTTP date or garbage: the usual back-off
            if math.isfinite(seconds) and seconds >= 0:  # "nan" or "-1" would make time.sleep() raise
                return min(seconds, self.max_retry_after_seconds)
        return self.backoff_seconds * (2**retry_number)


# What a client without its own policy uses, looked up at each client's creation: tests replace it with a
# policy that does not wait (the `instant_retries` fixture) instead of sleeping through real back-offs.
DEFAULT_RETRY_POLICY = RetryPolicy()


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        # httpx would otherwise fail with an error quoting the whole header, key included (line breaks), or with
        # a bare UnicodeEncodeError (non-ASCII letters).
        if self.api_key and not all(" " <= char <= "~" for char in self.api_key):
            raise OllamaConfigError(
                "The API key contains a line break, control character or non-ASCII character, which cannot be "
                "sent in an HTTP header. Paste the key again without extra characters."
            )

    @classmethod
    def create(cls, base_url: str | None, api_key: str | None = None, timeout: float | None = None) -> ClientConfig:
        return cls(
            base_url=normalise_base_url(base_url),
            api_key=(api_key or "").strip() or None,
            timeout=float(timeout) if timeout else DEFAULT_TIMEOUT_SECONDS,
        )

    def credentials_key(self) -> tuple[str, str, float]:
        """(Base URL, digest of the key, timeout): these credentials in a cache key, without the secret."""
        return (self.base_url, secret_digest(self.api_key), self.timeout)


class OllamaClient:
    """Requests against one Ollama server. Cheap to create: the connection pool is shared."""

    def __init__(
        self, config: ClientConfig, retry: RetryPolicy | None = None, deadline: Deadline | None = None
    ) -> None:
        """`deadline`: one shared by every call of this client (e.g. the capability lookup and the chat of one
        invoke); without it each call must end within `config.timeout` of its own start."""
        self.config = config
        self.retry = retry or DEFAULT_RETRY_POLICY
        self.deadline = deadline

    # -- public API -------------------------------------------------------------------

    def get_json(self, path: str, *, model: str | None = None) -> dict[str, Any]:
        return self._request_json("GET", path, None, model)

    def post_json(
        self,
        path: str,
        body: dict[str, Any],
        *,
        model: str | None = None,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> dict[str, Any]:
        """POST and return the JSON object answered; `decode` may be a faster parser for large bodies."""
        return self._request_json("POST", path, body, model, decode)

    def stream(self, path: str, body: dict[str, Any], *, model: str | None = None) -> Iterator[dict[str, Any]]:
        """POST and yield each NDJSON object of the streamed answer, ending after `done: true`.

        Raises an OllamaError subclass for every failure, also after some objects were yielded.
        """
        for batch in self.stream_batches(path, body, model=model):
            yield from batch

    def stream_batches(
        self, path: str, body: dict[str, Any], *, model: str | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Like `stream`, but the objects come in lists: all those completed by one network read (many when
        the reader fell behind the server, usually one). A list is yielded as soon as its read returns:
        nothing ever waits for more data to fill it.
        """
        url = self._url(path)
        deadline = self._deadline_for(path)
        with leased_http_client(self.config.base_url) as http:
            with expect_chunked_body():
                response = self._send(http, "POST", path, body, model, deadline, stream=True)
            if response.headers.get("content-type", "").lower().startswith("text/html"):
                # A login page or another web app answered 200: say so instead of "a line that is not JSON".
                try:
                    page = self._read_limited(response)
                except httpx.HTTPError:
                    page = b""
                finally:
                    response.close()
                raise self._not_ollama(url, model, response, page)
            yield from self._read_stream(response, url, model, deadline)

    def _read_stream(
        self, response: httpx.Response, url: str, model: str | None, deadline: Deadline
    ) -> Iterator[list[dict[str, Any]]]:
        reader = NDJSONStreamReader(source=f"Ollama at {url}" + (f" (model '{model}')" if model else ""))
        chunked_body: ChunkedBody | None = None
        try:
            try:
                # Ollama's chunked body read a socket read at a time (see chunked.py); httpx's own reading
                # wherever that does not apply (proxies, other encodings, mocked transports).
                chunked_body = take_chunked_body(response, deadline.at)
                feed = reader.feed_batch
                source = chunked_body if chunked_body is not None else _until(deadline, response.iter_bytes())
                for data in source:
                    objects = feed(data)
                    if objects:
                        yield objects
                        reader.raise_pending()
                for last in reader.finish():
                    yield [last]
            except httpx.TransportError as exc:  # timeouts included
                if reader.done:
                    # The answer is complete; only its framing after the last line failed (e.g. endless trailers):
                    # the caller has everything, and the connection is closed instead of reused.
                    logger.warning("Ollama at %s: ignoring a broken end of a complete answer (%s)", url, exc)
                    return
                if isinstance(exc, httpx.TimeoutException):
                    if deadline.remaining() < 0.05:
                        what = "it went silent or sent too slowly; the answer is incomplete"
                        raise self._over_deadline(url, model, what) from exc
                    raise OllamaTimeoutError(
                        f"Ollama at {url} (model '{model}') sent nothing for {self.config.timeout:g} s in the middle "
                        "of its answer. Raise 'Request timeout' in the model settings if the server is just slow.",
                        url=url,
                        model=model,
                    ) from exc
                raise OllamaConnectionError(
                    f"The connection to Ollama at {url} (model '{model}') broke in the middle of the answer "
                    f"({type(exc).__name__}: {exc or 'closed'}); the answer is incomplete. Check that the server "
                    "did not restart or run out of memory.",
                    url=url,
                    model=model,
                ) from exc
        except OllamaError as exc:
            exc.url, exc.model = url, model
            self._redacted(exc)
            raise
        finally:
            close_response(response, chunked_body)

    def version(self) -> str:
        return str(self.get_json("/api/version").get("version", ""))

    def show(self, model: str) -> dict[str, Any]:
        return self.post_json("/api/show", {"model": model}, model=model)

    def tags(self) -> list[dict[str, Any]]:
        models = self.get_json("/api/tags").get("models") or []
        return [m for m in models if isinstance(m, dict)]

    # -- internals --------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config.base_url + path

    def _deadline_for(self, path: str) -> Deadline:
        deadline = self.deadline or Deadline.after(self.config.timeout)
        return deadline.sooner(METADATA_SECONDS) if path in _METADATA_PATHS else deadline

    def _over_deadline(self, url: str, model: str | None, what: str) -> OllamaTimeoutError:
        if self.config.timeout <= METADATA_SECONDS or not url.endswith(tuple(_METADATA_PATHS)):
            limit = f"the Request timeout of {self.config.timeout:g} s, the longest one call may take"
            fix = "Raise 'Request timeout' in the model settings if answers legitimately take longer."
        else:
            limit = f"{METADATA_SECONDS:g} s, the longest a model or version lookup may take"
            fix = "A working Ollama answers this at once: check that the server is not hung or overloaded."
        return OllamaTimeoutError(
            f"Ollama at {url}" + (f" (model '{model}')" if model else "") + f" did not finish within {limit} "
            f"({what}). {fix}",
            url=url,
            model=model,
        )

    def _request_json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        model: str | None,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> dict[str, Any]:
        url = self._url(path)
        deadline = self._deadline_for(path)
        with leased_http_client(self.config.base_url) as http:
            response = self._send(http, method, path, body, model, deadline, stream=False)
            content = self._read_whole(response, url, model, deadline, MAX_BODY_BYTES_BY_PATH.get(path, MAX_BODY_BYTES))
        try:
            payload = decode(content)
        except ValueError:
            raise self._not_ollama(url, model, response, content) from None
        if not isinstance(payload, dict):
            raise OllamaConnectionError(
                f"{url} answered with JSON that is not an object; check that the Base URL points at Ollama.",
                url=url,
                model=model,
            )
        return payload

    def _read_whole(
        self, response: httpx.Response, url: str, model: str | None, deadline: Deadline, limit: int
    ) -> bytes:
        """The whole body, refused beyond `limit` bytes (before reading it, when its length is declared)."""
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self._too_large(url, model, limit)
            collected = bytearray()
            for data in _until(deadline, response.iter_bytes()):
                collected += data
                if len(collected) > limit:
                    raise self._too_large(url, model, limit)
            return bytes(collected)
        except httpx.TimeoutException as exc:
            if deadline.remaining() < 0.05:
                raise self._redacted(self._over_deadline(url, model, "it went silent or sent too slowly")) from exc
            raise self._redacted(
                OllamaTimeoutError(
                    f"Ollama at {url}" + (f" (model '{model}')" if model else "") + " did not finish answering "
                    f"within {self.config.timeout:g} s. Raise 'Request timeout' in the model settings.",
                    url=url,
                    model=model,
                )
            ) from exc
        except httpx.TransportError as exc:
            raise self._redacted(
                OllamaConnectionError(
                    f"The connection to Ollama at {url} broke while reading its answer ({type(exc).__name__}).",
                    url=url,
                    model=model,
                )
            ) from exc
        finally:
            response.close()

    @staticmethod
    def _too_large(url: str, model: str | None, limit: int) -> OllamaResponseTooLargeError:
        fix = "check that the Base URL points at Ollama itself, not at another server or a proxy that adds to it"
        if url.endswith("/api/embed"):
            fix = "lower the embedding 'Batch size' (or the dimensions) so each answer is smaller, or " + fix
        return OllamaResponseTooLargeError(
            f"Ollama at {url}" + (f" (model '{model}')" if model else "") + f" answered more than "
            f"{limit // (1024 * 1024)} MiB, the most this plugin reads for one such answer; nothing was used. "
            f"To fix it, {fix}.",
            url=url,
            model=model,
        )

    def _send(
        self,
        http: httpx.Client,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        model: str | None,
        deadline: Deadline,
        *,
        stream: bool,
    ) -> httpx.Response:
        """Send with bounded retries within `deadline`; return a 2xx response (body not yet read) or raise."""
        url = self._url(path)
        if body is not None and isinstance(body.get("model"), str):
            body = {**body, "model": body["model"].strip()}  # a name pasted with a space: Dify keeps it as typed
        headers = auth_headers(self.config.api_key)
        last_error: OllamaError | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                retry_after = last_error.retry_after if isinstance(last_error, OllamaServerBusyError) else None
                delay = self.retry.delay(attempt - 1, retry_after)
                if delay >= deadline.remaining():
                    break  # no time left for another attempt: report the last failure
                logger.info("retrying %s %s in %.2fs after: %s", method, url, delay, last_error)
                time.sleep(delay)
            remaining = deadline.remaining()
            if remaining <= 0:
                if last_error is None:
                    what = "the time ran out before this request could be sent, e.g. in the model lookup before it"
                    raise self._redacted(self._over_deadline(url, model, what))
                break
            try:
                timeout = request_timeout(self.config.timeout, remaining)
                request = http.build_request(method, url, json=body, headers=headers, timeout=timeout)
                response = http.send(request, stream=True)
            except httpx.ConnectTimeout:
                last_error = OllamaTimeoutError(
                    f"Could not connect to Ollama at {url} within "
                    f"{_seconds(timeout.connect or MAX_CONNECT_TIMEOUT_SECONDS)} s. "
                    f"{connection_advice(url, ConnectFailure.TIMEOUT)}",
                    url=url,
                    model=model,
                )
                continue
            except httpx.ConnectError as exc:
                last_error = connect_error(exc, url, model)
                if isinstance(last_error, OllamaTLSError):  # https:// to plain HTTP, untrusted certificate
                    raise self._redacted(last_error) from exc
                continue
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # The server closed or reset the connection before any response byte (e.g. a stale
                # pooled connection or a server restarting): nothing was streamed, safe to retry.
                last_error = OllamaConnectionError(
                    f"Ollama at {url} closed the connection without answering ({type(exc).__name__}: "
                    f"{exc or 'closed'}). Check that the server is running and not restarting or out of memory.",
                    url=url,
                    model=model,
                )
                continue
            except httpx.TimeoutException as exc:
                if path in _METADATA_PATHS and (timeout.read or 0) < self.config.timeout:
                    raise self._redacted(
                        self._over_deadline(url, model, "it accepted the connection but did not answer")
                    ) from exc
                raise self._redacted(
                    OllamaTimeoutError(
                        f"Ollama at {url}" + (f" (model '{model}')" if model else "") + " did not start answering "
                        f"within {self.config.timeout:g} s (a large model may still be loading). Raise "
                        "'Request timeout' in the model settings, or keep the model loaded with keep_alive.",
                        url=url,
                        model=model,
                    )
                ) from exc
            except httpx.TransportError as exc:
                raise self._redacted(
                    OllamaConnectionError(
                        f"Request to Ollama at {url} failed: {type(exc).__name__}: {exc}", url=url, model=model
                    )
                ) from exc

            if response.status_code < 300:
                return response
            try:
                # Redacted before anything quotes (and cuts) it: a cut could leave part of an echoed key.
                error_body = redact_bytes(self._read_limited(response), self.config.api_key)
            except httpx.HTTPError:
                error_body = b""
            finally:
                response.close()
            error = error_from_response(
                response.status_code,
                error_body,
                url=url,
                model=model,
                content_type=response.headers.get("content-type"),
                location=response.headers.get("location"),
                retry_after=response.headers.get("retry-after"),
                api_key_sent=self.config.api_key is not None,
            )
            if isinstance(error, OllamaServerBusyError):
                last_error = self._redacted(error)  # it is logged before the retry
                continue
            raise self._redacted(error)
        assert last_error is not None
        raise self._redacted(last_error)

    def _not_ollama(self, url: str, model: str | None, response: httpx.Response, body: bytes) -> OllamaError:
        """A 2xx answer that is not Ollama's JSON: the Base URL reaches some other web server."""
        _, said = describe_body(redact_bytes(body, self.config.api_key), response.headers.get("content-type"))
        if not said.startswith("an HTML page"):  # that description already says it is not Ollama's JSON
            said += " instead of Ollama's JSON"
        return self._redacted(
            OllamaConnectionError(
                f"{url} answered HTTP {response.status_code} with {said}. "
                "Check that the Base URL points at the Ollama server.",
                status=response.status_code,
                url=url,
                model=model,
            )
        )

    @staticmethod
    def _read_limited(response: httpx.Response) -> bytes:
        collected = bytearray()
        for data in response.iter_bytes():
            collected += data
            if len(collected) >= MAX_ERROR_BODY_BYTES:
                break
        return bytes(collected[:MAX_ERROR_BODY_BYTES])

    def _redacted(self, error: OllamaError) -> OllamaError:
        """Make sure no part of the API key travels inside an error message or the exceptions behind it."""
        return redact_error(error, self.config.api_key)


def _seconds(value: float) -> str:
    return f"{value:g}" if value >= 1 else f"{value:.2g}"


def _until(deadline: Deadline, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks`, cut with a ReadTimeout once `deadline` has passed (a trickle never resets it)."""
    at = deadline.at
    for data in chunks:
        if time.monotonic() >= at:
            raise httpx.ReadTimeout("the call's deadline passed")
        yield data
