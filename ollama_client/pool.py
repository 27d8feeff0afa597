"""Shared HTTP connection pools: one `httpx.Client` per server, a bounded number of servers.

The Dify SDK builds a new model instance for every request, so pools live at module level, shared by all
threads (greenlets under the plugin runtime). A pool belongs to a server (scheme, host and port), never to
an API key or a timeout: those travel with each request (`auth_headers`, `request_timeout`), so key
rotation, many workspaces or a user re-validating the form with new values never open new pools. At most
`MAX_POOLED_SERVERS` servers keep a pool; the least recently used one is closed when another is needed
(after its requests in flight, when they hold a lease).

Every pool shares one TLS context, built at import: httpx would otherwise build one (and load the CA
bundle, ~30 ms) for each new client, even for http://, on the first chat of a fresh process.

Public API, also for the rerank-service client: `http_client_for(base_url)`, `leased_http_client(base_url)`,
`auth_headers(api_key)`, `request_timeout(seconds, deadline)`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
from collections import OrderedDict
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from ollama_client.chunked import TESTED_HTTPCORE, install_chunked_reader

logger = logging.getLogger(__name__)
USER_AGENT = "dify-plugin-ollama/0.1.0"
MAX_POOLED_SERVERS = 16
# Per server. Idle connections above the keep-alive count are closed; so 16 servers hold at most 256 idle sockets.
POOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=16)
# Connecting is quick or never happens; a long connect wait only delays the error.
MAX_CONNECT_TIMEOUT_SECONDS = 10.0


class _Pooled:
    __slots__ = ("client", "leases", "retired")

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.leases = 0
        self.retired = False  # evicted: closed when the last lease ends


_servers: OrderedDict[str, _Pooled] = OrderedDict()
_lock = threading.Lock()


def server_of(base_url: str) -> str:
    """`scheme://host:port` of a URL, the key of its pool.

    >>> server_of("http://Ollama.lan:11434/prefix"), server_of("https://ollama.com")
    ('http://ollama.lan:11434', 'https://ollama.com:443')
    """
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}"


_tls: tuple[tuple[str, str], ssl.SSLContext] | None = None


def tls_context() -> ssl.SSLContext:
    """The context httpx itself would build for `verify=True` (certifi's CA bundle, or SSL_CERT_FILE /
    SSL_CERT_DIR when set), built once and rebuilt only when those variables change."""
    global _tls
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    held = _tls
    if held is None or held[0] != key:
        held = _tls = (key, httpx.create_ssl_context())
    return held[1]


tls_context()  # at import (plugin start-up), not in the first chat


# Opt-in: the daemon's HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY (and .netrc) apply to Ollama and rerank traffic.
USE_PROXY_ENV = "OLLAMA_PLUGIN_USE_PROXY_ENV"


def proxy_env_enabled() -> bool:
    """Off unless set to true: a proxy meant for the daemon's internet traffic would otherwise receive every
    prompt and the Bearer key, even for a LAN Ollama (and a proxied pool loses the fast stream reader)."""
    return os.environ.get(USE_PROXY_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _new_client() -> httpx.Client:
    client = httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        limits=POOL_LIMITS,
        follow_redirects=False,
        verify=tls_context(),  # SSL_CERT_FILE / SSL_CERT_DIR apply either way
        trust_env=proxy_env_enabled(),
    )
    if not install_chunked_reader(client):  # streamed answers skip h11's per-chunk work (chunked.py)
        _warn_no_fast_path()
    return client


_warned = False


def _warn_no_fast_path() -> None:
    global _warned
    if _warned:
        return
    _warned = True
    import httpcore

    logger.warning(
        "ollama_client: httpx %s / httpcore %s are not built as the fast stream reader expects (tested: httpcore"
        "%s); streamed answers are read through httpx's own chunk parser instead: correct, but at about 1.7x "
        "(a paced stream) to 5x (bursts) the plugin's CPU per chunk. Install the httpcore version "
        "requirements.txt names.",
        httpx.__version__,
        httpcore.__version__,
        TESTED_HTTPCORE,
    )


def _acquire(base_url: str, lease: bool) -> _Pooled:
    key = server_of(base_url)
    evicted: list[_Pooled] = []
    with _lock:
        pooled = _servers.get(key)
        if pooled is None:
            pooled = _servers[key] = _Pooled(_new_client())
            while len(_servers) > MAX_POOLED_SERVERS:
                _, oldest = _servers.popitem(last=False)
                oldest.retired = True
                if not oldest.leases:
                    evicted.append(oldest)
        else:
            _servers.move_to_end(key)
        if lease:
            pooled.leases += 1
    for old in evicted:  # outside the lock: closing sockets may block
        old.client.close()
    return pooled


def _release(pooled: _Pooled) -> None:
    with _lock:
        pooled.leases -= 1
        close = pooled.retired and not pooled.leases
    if close:
        pooled.client.close()


def http_client_for(base_url: str) -> httpx.Client:
    """The shared client for `base_url`'s server. It has no base URL, key or timeout: send absolute URLs with
    `headers=auth_headers(key)` and `timeout=request_timeout(...)`. Use it for one request and do not keep it:
    it may be closed once `MAX_POOLED_SERVERS` other servers were used since (`leased_http_client` prevents
    that for as long as the lease lasts)."""
    return _acquire(base_url, lease=False).client


@contextlib.contextmanager
def leased_http_client(base_url: str) -> Iterator[httpx.Client]:
    """Like `http_client_for`, but the client stays open until the block ends, even if evicted meanwhile."""
    pooled = _acquire(base_url, lease=True)
    try:
        yield pooled.client
    finally:
        _release(pooled)


def auth_headers(api_key: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {api_key}"} if api_key else None


def request_timeout(seconds: float, remaining: float | None = None) -> httpx.Timeout:
    """Timeouts for one request: `seconds` of silence at most, connecting at most 10 s, neither beyond
    `remaining` (the time left before the call's deadline)."""
    wait = seconds if remaining is None else max(min(seconds, remaining), 0.001)
    return httpx.Timeout(wait, connect=min(wait, MAX_CONNECT_TIMEOUT_SECONDS))


def pooled_server_count() -> int:
    with _lock:
        return len(_servers)


def close_pooled_clients() -> None:
    """Close every pooled client (tests; a long-running process never needs this)."""
    with _lock:
        pools = list(_servers.values())
        _servers.clear()
    for pooled in pools:
        pooled.client.close()
