"""One POST to a rerank service: Ollama's shared per-server connection pools, capped body reads, and
transport failures as RerankConnectionError/RerankTimeoutError naming the URL and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ollama_client.chunked import forget_last_exchange, head_deadline, unanswered_on_reused_connection
from ollama_client.connect_advice import (
    LOOPBACK_HOSTS,
    ConnectFailure,
    classify_connect_failure,
    docker_localhost_hint,
)
from ollama_client.deadline import Deadline
from ollama_client.pool import MAX_CONNECT_TIMEOUT_SECONDS, auth_headers, leased_http_client, request_timeout
from ollama_client.redaction import redact_bytes
from ollama_client.transport_errors import compression_of
from rerank_client.errors import RerankConnectionError, RerankResponseError, RerankTimeoutError

# A rerank answer is a score per document: even 10,000 documents with their text echoed stay far below.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024
_SERVICE_DOCKER_HINT = docker_localhost_hint(
    "host.docker.internal or the LAN IP of the machine running the service",
    "make the service listen on all interfaces (0.0.0.0)",
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most MAX_ANSWER_BYTES (2xx) or MAX_ERROR_BODY_BYTES (others), the API key masked
    content_type: str | None
    location: str | None


def post(
    url: str, body: dict[str, Any], *, api_key: str | None, timeout: float, deadline: Deadline, model: str
) -> Answer:
    """POST `body` as JSON to `url` and read the whole answer, all before `deadline` (a read timeout alone
    bounds silence, not a trickle). A kept-alive connection the server had closed while idle is retried once
    (no response byte, so nothing was processed); every other transport failure raises at once."""
    if deadline.expired:
        raise _out_of_time(url, model, timeout)
    with leased_http_client(url) as http:
        request = http.build_request(
            "POST",
            url,
            json=body,
            headers=auth_headers(api_key),
            timeout=request_timeout(timeout, deadline.remaining()),
        )
        for attempt in range(2):
            try:
                forget_last_exchange()
                with head_deadline(deadline.at):
                    response = http.send(request, stream=True)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # Resent only when the server cannot have processed it (see unanswered_on_reused_connection).
                if attempt == 0 and unanswered_on_reused_connection():
                    continue
                raise RerankConnectionError(
                    f"The rerank service at {url} closed the connection without answering ({type(exc).__name__}). "
                    "Check that it is running and not restarting.",
                    url=url,
                    model=model,
                ) from exc
            except httpx.TransportError as exc:
                raise _transport_error(exc, url, model, timeout) from exc
            try:
                _refuse_compressed(response, url, model)
                return _read(response, url, model, timeout, deadline, api_key)
            finally:
                response.close()
    raise AssertionError("unreachable")


def _out_of_time(url: str, model: str, timeout: float) -> RerankTimeoutError:
    return RerankTimeoutError(
        f"The rerank service at {url} (model '{model}') did not finish within {timeout:g} s in total. Raise "
        "'Request timeout' in the model settings, or send fewer documents per request.",
        url=url,
        model=model,
    )


def _refuse_compressed(response: httpx.Response, url: str, model: str) -> None:
    encoding = compression_of(response)
    if encoding is not None and response.status_code < 300:
        raise RerankResponseError(
            f"The rerank service at {url} (model '{model}') answered compressed (Content-Encoding: {encoding}) "
            "although the plugin asked for an uncompressed answer; nothing was read. Check the proxy in front "
            "of the service and turn off its compression for this address.",
            status=response.status_code,
            url=url,
            model=model,
        )


def _read(
    response: httpx.Response, url: str, model: str, timeout: float, deadline: Deadline, api_key: str | None
) -> Answer:
    limit = MAX_ANSWER_BYTES if response.status_code < 300 else MAX_ERROR_BODY_BYTES
    collected = bytearray()
    try:
        for data in response.iter_bytes():
            collected += data
            if len(collected) > limit:
                break
            if deadline.expired:
                raise _out_of_time(url, model, timeout)
    except httpx.TimeoutException as exc:
        raise RerankTimeoutError(
            f"The rerank service at {url} (model '{model}') stopped sending its answer for {timeout:g} s. Raise "
            "'Request timeout' in the model settings if the service is just slow.",
            url=url,
            model=model,
        ) from exc
    except httpx.DecodingError:
        # An error answer compressed by a proxy and broken (2xx compressed answers are refused before): its
        # status still says what happened.
        collected = bytearray()
    except httpx.TransportError as exc:
        raise RerankConnectionError(
            f"The connection to the rerank service at {url} broke while it answered ({type(exc).__name__}); "
            "check that the service did not restart.",
            url=url,
            model=model,
        ) from exc
    if len(collected) > limit and response.status_code < 300:
        raise RerankResponseError(
            f"The rerank service at {url} (model '{model}') answered more than {MAX_ANSWER_BYTES // 2**20} MiB, "
            "far more than scores for the documents sent. Check that the Base URL is the service's rerank endpoint.",
            status=response.status_code,
            url=url,
            model=model,
        )
    return Answer(
        status=response.status_code,
        body=redact_bytes(bytes(collected[:limit]), api_key),
        content_type=response.headers.get("content-type"),
        location=response.headers.get("location"),
    )


def _transport_error(exc: httpx.TransportError, url: str, model: str, timeout: float) -> RerankConnectionError:
    host = (urlsplit(url).hostname or "").lower()
    docker = f" {_SERVICE_DOCKER_HINT}" if host in LOOPBACK_HOSTS else ""
    if isinstance(exc, httpx.ConnectTimeout):
        return RerankTimeoutError(
            f"Could not connect to the rerank service at {url} within {min(timeout, MAX_CONNECT_TIMEOUT_SECONDS):g} "
            f"s. Check the address and any firewall in between.{docker}",
            url=url,
            model=model,
        )
    if isinstance(exc, httpx.TimeoutException):
        return RerankTimeoutError(
            f"The rerank service at {url} (model '{model}') did not answer within {timeout:g} s. Raise 'Request "
            "timeout' in the model settings, or send fewer documents per request.",
            url=url,
            model=model,
        )
    if not isinstance(exc, httpx.ConnectError):
        return RerankConnectionError(
            f"Request to the rerank service at {url} failed: {type(exc).__name__}: {exc}", url=url, model=model
        )
    problem, advice = _CONNECT_ADVICE.get(
        classify_connect_failure(exc), (str(exc) or type(exc).__name__, "Check the Base URL and that the service runs.")
    )
    return RerankConnectionError(
        f"Could not connect to the rerank service at {url} ({problem}). {advice}{docker}", url=url, model=model
    )


_CONNECT_ADVICE = {
    ConnectFailure.DNS: (
        "the host name could not be resolved",
        "Check its spelling, or use the IP address of the machine running the service.",
    ),
    ConnectFailure.REFUSED: (
        "connection refused: nothing listens on that address and port",
        "Check the Base URL (including the port) and that the service is running.",
    ),
    ConnectFailure.PLAIN_HTTP: (
        "the TLS handshake failed: the service speaks plain HTTP",
        "Start the Base URL with http:// instead of https://.",
    ),
    ConnectFailure.CERTIFICATE: (
        "its TLS certificate is not trusted",
        "Give the service a certificate from a trusted authority, or use http:// inside a trusted network.",
    ),
}
