"""Turn what a user types into the Base URL field into the server root we append /api/... to.

Like ollama-python (`_parse_host`), an address typed without a scheme means Ollama's defaults, http://
and port 11434; an explicit http:// or https:// without a port means that scheme's standard port (80 or
443), as for any URL, so a reverse proxy on port 80 or 443 is reached as typed.

>>> normalise_base_url("localhost")
'http://localhost:11434'
>>> normalise_base_url("192.168.1.20")
'http://192.168.1.20:11434'
>>> normalise_base_url("localhost:11434")
'http://localhost:11434'
>>> normalise_base_url("ollama.lan/api")
'http://ollama.lan:11434'
>>> normalise_base_url("::1")
'http://[::1]:11434'
>>> normalise_base_url("http://192.168.1.20")
'http://192.168.1.20'
>>> normalise_base_url("https://ollama.com")
'https://ollama.com'
>>> normalise_base_url(" http://Ollama.LAN:11434/api/ ")
'http://ollama.lan:11434'
>>> normalise_base_url("https://ollama.com/v1")
'https://ollama.com'
>>> normalise_base_url("[::1]:11434")
'http://[::1]:11434'
>>> normalise_base_url("http://gateway.example/ollama/api/chat")
'http://gateway.example/ollama'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from ollama_client.errors import OllamaConfigError

EXAMPLE = "http://host.docker.internal:11434 (or http://192.168.1.100:11434, https://ollama.com)"
OLLAMA_DEFAULT_PORT = 11434

_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Endpoint paths people paste from docs and other tools; the longest match is removed first.
_API_SUFFIXES = (
    "/api/chat",
    "/api/generate",
    "/api/embeddings",
    "/api/embed",
    "/api/tags",
    "/api/show",
    "/api/version",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
    "/api",
    "/v1",
)
_SECRET_PARAM = re.compile(r"(^|&)(api[_-]?key|key|token|access[_-]?token|auth|password|secret)=", re.I)


def _invalid(raw: str, problem: str) -> OllamaConfigError:
    shown = f" '{raw}'" if raw else ""
    return OllamaConfigError(f"Base URL{shown} is not usable: {problem}. Example of a correct value: {EXAMPLE}.")


def _bracket_bare_ipv6(rest: str) -> str:
    """`::1` or `fe80::1` typed without brackets cannot carry a port; wrap it so it parses."""
    host = rest.split("/", 1)[0]
    if host.count(":") >= 2 and not host.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return rest
        return "[" + host + "]" + rest[len(host) :]
    return rest


def _host_name_problem(host: str) -> str | None:
    """Why `host` cannot be looked up (the resolver and httpx would fail later with a bare UnicodeError or
    IDNAError): an empty label (`a..b`), a label over 63 characters, an invalid `xn--` label, a space."""
    if any(char.isspace() for char in host):
        return f"the host name '{host}' contains a space"
    try:
        host.encode("idna")  # what the resolver does with the name
        _ = httpx.URL(f"http://{host}/").host  # what httpx does (it checks xn-- labels, when asked)
    except (UnicodeError, httpx.InvalidURL, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        return f"the host name '{host}' is not a valid domain name ({reason}); check its spelling"
    return None


def split_http_url(
    raw: object, invalid: Callable[[str, str], Exception], *, port_without_scheme: int | None = None
) -> tuple[str, str]:
    """Check what a user typed as a server address and return (`scheme://host[:port]`, path).

    A missing scheme means http://, and `port_without_scheme` (when given) the port unless one was typed;
    only http(s) is accepted; a query string or user:password is refused without being echoed, since
    either may carry a secret. `invalid(shown, problem)` builds the caller's error, so each field can
    show its own example.
    """
    text = ("" if raw is None else str(raw)).strip()
    if not text:
        raise invalid("", "it is empty")
    schemeless = not _HAS_SCHEME.match(text)
    if schemeless:
        text = "http://" + _bracket_bare_ipv6(text)
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise invalid(text, f"it cannot be parsed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise invalid(text, f"the scheme '{scheme}' is not supported, use http:// or https://")
    if parts.query:
        if _SECRET_PARAM.search(parts.query):
            problem = "it carries a credential in its query string; put the key in the API key field instead"
        else:
            problem = "it has a query string; enter the server address only"
        raise invalid(f"{scheme}://{parts.hostname or ''}", problem)
    if parts.username is not None or parts.password is not None:
        raise invalid(
            f"{scheme}://{parts.hostname or ''}",
            "it contains a user name or password; put the key in the API key field instead",
        )
    if not parts.hostname:
        raise invalid(text, "it has no host name")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    else:
        problem = _host_name_problem(host)
        if problem:
            raise invalid(text, problem)
    if port is None and schemeless:
        port = port_without_scheme
    origin = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    return origin, parts.path.rstrip("/")


def normalise_base_url(raw: str | None) -> str:
    """Return `scheme://host[:port][/prefix]` or raise OllamaConfigError with a correct example."""
    origin, path = split_http_url(raw, _invalid, port_without_scheme=OLLAMA_DEFAULT_PORT)
    lowered = path.lower()
    for suffix in _API_SUFFIXES:
        if lowered.endswith(suffix):
            path = path[: -len(suffix)].rstrip("/")
            break
    return origin + path
