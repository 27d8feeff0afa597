"""Download a file URL from a prompt under the address policy, as base64, within a request's budget.

Every hop (the URL and each redirect target) is judged before anything connects to it:
* a host name is resolved once, here; every address it resolves to must be allowed
  (address_policy.py), and the connection goes to the address that was checked (the URL is sent to
  that IP with the original Host header and TLS server name), so a second lookup cannot change it;
* when Dify's SSRF proxy is configured (``SSRF_PROXY_HTTP_URL`` / ``SSRF_PROXY_HTTPS_URL``, set for the
  plugin daemon by Dify's docker-compose), URLs other than Dify's own file URLs go through it, as Dify's
  own downloads of remote files do: the proxy resolves the name and applies the installation's rules;
  a literal IP address is still judged here. Dify's signed file URLs never go through it (Dify's file
  server is on the private network the proxy refuses);
* the general ``HTTP_PROXY``/``HTTPS_PROXY`` are not used: they enforce no policy and would resolve names
  the plugin never checked;
* the body is asked for and read uncompressed (``Accept-Encoding: identity``; a response with another
  ``Content-Encoding`` is refused): a few hundred compressed bytes can decode to gigabytes before any size
  check sees them, and stacked encodings (``gzip, gzip``) multiply that.

A refusal is one message whatever the reason (no address, a private one, metadata, a refused redirect),
so the answer does not tell a user what exists on the network. URLs are shown without their query (Dify's
signature) and without user name or password.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from models.media.address_policy import (
    ALLOWED_NETWORKS_ENV,
    IPAddress,
    address_allowed,
    allowed_networks,
    is_dify_signed_file_url,
    parse_address,
)
from models.media.base64_data import FileInputError
from models.media.limits import PROCESS_FILE_MEMORY, HeldBase64, MediaBudget, megabytes

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], list[str]]
MAX_REDIRECTS = 3
CONNECT_TIMEOUT_SECONDS = 10.0
SSRF_PROXY_ENV = {"http": "SSRF_PROXY_HTTP_URL", "https": "SSRF_PROXY_HTTPS_URL"}
SSRF_PROXY_ALL_ENV = "SSRF_PROXY_ALL_URL"
_SCHEMES = ("http", "https")
FILES_URL_HINT = (
    "The plugin downloads file URLs itself: make sure Dify's FILES_URL (or INTERNAL_FILES_URL) is an address "
    "the plugin daemon can reach, or set MULTIMODAL_SEND_FORMAT=base64 in Dify."
)


class FileURLRefused(FileInputError):
    """The URL, or a redirect from it, leads to an address the plugin may not reach."""


def shown_url(url: str) -> str:
    """The URL without user name, password, query or fragment."""
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(an unparsable URL)"
    if not parts.scheme or not parts.host:
        return url.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1][:80]
    return str(parts.copy_with(userinfo=None, query=None, fragment=None))


def refusal(kind: str, url: str) -> FileURLRefused:
    return FileURLRefused(
        f"The {kind} URL {shown_url(url)} cannot be fetched: the plugin fetches Dify's own file URLs and public "
        "addresses only, and this URL (or a redirect from it) leads to another address or does not resolve. "
        f"If the file is on your own network, an administrator can allow that network with {ALLOWED_NETWORKS_ENV} "
        "(see the README); or set MULTIMODAL_SEND_FORMAT=base64 in Dify."
    )


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the system's order, without duplicates."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in found:
            found.append(address)
    return found


def ssrf_proxy(scheme: str) -> str | None:
    return (os.environ.get(SSRF_PROXY_ENV[scheme]) or os.environ.get(SSRF_PROXY_ALL_ENV) or "").strip() or None


@dataclass(frozen=True)
class Hop:
    """How one URL is requested: where to connect, and through which proxy if any."""

    request_url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]
    proxy: str | None


def plan_hop(url: httpx.URL, kind: str, original: str, resolver: Resolver) -> Hop:
    """Judge one hop before any connection; raises the uniform refusal."""
    dify_file = is_dify_signed_file_url(str(url))
    extra = allowed_networks()
    port = url.port or (443 if url.scheme == "https" else 80)
    literal = parse_address(url.host)
    proxy = None if dify_file else ssrf_proxy(url.scheme)
    if proxy is not None:
        # The proxy resolves names and applies the installation's rules; a literal address is judged here too.
        if literal is not None and not address_allowed(literal, dify_file=False, extra=extra):
            logger.info("refused %s %s: address %s not allowed", kind, shown_url(str(url)), literal)
            raise refusal(kind, original)
        return Hop(url, {}, {}, proxy)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [a for a in map(parse_address, resolver(url.host, port)) if a is not None]
        except OSError as error:
            if dify_file:
                raise FileInputError(
                    f"Could not download the {kind} {shown_url(original)}: the host name {url.host} does not "
                    f"resolve ({error}). {FILES_URL_HINT}"
                ) from None
            logger.info("refused %s %s: %s", kind, shown_url(str(url)), error)
            raise refusal(kind, original) from None
    # All, not any: a name that also resolves to a private address would be a way in.
    if not addresses or not all(address_allowed(a, dify_file=dify_file, extra=extra) for a in addresses):
        logger.info("refused %s %s: resolves to %s", kind, shown_url(str(url)), [str(a) for a in addresses])
        raise refusal(kind, original)
    checked = addresses[0]
    extensions = {"sni_hostname": url.host} if url.scheme == "https" and literal is None else {}
    # The request goes to the checked address; Host and the TLS server name stay the URL's.
    return Hop(url.copy_with(host=str(checked)), {"Host": url.netloc.decode("ascii")}, extensions, None)


@dataclass(frozen=True)
class Downloaded:
    base64: str
    content_type: str
    head: bytes  # the first raw bytes, for format checks


TypeCheck = Callable[[str, str], None]  # (content type, shown URL) -> raises FileInputError


def download_base64(
    url: str,
    *,
    kind: str,
    accept: str,
    check_type: TypeCheck,
    budget: MediaBudget,
    resolver: Resolver = system_resolver,
    max_redirects: int = MAX_REDIRECTS,
) -> Downloaded:
    """GET `url` under the policy and return its body base64-encoded; raises FileInputError (or a subclass)."""
    current = url
    with ExitStack() as stack:
        clients: dict[str | None, httpx.Client] = {}
        for _ in range(max_redirects + 1):
            target = _parse(current, kind)
            hop = plan_hop(target, kind, url, resolver)
            if hop.proxy not in clients:
                clients[hop.proxy] = stack.enter_context(
                    httpx.Client(proxy=hop.proxy, trust_env=False, follow_redirects=False)
                )
            try:
                left = _seconds_left(budget)
                request = clients[hop.proxy].build_request(
                    "GET",
                    hop.request_url,
                    headers={"Accept": accept, "Accept-Encoding": "identity", **hop.headers},
                    extensions=hop.extensions,
                    timeout=httpx.Timeout(left, connect=min(left, CONNECT_TIMEOUT_SECONDS)),
                )
                response = clients[hop.proxy].send(request, stream=True)
                try:
                    if not response.is_redirect:
                        return _read(response, kind, shown_url(current), check_type, budget)
                    location = response.headers.get("location")
                finally:
                    response.close()
                if not location:
                    raise FileInputError(f"{kind.capitalize()} URL {shown_url(current)} redirects without a target.")
                current = urljoin(current, location)
            except httpx.TimeoutException as exc:
                raise FileInputError(
                    f"Downloading the {kind} {shown_url(current)} took longer than {budget.limits.fetch_seconds:g} s "
                    f"(the time allowed for all files of a request). {FILES_URL_HINT}"
                ) from exc
            except httpx.HTTPError as exc:
                raise FileInputError(
                    f"Could not download the {kind} {shown_url(current)} ({type(exc).__name__}: {exc}). "
                    f"{FILES_URL_HINT}"
                ) from exc
    raise FileInputError(f"{kind.capitalize()} URL {shown_url(url)} redirects more than {max_redirects} times.")


def _parse(url: str, kind: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    scheme = parsed.scheme.lower() if parsed is not None else ""
    if parsed is None or scheme not in _SCHEMES or not parsed.host:
        raise FileInputError(
            f"{kind.capitalize()} URL {shown_url(url)} uses the scheme '{scheme or 'none'}'; only http(s) URLs "
            "and base64 data can be sent to Ollama."
        )
    return parsed


def _seconds_left(budget: MediaBudget) -> float:
    left = budget.seconds_left()
    if left <= 0:
        raise httpx.ReadTimeout("file download deadline passed")
    return left


def _read(response: httpx.Response, kind: str, shown: str, check_type: TypeCheck, budget: MediaBudget) -> Downloaded:
    if response.status_code != 200:
        raise FileInputError(
            f"Downloading the {kind} {shown} failed with HTTP {response.status_code}. {FILES_URL_HINT}"
        )
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")]
    if any(e not in ("", "identity") for e in encodings):
        raise FileInputError(
            f"The {kind} {shown} was sent compressed (Content-Encoding: {response.headers['content-encoding']}) "
            "although the plugin asked for it uncompressed; the plugin does not decompress downloaded files (a "
            "small compressed file can expand past any memory limit). Serve the file without Content-Encoding, "
            "or set MULTIMODAL_SEND_FORMAT=base64 in Dify."
        )
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    check_type(content_type, shown)
    limit = budget.limits.max_file_bytes
    too_large = FileInputError(f"The {kind} {shown} is larger than {megabytes(limit)}; send a smaller {kind}.")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    # Encoded as it arrives: the raw file never exists whole next to its base64 text.
    encoded = bytearray()
    carry = b""
    head = b""
    size = 0
    reserved = 0
    try:
        if declared.isdigit():
            # The whole file at once: requests taking room piece by piece could starve each other.
            budget.reserve_memory(int(declared), f"the {kind} {shown}")
            reserved = int(declared)
        # Raw bytes: never decoded, whatever the headers (the encoding was checked above).
        for piece in response.iter_raw():
            size += len(piece)
            if size > limit:
                raise too_large
            budget.take(len(piece), f"the {kind} {shown}")
            if size > reserved:
                budget.reserve_memory(size - reserved, f"the {kind} {shown}")
                reserved = size
            if len(head) < 16:
                head = (head + piece)[:16]
            data = carry + piece if carry else piece
            cut = len(data) - len(data) % 3
            encoded += base64.b64encode(data[:cut])
            carry = data[cut:]
            _seconds_left(budget)
        encoded += base64.b64encode(carry)
        if not size:
            raise FileInputError(f"The {kind} {shown} is empty.")
        text = HeldBase64(encoded, "ascii")
    except BaseException:
        PROCESS_FILE_MEMORY.release(reserved)
        raise
    PROCESS_FILE_MEMORY.release(reserved - size)
    reserved = size
    del encoded
    return Downloaded(PROCESS_FILE_MEMORY.hold_until_freed(text, reserved), content_type, head)
