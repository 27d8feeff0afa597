"""HTTP transport to one Ollama server: pooled clients, auth, timeouts, retries, typed errors.

The Dify SDK builds a new model instance for every request, so connection pools live at
module level, one `httpx.Client` per (base URL, API key, timeout), shared by all threads
(greenlets under the plugin runtime). Retries happen only before the first response byte,
only for connection failures and 503, and never once a stream has started.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
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
    install_chunked_reader,
    take_chunked_body,
)
from ollama_client.errors import (
    DOCKER_HINT,
    OllamaConfigError,
    OllamaConnectionError,
    OllamaError,
    OllamaServerBusyError,
    OllamaTimeoutError,
    describe_body,
    error_from_response,
)
from ollama_client.ndjson import NDJSONStreamReader

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 600.0
# Connecting is quick or never happens; a long connect wait only delays the error.
MAX_CONNECT_TIMEOUT_SECONDS = 10.0
MAX_ERROR_BODY_BYTES = 64 * 1024
USER_AGENT = "dify-plugin-ollama/0.1.0"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # the first try plus two retries
    backoff_seconds: float = 0.5  # doubled after each retry
    max_retry_after_seconds: float = 5.0

    def delay(self, retry_number: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_retry_after_seconds)
            except ValueError:
                pass
        return self.backoff_seconds * (2**retry_number)


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

    def pool_key(self) -> tuple[str, str, float]:
        # The key is hashed so the secret does not sit in a dict key that might get printed.
        digest = hashlib.sha256(self.api_key.encode()).hexdigest() if self.api_key else ""
        return (self.base_url, digest, self.timeout)


_pools: dict[tuple[str, str, float], httpx.Client] = {}
_pools_lock = threading.Lock()


def pooled_http_client(config: ClientConfig) -> httpx.Client:
    """The shared httpx.Client for this configuration, created on first use."""
    key = config.pool_key()
    client = _pools.get(key)
    if client is not None:
        return client
    with _pools_lock:
        client = _pools.get(key)
        if client is None:
            headers = {"User-Agent": USER_AGENT}
            if config.api_key:
                headers["Authorization"] = f"Bearer {config.api_key}"
            client = httpx.Client(
                base_url=config.base_url,
                headers=headers,
                timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, MAX_CONNECT_TIMEOUT_SECONDS)),
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=32),
                follow_redirects=False,
            )
            install_chunked_reader(client)  # streamed answers skip h11's per-chunk work (chunked.py)
            _pools[key] = client
        return client


def close_pooled_clients() -> None:
    """Close every pooled client (tests; a long-running process never needs this)."""
    with _pools_lock:
        for client in _pools.values():
            client.close()
        _pools.clear()


def _is_dns_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return True
        text = str(current).lower()
        if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


class OllamaClient:
    """Requests against one Ollama server. Cheap to create: the connection pool is shared."""

    def __init__(self, config: ClientConfig, retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self._http = pooled_http_client(config)

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
        with expect_chunked_body():
            response = self._send("POST", path, body, model, stream=True)
        if response.headers.get("content-type", "").lower().startswith("text/html"):
            # A login page or another web app answered 200: say so instead of "a line that is not JSON".
            try:
                page = self._read_limited(response)
            except httpx.HTTPError:
                page = b""
            finally:
                response.close()
            raise self._not_ollama(url, model, response, page)
        reader = NDJSONStreamReader(source=f"Ollama at {url}" + (f" (model '{model}')" if model else ""))
        chunked_body: ChunkedBody | None = None
        try:
            try:
                # Ollama's chunked body read a socket read at a time (see chunked.py); httpx's own reading
                # wherever that does not apply (proxies, other encodings, mocked transports).
                chunked_body = take_chunked_body(response)
                feed = reader.feed_batch
                for data in chunked_body if chunked_body is not None else response.iter_bytes():
                    objects = feed(data)
                    if objects:
                        yield objects
                        reader.raise_pending()
                for last in reader.finish():
                    yield [last]
            except httpx.TimeoutException as exc:
                raise OllamaTimeoutError(
                    f"Ollama at {url} (model '{model}') sent nothing for {self.config.timeout:g} s in the middle "
                    "of its answer. Raise 'Request timeout' in the model settings if the server is just slow.",
                    url=url,
                    model=model,
                ) from exc
            except httpx.TransportError as exc:
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

    def _request_json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        model: str | None,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> dict[str, Any]:
        url = self._url(path)
        response = self._send(method, path, body, model, stream=False)
        try:
            content = response.read()
        except httpx.TimeoutException as exc:
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

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, model: str | None, *, stream: bool
    ) -> httpx.Response:
        """Send with bounded retries; return a 2xx response (stream not yet read) or raise."""
        url = self._url(path)
        last_error: OllamaError | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                retry_after = last_error.retry_after if isinstance(last_error, OllamaServerBusyError) else None
                delay = self.retry.delay(attempt - 1, retry_after)
                logger.info("retrying %s %s in %.2fs after: %s", method, url, delay, last_error)
                time.sleep(delay)
            try:
                request = self._http.build_request(method, path, json=body)
                response = self._http.send(request, stream=True)
            except httpx.ConnectTimeout:
                last_error = OllamaTimeoutError(
                    f"Could not connect to Ollama at {url} within "
                    f"{min(self.config.timeout, MAX_CONNECT_TIMEOUT_SECONDS):g} s. Check the address and any "
                    f"firewall in between. {DOCKER_HINT}",
                    url=url,
                    model=model,
                )
                continue
            except httpx.ConnectError as exc:
                last_error = self._connect_error(exc, url, model)
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
                error_body = self._read_limited(response)
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
            )
            if isinstance(error, OllamaServerBusyError):
                last_error = self._redacted(error)  # it is logged before the retry
                continue
            raise self._redacted(error)
        assert last_error is not None
        raise self._redacted(last_error)

    def _not_ollama(self, url: str, model: str | None, response: httpx.Response, body: bytes) -> OllamaError:
        """A 2xx answer that is not Ollama's JSON: the Base URL reaches some other web server."""
        _, said = describe_body(body, response.headers.get("content-type"))
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

    @staticmethod
    def _connect_error(exc: httpx.ConnectError, url: str, model: str | None) -> OllamaConnectionError:
        if _is_dns_failure(exc):
            problem = "the host name could not be resolved"
        elif "refused" in str(exc).lower():
            problem = "connection refused: nothing listens on that address and port"
        else:
            problem = f"{exc}"
        return OllamaConnectionError(
            f"Cannot connect to Ollama at {url} ({problem}). Check that Ollama is running "
            f"(`ollama serve`) and reachable from Dify. {DOCKER_HINT}",
            url=url,
            model=model,
        )

    def _redacted(self, error: OllamaError) -> OllamaError:
        """Make sure the API key never travels inside an error message."""
        key = self.config.api_key
        if key and key in error.message:
            error.message = error.message.replace(key, "***")
            error.args = (error.message,)
        if key and error.ollama_message and key in error.ollama_message:
            error.ollama_message = error.ollama_message.replace(key, "***")
        return error
