"""Ollama's endpoints as typed methods (chat, generate, embed, show, tags, version; shapes in wire.py) over one
HTTP transport: auth, timeouts, deadlines, body limits, retries, typed errors (wording in transport_errors.py).

Connections come from the shared per-server pools of pool.py; the API key and the timeout travel with each
request. Every call has a Deadline (deadline.py): by default `timeout` seconds from its start, shorter for
metadata calls, or one shared by the whole invoke; neither silence nor a trickling server outlasts it.
Retries happen only before the first response byte, only for connection failures and 503, only while the
deadline allows, and never once a stream has started.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import pydantic_core

from ollama_client.chunked import (
    ChunkedBody,
    close_response,
    expect_chunked_body,
    forget_last_exchange,
    head_deadline,
    take_chunked_body,
    unanswered_on_reused_connection,
)
from ollama_client.config import DEFAULT_TIMEOUT_SECONDS, ClientConfig, RetryPolicy
from ollama_client.deadline import METADATA_SECONDS, Deadline
from ollama_client.errors import (
    OllamaConnectionError,
    OllamaError,
    OllamaServerBusyError,
    OllamaTimeoutError,
    describe_body,
    error_from_response,
    ollama_at,
)
from ollama_client.ndjson import NDJSONStreamReader
from ollama_client.pool import auth_headers, close_pooled_clients, leased_http_client, request_timeout
from ollama_client.redaction import redact_bytes, redact_error
from ollama_client.transport_errors import (
    RAISE_TIMEOUT,
    broken_mid_answer,
    broken_while_reading,
    compressed_answer,
    compression_of,
    over_deadline,
    send_failure,
    too_large,
    went_silent,
)
from ollama_client.wire import (
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResponse,
    GenerateChunk,
    GenerateRequest,
    ShowResponse,
    TagsEntry,
)

logger = logging.getLogger(__name__)
# After the `done` line, how long the terminating chunk may take: Ollama sends it at once, and the caller has
# the whole answer; a server that holds it back costs a closed connection, not the read timeout.
END_OF_BODY_GRACE_SECONDS = 1.0

MAX_ERROR_BODY_BYTES = 64 * 1024
# Whole (non-streamed) answers are read into memory, so each is capped. Ollama's own answers stay far below:
# /api/show is tens of kB (a long license), /api/embed about 21 MiB for 256 texts of 4,096 dimensions.
MAX_BODY_BYTES = 8 * 1024 * 1024
CHAT_PATH = "/api/chat"
GENERATE_PATH = "/api/generate"
EMBED_PATH = "/api/embed"
SHOW_PATH = "/api/show"
TAGS_PATH = "/api/tags"
VERSION_PATH = "/api/version"
ENDPOINT_PATHS = {
    "chat": CHAT_PATH,
    "generate": GENERATE_PATH,
    "embed": EMBED_PATH,
    "show": SHOW_PATH,
    "tags": TAGS_PATH,
    "version": VERSION_PATH,
}
MAX_BODY_BYTES_BY_PATH = {EMBED_PATH: 32 * 1024 * 1024, VERSION_PATH: 1024 * 1024}
_METADATA_PATHS = frozenset({SHOW_PATH, VERSION_PATH, TAGS_PATH})

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "ClientConfig", "OllamaClient", "RetryPolicy", "close_pooled_clients"]


# What a client without its own policy uses, looked up at each client's creation: tests replace it with a
# policy that does not wait (the `instant_retries` fixture) instead of sleeping through real back-offs.
DEFAULT_RETRY_POLICY = RetryPolicy()


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

    # -- Ollama's endpoints, typed (wire.py) ---------------------------------------------
    # The streamed ones yield lists of chunks: all those one network read completed (many when the reader fell
    # behind the server, usually one), each list as soon as its read returns. Values in the chunks are the
    # server's, unchecked: read numbers with wire.py's readers.

    def chat(self, request: ChatRequest) -> Iterator[list[ChatChunk]]:
        """POST /api/chat, streamed, ending after the `done` chunk; raises OllamaError, also mid-stream."""
        body = cast(dict[str, Any], {**request, "stream": True})
        return cast(Iterator[list[ChatChunk]], self.stream_batches(CHAT_PATH, body, model=request.get("model")))

    def generate(self, request: GenerateRequest) -> Iterator[list[GenerateChunk]]:
        """POST /api/generate, streamed, like `chat`."""
        body = cast(dict[str, Any], {**request, "stream": True})
        return cast(Iterator[list[GenerateChunk]], self.stream_batches(GENERATE_PATH, body, model=request.get("model")))

    def chat_answer(self, request: ChatRequest) -> ChatChunk:
        """POST /api/chat, not streamed: the whole answer as one object (for short answers only)."""
        body = cast(dict[str, Any], {**request, "stream": False})
        return cast(ChatChunk, self.post_json(CHAT_PATH, body, model=request.get("model")))

    def generate_answer(self, request: GenerateRequest) -> GenerateChunk:
        """POST /api/generate, not streamed, like `chat_answer`."""
        body = cast(dict[str, Any], {**request, "stream": False})
        return cast(GenerateChunk, self.post_json(GENERATE_PATH, body, model=request.get("model")))

    def embed(self, request: EmbedRequest) -> EmbedResponse:
        """POST /api/embed: one request, as sent (batching and checks: embed.py)."""
        body = cast(dict[str, Any], request)
        # pydantic_core's parser reads the vectors' floats 2-3x faster than json.loads, bit for bit the same.
        answer = self.post_json(EMBED_PATH, body, model=request.get("model"), decode=pydantic_core.from_json)
        return cast(EmbedResponse, answer)

    def show(self, model: str) -> ShowResponse:
        return cast(ShowResponse, self.post_json(SHOW_PATH, {"model": model}, model=model))

    def tags(self) -> list[TagsEntry]:
        models = self.get_json(TAGS_PATH).get("models") or []
        return [m for m in models if isinstance(m, dict)]

    def version(self) -> str:
        return str(self.get_json(VERSION_PATH).get("version", ""))

    def endpoint_url(self, endpoint: str) -> str:
        """The full URL of a typed method's endpoint ("chat", "generate", "embed", …), for messages."""
        return self._url(ENDPOINT_PATHS[endpoint])

    # -- any path (the typed methods above are built on these) ----------------------------

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
        reader = NDJSONStreamReader(source=ollama_at(url, model))
        chunked_body: ChunkedBody | None = None
        try:
            try:
                # Ollama's chunked body read a socket read at a time (see chunked.py); httpx's own reading
                # wherever that does not apply: bodies that are not plain chunked (a proxy's Content-Length or
                # gzip) and transports without a socket (respx in tests). Everything after the bytes is shared.
                chunked_body = take_chunked_body(response, deadline.at)
                feed = reader.feed_batch
                source = chunked_body if chunked_body is not None else _until(deadline, response.iter_bytes())
                for data in source:
                    objects = feed(data)
                    if objects:
                        yield objects
                        reader.raise_pending()
                        if reader.done and chunked_body is not None:
                            chunked_body.end_within(END_OF_BODY_GRACE_SECONDS)
                for last in reader.finish():
                    yield [last]
            except (httpx.TransportError, httpx.DecodingError) as exc:  # timeouts included
                if reader.done:
                    # The answer is complete; only its framing after the last line failed (e.g. endless trailers):
                    # the caller has everything, and the connection is closed instead of reused.
                    # Only the class: h11 quotes the bad line, which may echo the key.
                    logger.warning(
                        "Ollama at %s: ignoring a broken end of a complete answer (%s)", url, type(exc).__name__
                    )
                    return
                if isinstance(exc, httpx.TimeoutException):
                    raise self._timed_out(
                        url,
                        model,
                        deadline,
                        "it went silent or sent too slowly; the answer is incomplete",
                        f"sent nothing for {self.config.timeout:g} s in the middle of its answer",
                        f"{RAISE_TIMEOUT} if the server is just slow.",
                    ) from exc
                raise broken_mid_answer(exc, url, model) from exc
        except OllamaError as exc:
            exc.url, exc.model = url, model
            self._redacted(exc)
            raise
        finally:
            close_response(response, chunked_body)

    # -- internals --------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config.base_url + path

    def _deadline_for(self, path: str) -> Deadline:
        deadline = self.deadline or Deadline.after(self.config.timeout)
        return deadline.sooner(METADATA_SECONDS) if path in _METADATA_PATHS else deadline

    def _over_deadline(self, url: str, model: str | None, what: str) -> OllamaTimeoutError:
        metadata = url.endswith(tuple(_METADATA_PATHS))
        return over_deadline(url, model, self.config.timeout, what, metadata=metadata)

    def _timed_out(
        self, url: str, model: str | None, deadline: Deadline, late: str, silent: str, fix: str
    ) -> OllamaTimeoutError:
        """A read timeout: the call's deadline passed (`late` says how), or the server was `silent` too long."""
        if deadline.remaining() < 0.05:
            return self._over_deadline(url, model, late)
        return went_silent(url, model, silent, fix)

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
        except (ValueError, RecursionError):  # RecursionError: deeply nested brackets
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
                raise too_large(url, model, limit)
            collected = bytearray()
            for data in _until(deadline, response.iter_bytes()):
                collected += data
                if len(collected) > limit:
                    raise too_large(url, model, limit)
            return bytes(collected)
        except httpx.TimeoutException as exc:
            silent = f"did not finish answering within {self.config.timeout:g} s"
            late = "it went silent or sent too slowly"
            timed_out = self._timed_out(url, model, deadline, late, silent, f"{RAISE_TIMEOUT}.")
            raise self._redacted(timed_out, cause=exc) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise self._redacted(broken_while_reading(exc, url, model), cause=exc) from exc
        finally:
            response.close()

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
            timeout = request_timeout(self.config.timeout, remaining)
            try:
                request = http.build_request(method, url, json=body, headers=headers, timeout=timeout)
                forget_last_exchange()
                with head_deadline(deadline.at):
                    response = http.send(request, stream=True)
            except httpx.TransportError as exc:
                stale = unanswered_on_reused_connection()
                failure, retry = send_failure(
                    exc, url, model, self.config.timeout, timeout, metadata=path in _METADATA_PATHS, stale=stale
                )
                if not retry:
                    raise self._redacted(failure, cause=exc) from exc
                last_error = self._redacted(failure, cause=exc)  # it is logged before the retry
                continue

            if response.status_code < 300:
                encoding = compression_of(response)
                if encoding is None:
                    return response
                response.close()
                raise self._redacted(compressed_answer(url, model, encoding, response.status_code))
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

    def _redacted(self, error: OllamaError, cause: BaseException | None = None) -> OllamaError:
        """Make sure no part of the API key travels inside an error message or the exceptions behind it
        (`cause`: the exception it will be raised from)."""
        return redact_error(error, self.config.api_key, cause=cause)


def _until(deadline: Deadline, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks`, cut with a ReadTimeout once `deadline` has passed (a trickle never resets it)."""
    at = deadline.at
    for data in chunks:
        if time.monotonic() >= at:
            raise httpx.ReadTimeout("the call's deadline passed")
        yield data
