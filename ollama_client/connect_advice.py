"""Why a connection to Ollama could not be opened, and advice that fits that failure and that address.

Never the advice that cannot help: a host.docker.internal that does not resolve is not fixed by using
host.docker.internal, https:// to a plain-HTTP server is not fixed by retrying, and a refused port other
than 11434 is most often a missing `:11434`.
"""

from __future__ import annotations

import socket
import ssl
from enum import StrEnum
from urllib.parse import urlsplit

from ollama_client.base_url import OLLAMA_DEFAULT_PORT
from ollama_client.errors import OllamaConnectionError, OllamaTLSError


def docker_localhost_hint(use: str, listen: str) -> str:
    """Why 'localhost' fails from Dify's container: `use` names the address to enter, `listen` how the server
    must listen (Ollama's wording here; the rerank-service client words it for any service)."""
    return f"If Dify runs in Docker, 'localhost' is the Dify container itself: use {use}, and {listen}."


DOCKER_HINT = docker_localhost_hint(
    "http://host.docker.internal:11434 or the LAN IP of the machine running Ollama",
    "start Ollama with OLLAMA_HOST=0.0.0.0 so it listens on all interfaces",
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
_DOCKER_HOST_NAME = "host.docker.internal"
# OpenSSL's reasons when a TLS ClientHello reaches a server that speaks plain HTTP (they vary by version).
_PLAIN_HTTP_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST", "UNKNOWN_PROTOCOL"}
)
_DNS_PHRASES = ("name or service not known", "nodename nor servname", "name resolution")


class ConnectFailure(StrEnum):
    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    PLAIN_HTTP = "plain-http"
    CERTIFICATE = "certificate"
    OTHER = "other"


_PROBLEM = {
    ConnectFailure.DNS: "the host name could not be resolved",
    ConnectFailure.REFUSED: "connection refused: nothing listens on that address and port",
    ConnectFailure.PLAIN_HTTP: "the TLS handshake failed: https:// was used for a server that speaks plain HTTP",
}


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def classify_connect_failure(exc: BaseException) -> ConnectFailure:
    """Read the failure kind from an exception and its causes (httpx wraps the socket or ssl error)."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ConnectFailure.CERTIFICATE
        if isinstance(cause, ssl.SSLError) and getattr(cause, "reason", None) in _PLAIN_HTTP_TLS_REASONS:
            return ConnectFailure.PLAIN_HTTP
    for cause in causes:
        text = str(cause).lower()
        if "wrong version number" in text or "wrong_version_number" in text:
            return ConnectFailure.PLAIN_HTTP
        if "certificate verify failed" in text:
            return ConnectFailure.CERTIFICATE
        if isinstance(cause, socket.gaierror) or any(phrase in text for phrase in _DNS_PHRASES):
            return ConnectFailure.DNS
        if isinstance(cause, ConnectionRefusedError) or "refused" in text:
            return ConnectFailure.REFUSED
    return ConnectFailure.OTHER


def _host_and_port(url: str) -> tuple[str, int, bool]:
    """(host, port, whether the port was typed) of a request URL; the port defaults by scheme."""
    parts = urlsplit(url)
    try:
        typed = parts.port
    except ValueError:
        typed = None
    default = 443 if parts.scheme == "https" else 80
    return (parts.hostname or "").lower(), typed or default, typed is not None


def connection_advice(url: str, failure: ConnectFailure) -> str:
    """What to do when no connection to `url` (the request URL) could be opened."""
    host, port, port_typed = _host_and_port(url)
    if failure is ConnectFailure.PLAIN_HTTP:
        return (
            "The server answers plain HTTP, not HTTPS (Ollama itself serves plain HTTP): change the Base URL to "
            "start with http:// instead of https://, or put a reverse proxy with a TLS certificate in front of it."
        )
    if failure is ConnectFailure.CERTIFICATE:
        return (
            "Give the server a certificate from a trusted authority (a self-signed one is not accepted), or reach "
            "Ollama over http:// inside a trusted network."
        )
    if failure is ConnectFailure.DNS:
        if host == _DOCKER_HOST_NAME:
            return (
                "host.docker.internal is known only where Docker defines it (Docker Desktop on macOS and Windows). "
                'On Linux add `extra_hosts: ["host.docker.internal:host-gateway"]` to the plugin_daemon service in '
                "docker-compose.yaml and recreate it, or use the LAN IP of the machine running Ollama "
                f"(e.g. http://192.168.1.20:{OLLAMA_DEFAULT_PORT})."
            )
        return (
            "Check the spelling of the host name. A name that only your own machine, hosts file or VPN knows cannot "
            "be resolved from Dify's container: use the IP address of the machine running Ollama "
            f"(e.g. http://192.168.1.20:{OLLAMA_DEFAULT_PORT})."
        )
    advice = []
    if failure is ConnectFailure.REFUSED and port != OLLAMA_DEFAULT_PORT:
        implicit = "" if port_typed else f" (an http:// or https:// address without a port means port {port})"
        advice.append(
            f"Ollama listens on port {OLLAMA_DEFAULT_PORT} by default, but this address uses port {port}{implicit}: "
            f"add :{OLLAMA_DEFAULT_PORT} to the Base URL unless Ollama or a proxy was set up on that port."
        )
    if failure is ConnectFailure.TIMEOUT:
        advice.append(f"Check the address and any firewall in between (it must let port {port} through).")
    else:
        advice.append("Check that Ollama is running (`ollama serve`) and reachable from Dify.")
    if host in LOOPBACK_HOSTS:
        advice.append(DOCKER_HINT)
    else:
        advice.append(
            "Ollama listens only on 127.0.0.1 by default: on its machine start it with OLLAMA_HOST=0.0.0.0 so "
            "other machines and containers can reach it."
        )
    return " ".join(advice)


def connect_error(exc: BaseException, url: str, model: str | None) -> OllamaConnectionError:
    """The error for a connection that could not be opened; an OllamaTLSError when retrying cannot help."""
    failure = classify_connect_failure(exc)
    if failure is ConnectFailure.CERTIFICATE:
        problem = f"its TLS certificate is not trusted: {exc}"
    else:
        problem = _PROBLEM.get(failure) or str(exc) or type(exc).__name__
    kind = (
        OllamaTLSError if failure in (ConnectFailure.PLAIN_HTTP, ConnectFailure.CERTIFICATE) else OllamaConnectionError
    )
    return kind(
        f"Cannot connect to Ollama at {url} ({problem}). {connection_advice(url, failure)}", url=url, model=model
    )
