"""Which network addresses a file URL may reach (server-side request forgery policy).

* Dify's own signed file URLs (``/files/<uuid>/file-preview``, ``/files/<uuid>/image-preview``,
  ``/files/tools/<uuid>.<ext>`` with ``timestamp``, ``nonce`` and ``sign``) may be on a private address:
  Dify's file server usually is one (``http://api:5001`` in docker-compose). When the plugin's environment
  names that server (``FILES_URL`` / ``INTERNAL_FILES_URL``, which Dify's docker-compose passes to the plugin
  daemon with the API's other settings), only URLs on it, under its path, count as Dify's. Otherwise the exact
  shape (``/files/...`` right after the host, no other path in front) counts on any host, so Dify's own
  files keep working by default; the URL's shape is all the plugin can check then (only Dify can check the
  signature), so setting FILES_URL on the plugin daemon pins it.
* Every other URL may reach public (globally routable) addresses only, plus the networks the
  administrator lists in ``OLLAMA_PLUGIN_FILE_URL_ALLOWED_NETWORKS`` (comma-separated CIDRs).
* Link-local, cloud-metadata, unspecified, multicast and broadcast addresses never, whatever is listed.

IPv6 forms that carry an IPv4 address (``::ffff:a.b.c.d``, the deprecated ``::a.b.c.d``, NAT64
``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48``, 6to4 ``2002::/16``) are judged by the IPv4 address too.
Local-use NAT64 and the deprecated site-local ``fec0::/10`` are private whatever the Python version says.

The setting is an environment variable of the plugin process (set it on the plugin daemon, which passes its
environment on) rather than a model credential: the network a plugin may reach is the installation's
boundary, and a credential field would let any workspace admin move it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

ALLOWED_NETWORKS_ENV = "OLLAMA_PLUGIN_FILE_URL_ALLOWED_NETWORKS"
DIFY_FILES_URL_ENVS = ("FILES_URL", "INTERNAL_FILES_URL")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Reached by nobody, signed URL or not: instance metadata and credentials live here.
NEVER_REACHED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this host": 0.0.0.0 connects to the local machine on Linux
        "169.254.0.0/16",  # link-local: AWS, GCP, Azure, Oracle, DigitalOcean metadata at 169.254.169.254
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure host (WireServer)
        "192.0.0.192/32",  # Oracle Cloud metadata (legacy)
        "224.0.0.0/4",  # multicast
        "255.255.255.255/32",
        "::/128",  # unspecified (::1 is loopback, and ::a.b.c.d is judged by its IPv4 address)
        "fe80::/10",  # link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "ff00::/8",  # multicast
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))  # RFC 6052, RFC 8215
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Not globally reachable, though Python 3.12.1 says they are: local-use NAT64 and deprecated site-local.
_NEVER_PUBLIC: tuple[IPNetwork, ...] = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("fec0::/10"))

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DIFY_FILE_PATH = re.compile(rf"/files/(?:{_UUID}/(?:file|image)-preview|tools/{_UUID}\.[A-Za-z0-9]{{1,10}})")
_SIGNATURE_PARAMS = ("timestamp", "nonce", "sign")


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip())
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None
    return (scheme, host, port) if scheme in ("http", "https") and host else None


def dify_file_servers() -> set[tuple[tuple[str, str, int], str]]:
    """((scheme, host, port), path prefix) of Dify's file server as the environment names it; empty when it
    does not. Dify builds its file URLs as FILES_URL + "/files/...", so the prefix is FILES_URL's path."""
    servers = set()
    for name in DIFY_FILES_URL_ENVS:
        value = os.environ.get(name, "").strip()
        if origin := _origin(value):
            servers.add((origin, urlsplit(value).path.rstrip("/")))
    return servers


def is_dify_signed_file_url(url: str) -> bool:
    """True for a file URL Dify signs: on Dify's file server and under its path when the environment names it,
    else with nothing in front of ``/files/``. The signature itself only Dify can check."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None:
        return False  # Dify never puts credentials in its file URLs
    query = parse_qs(parts.query, keep_blank_values=False)
    if not all(query.get(name) for name in _SIGNATURE_PARAMS):
        return False
    servers = dify_file_servers()
    if not servers:
        return bool(_DIFY_FILE_PATH.fullmatch(parts.path))
    origin = _origin(url)
    return any(
        origin == server and parts.path.startswith(prefix) and _DIFY_FILE_PATH.fullmatch(parts.path[len(prefix) :])
        for server, prefix in servers
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ipv4_compatible(address: IPAddress) -> ipaddress.IPv4Address | None:
    """a.b.c.d for the deprecated ::a.b.c.d; not for :: (unspecified) or ::1 (loopback)."""
    if isinstance(address, ipaddress.IPv6Address) and address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address))
    return None


def _forms(address: IPAddress) -> list[IPAddress]:
    """What to judge: ::ffff:a.b.c.d and ::a.b.c.d are a.b.c.d itself; a tunnel address (6to4, NAT64) and the
    IPv4 address it reaches must both pass."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if (compatible := _ipv4_compatible(address)) is not None:
        return [compatible]
    embedded = _embedded_ipv4(address)
    return [address, embedded] if embedded is not None else [address]


def allowed_networks(raw: str | None = None) -> tuple[IPNetwork, ...]:
    """The administrator's extra networks; unparsable entries are skipped with a warning (never widened)."""
    text = os.environ.get(ALLOWED_NETWORKS_ENV, "") if raw is None else raw
    networks: list[IPNetwork] = []
    for entry in filter(None, (piece.strip() for piece in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            logger.warning("%s: ignoring %r (not an IP network such as 10.0.0.0/8)", ALLOWED_NETWORKS_ENV, entry)
    return tuple(networks)


def never_reached(address: IPAddress) -> bool:
    return any(_listed(form, NEVER_REACHED) for form in _forms(address))


def _public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast and not _listed(address, _NEVER_PUBLIC)


def _listed(address: IPAddress, extra: Iterable[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in extra)


def address_allowed(address: IPAddress, *, dify_file: bool, extra: Iterable[IPNetwork] = ()) -> bool:
    """May a connection to `address` be made for a URL of this kind?"""
    if never_reached(address):
        return False
    if dify_file:
        return True
    extra = tuple(extra)
    # Every form must pass: 2002:a00:5:: tunnels to 10.0.0.5, which is private.
    return all(_public(form) or _listed(form, extra) for form in _forms(address))


def parse_address(host: str) -> IPAddress | None:
    """The IP address a URL host literally is (brackets and an IPv6 zone stripped), else None."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
