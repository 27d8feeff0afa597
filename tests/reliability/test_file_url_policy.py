"""The address policy for image and audio URLs (server-side request forgery), tested without ever connecting
anywhere but 127.0.0.1.

Refusals are checked before any connection: a fake resolver answers for made-up names, and every socket connect
is recorded, so a test fails if the plugin so much as tries to reach a forbidden address. Allowed flows run
against the fake server on 127.0.0.1, with loopback allowed the way an administrator allows a network.
"""

from __future__ import annotations

import base64
import socket

import httpx
import pytest

from models.llm.images import download_image
from models.media.address_policy import (
    ALLOWED_NETWORKS_ENV,
    address_allowed,
    allowed_networks,
    is_dify_signed_file_url,
    parse_address,
)
from models.media.file_urls import FileURLRefused, plan_hop
from tests.fake_ollama import FakeOllama, Scenario
from tests.reliability.file_url_support import clean_environment, connections, resolver

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
FILE_ID = "6f1c2a3e-0b4d-4c5e-9f60-7a8b9c0d1e2f"
SIGNED = "?timestamp=1700000000&nonce=n0nce&sign=s1gnature"
REFUSAL = (
    "cannot be fetched: the plugin fetches Dify's own file URLs and public addresses only, and this URL (or a "
    "redirect from it) leads to another address or does not resolve."
)


pytestmark = pytest.mark.usefixtures("clean_environment")
__all__ = ["clean_environment", "connections"]  # fixtures used by name


# --- refused before connecting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "addresses",
    [
        ["169.254.169.254"],  # AWS/GCP/Azure/Oracle metadata
        ["::ffff:169.254.169.254"],  # the same, IPv4-mapped
        ["::ffff:10.0.0.5"],
        ["10.0.0.5"],
        ["192.168.1.20"],
        ["172.16.0.1"],
        ["100.64.0.1"],  # carrier-grade NAT
        ["127.0.0.1"],  # loopback is not public either
        ["::1"],
        ["0.0.0.0"],  # reaches the local machine on Linux
        ["fe80::1"],
        ["fd00:ec2::254"],  # AWS metadata over IPv6
        ["100.100.100.200"],  # Alibaba Cloud metadata
        ["2002:a9fe:a9fe::1"],  # 6to4 tunnel to 169.254.169.254
        ["64:ff9b::a9fe:a9fe"],  # NAT64 of 169.254.169.254
        ["93.184.215.14", "10.0.0.5"],  # one private answer among public ones is enough
    ],
)
def test_names_that_resolve_to_internal_addresses_are_refused_without_connecting(
    connections: list[tuple[str, int]], addresses: list[str]
) -> None:
    resolve = resolver({"images.example": addresses})

    with pytest.raises(FileURLRefused) as caught:
        download_image("http://images.example/cat.png", resolver=resolve)

    assert REFUSAL in str(caught.value)
    assert connections == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://10.0.0.5:8080/cat.png",
        "https://127.0.0.1/cat.png",
    ],
)
def test_literal_internal_addresses_are_refused_without_connecting(
    connections: list[tuple[str, int]], url: str
) -> None:
    with pytest.raises(FileURLRefused, match="cannot be fetched"):
        download_image(url, resolver=resolver({}))
    assert connections == []


def test_every_refusal_reads_the_same_whatever_is_behind_the_address(connections: list[tuple[str, int]]) -> None:
    """A user must not learn from the message which internal names exist or what answers there."""
    resolve = resolver({"metadata.example": ["169.254.169.254"], "db.example": ["10.0.0.5"]})
    messages = []
    for host in ("metadata.example", "db.example", "missing.example"):
        with pytest.raises(FileURLRefused) as caught:
            download_image(f"http://{host}/x.png", resolver=resolve)
        messages.append(str(caught.value).replace(host, "HOST"))

    assert len(set(messages)) == 1
    assert connections == []


def test_a_password_in_the_url_is_never_echoed(connections: list[tuple[str, int]]) -> None:
    resolve = resolver({"metadata.example": ["169.254.169.254"]})
    with pytest.raises(FileURLRefused) as caught:
        download_image("http://alice:hunter2@metadata.example/x.png?sign=abc", resolver=resolve)
    assert "hunter2" not in str(caught.value) and "alice" not in str(caught.value)
    assert "sign=abc" not in str(caught.value)


def test_metadata_stays_refused_even_when_the_administrator_allows_everything(
    monkeypatch: pytest.MonkeyPatch, connections: list[tuple[str, int]]
) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "0.0.0.0/0, ::/0")
    for address in ("169.254.169.254", "::ffff:169.254.169.254", "fe80::1", "fd00:ec2::254", "100.100.100.200"):
        with pytest.raises(FileURLRefused):
            download_image("http://metadata.example/x.png", resolver=resolver({"metadata.example": [address]}))
    # A signed Dify file URL may be anywhere, but not there either.
    with pytest.raises(FileURLRefused):
        download_image(
            f"http://metadata.example/files/{FILE_ID}/file-preview{SIGNED}",
            resolver=resolver({"metadata.example": ["169.254.169.254"]}),
        )
    assert connections == []


# --- the decision, without connecting ---------------------------------------------------------------------


def test_dify_signed_file_urls_may_be_on_private_addresses_and_are_connected_to_as_checked() -> None:
    resolve = resolver({"api": ["172.18.0.5"]})
    hop = plan_hop(httpx_url(f"http://api:5001/files/{FILE_ID}/file-preview{SIGNED}"), "image", "original", resolve)
    assert str(hop.request_url).startswith("http://172.18.0.5:5001/files/")
    assert hop.headers == {"Host": "api:5001"}
    assert resolve.calls == ["api"]


@pytest.mark.parametrize(
    ("url", "signed"),
    [
        (f"http://api:5001/files/{FILE_ID}/file-preview{SIGNED}", True),
        (f"http://api:5001/files/{FILE_ID}/image-preview{SIGNED}", True),
        (f"http://api:5001/files/tools/{FILE_ID}.png{SIGNED}", True),
        (f"https://dify.example.com/console/files/{FILE_ID}/file-preview{SIGNED}", False),  # FILES_URL has no path
        (f"http://api:5001/files/{FILE_ID}/file-preview?timestamp=1&nonce=n", False),  # no signature
        (f"http://api:5001/files/{FILE_ID}/download{SIGNED}", False),
        (f"http://api:5001/files/not-a-uuid/file-preview{SIGNED}", False),
        (f"http://api:5001/admin/{FILE_ID}/file-preview{SIGNED}", False),
        (f"http://api:5001/files/{FILE_ID}/file-preview/../../admin{SIGNED}", False),
    ],
)
def test_what_counts_as_a_dify_signed_file_url(url: str, signed: bool) -> None:
    assert is_dify_signed_file_url(url) is signed


def test_when_the_environment_names_difys_file_server_only_urls_on_it_count_as_difys(
    monkeypatch: pytest.MonkeyPatch, connections: list[tuple[str, int]]
) -> None:
    """Dify's docker-compose passes FILES_URL and INTERNAL_FILES_URL to the plugin daemon: the shape of a signed
    URL then opens private addresses on that server only, not on any host a user names."""
    monkeypatch.setenv("FILES_URL", "https://dify.example.com")
    monkeypatch.setenv("INTERNAL_FILES_URL", "http://api:5001")
    path = f"/files/{FILE_ID}/file-preview{SIGNED}"

    assert is_dify_signed_file_url("http://api:5001" + path)
    assert is_dify_signed_file_url("https://dify.example.com:443" + path)
    assert not is_dify_signed_file_url("http://api:5002" + path)
    assert not is_dify_signed_file_url("http://db.internal:5001" + path)
    with pytest.raises(FileURLRefused):
        download_image("http://db.internal:5001" + path, resolver=resolver({"db.internal": ["10.0.0.9"]}))
    hop = plan_hop(httpx_url("http://api:5001" + path), "image", "original", resolver({"api": ["172.18.0.5"]}))
    assert hop.request_url.host == "172.18.0.5"
    assert connections == []


def test_the_administrator_setting_adds_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    private = parse_address("10.1.2.3")
    assert address_allowed(parse_address("8.8.8.8"), dify_file=False)
    assert not address_allowed(private, dify_file=False)
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "10.0.0.0/8, not-a-network")
    extra = allowed_networks()
    assert address_allowed(private, dify_file=False, extra=extra)
    assert address_allowed(parse_address("::ffff:10.1.2.3"), dify_file=False, extra=extra)
    assert not address_allowed(parse_address("192.168.0.1"), dify_file=False, extra=extra)


def httpx_url(url: str) -> httpx.URL:
    return httpx.URL(url)


# --- allowed flows on loopback ----------------------------------------------------------------------------


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "127.0.0.0/8")


def test_a_checked_name_is_connected_to_at_the_checked_address_without_a_second_lookup(
    fake_ollama: FakeOllama, loopback_allowed: None, connections: list[tuple[str, int]], monkeypatch
) -> None:
    fake_ollama.set_route("GET", "/cat.png", Scenario(parts=(PNG,), content_type="image/png"))
    port = fake_ollama.url.rsplit(":", 1)[1]
    resolve = resolver({"images.example": ["127.0.0.1"]})

    def no_system_lookup(*args, **kwargs):
        raise AssertionError("a second DNS lookup was made")

    monkeypatch.setattr(socket, "getaddrinfo", no_system_lookup)

    assert download_image(f"http://images.example:{port}/cat.png", resolver=resolve) == PNG_B64
    assert resolve.calls == ["images.example"]
    assert connections == [("127.0.0.1", int(port))]
    assert fake_ollama.last_request("/cat.png").headers["host"] == f"images.example:{port}"


def test_signed_dify_file_urls_work_on_a_private_address_without_any_setting(
    fake_ollama: FakeOllama, connections: list[tuple[str, int]]
) -> None:
    path = f"/files/{FILE_ID}/file-preview"
    fake_ollama.set_route("GET", path, Scenario(parts=(PNG,), content_type="image/png"))

    assert download_image(fake_ollama.url + path + SIGNED) == PNG_B64
    assert fake_ollama.last_request(path).query["sign"] == ["s1gnature"]


def test_a_redirect_to_a_forbidden_address_is_refused_before_following_it(
    fake_ollama: FakeOllama, loopback_allowed: None, connections: list[tuple[str, int]]
) -> None:
    fake_ollama.set_route("GET", "/r1", Scenario.redirect("/r2", status=302))
    fake_ollama.set_route("GET", "/r2", Scenario.redirect("http://metadata.example/latest/meta-data/", status=302))
    resolve = resolver({"metadata.example": ["169.254.169.254"]})

    with pytest.raises(FileURLRefused) as caught:
        download_image(fake_ollama.url + "/r1", resolver=resolve)

    assert REFUSAL in str(caught.value)
    assert f"{fake_ollama.url}/r1" in str(caught.value)  # the URL the user sent, not where it led
    assert [host for host, _ in connections] == ["127.0.0.1", "127.0.0.1"]
    assert resolve.calls == ["metadata.example"]


@pytest.mark.parametrize(
    "location",
    ["http://[::ffff:169.254.169.254]/latest/meta-data/", "http://169.254.169.254/", "http://10.0.0.5/x.png"],
)
def test_a_redirect_from_a_signed_dify_url_is_judged_on_its_own(
    fake_ollama: FakeOllama, connections: list[tuple[str, int]], location: str
) -> None:
    """Being a Dify file URL does not carry over to where it redirects; loopback is not allowed here either."""
    path = f"/files/{FILE_ID}/file-preview"
    fake_ollama.set_route("GET", path, Scenario.redirect(location, status=302))
    fake_ollama.set_route("GET", "/plain.png", Scenario(parts=(PNG,), content_type="image/png"))

    with pytest.raises(FileURLRefused):
        download_image(fake_ollama.url + path + SIGNED)
    fake_ollama.set_route("GET", path, Scenario.redirect(fake_ollama.url + "/plain.png", status=302))
    with pytest.raises(FileURLRefused):
        download_image(fake_ollama.url + path + SIGNED)
    assert fake_ollama.requests_to("/plain.png") == []
    assert {host for host, _ in connections} == {"127.0.0.1"}


# --- proxies ----------------------------------------------------------------------------------------------


def test_other_urls_go_through_difys_ssrf_proxy_when_it_is_configured(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, connections: list[tuple[str, int]]
) -> None:
    """The fake stands in for Dify's ssrf_proxy: it receives the absolute URL and answers for the origin."""
    monkeypatch.setenv("SSRF_PROXY_HTTP_URL", fake_ollama.url)
    fake_ollama.set_route("GET", "/cat.png", Scenario(parts=(PNG,), content_type="image/png"))
    resolve = resolver({})

    assert download_image("http://images.example/cat.png", resolver=resolve) == PNG_B64
    assert resolve.calls == []  # the proxy resolves the name and applies the installation's rules
    assert fake_ollama.last_request("/cat.png").headers["host"] == "images.example"
    # A literal metadata address is still refused here, and Dify's own file URLs never use the proxy.
    with pytest.raises(FileURLRefused):
        download_image("http://169.254.169.254/latest/meta-data/", resolver=resolve)
    assert {host for host, _ in connections} == {"127.0.0.1"}


def test_the_general_http_proxy_is_not_used_for_file_urls(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, loopback_allowed: None, closed_port_url: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", closed_port_url)
    monkeypatch.setenv("http_proxy", closed_port_url)
    fake_ollama.set_route("GET", "/cat.png", Scenario(parts=(PNG,), content_type="image/png"))

    assert download_image(fake_ollama.url + "/cat.png") == PNG_B64
