"""Review findings on file URLs: compressed bodies (decompression bombs), what counts as Dify's own file URL,
and IPv6 forms the address policy must judge by what they really reach. Only 127.0.0.1 is ever connected to."""

from __future__ import annotations

import base64
import gzip
import socket

import httpx
import pytest
from dify_plugin.entities.model.message import AudioPromptMessageContent, ImagePromptMessageContent

from models.llm.images import download_image, image_to_base64
from models.media.address_policy import (
    ALLOWED_NETWORKS_ENV,
    address_allowed,
    allowed_networks,
    is_dify_signed_file_url,
    parse_address,
)
from models.media.audio import audio_to_base64
from models.media.base64_data import FileInputError
from models.media.file_urls import FileURLRefused, plan_hop
from tests.reliability.file_url_support import clean_environment, connections, resolver
from tests.reliability.raw_server import RawRequest, RawServer
from tests.speech2text.audio_files import wav_bytes

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
FILE_ID = "6f1c2a3e-0b4d-4c5e-9f60-7a8b9c0d1e2f"
SIGNED = "?timestamp=1700000000&nonce=n0nce&sign=s1gnature"
DIFY_PATH = f"/files/{FILE_ID}/file-preview{SIGNED}"


pytestmark = pytest.mark.usefixtures("clean_environment")
__all__ = ["clean_environment", "connections"]  # fixtures used by name


def allowed(text: str, *, dify_file: bool = False, extra: str = "") -> bool:
    return address_allowed(parse_address(text), dify_file=dify_file, extra=allowed_networks(extra))


# --- compressed bodies ------------------------------------------------------------------------------------


def compressed_server(body: bytes, encoding: str) -> RawServer:
    def answer(connection: socket.socket, request: RawRequest) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Encoding: {encoding}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        connection.sendall(head.encode() + body)

    return RawServer(answer)


def test_a_stacked_gzip_bomb_is_refused_without_being_decompressed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few KB of `gzip, gzip` used to be decoded whole, piece by piece, before the size check saw it."""
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "127.0.0.0/8")
    bomb = gzip.compress(gzip.compress(PNG + b"\0" * (48 * 1024 * 1024), 9), 9)
    assert len(bomb) < 100_000
    with compressed_server(bomb, "gzip, gzip") as server, pytest.raises(FileInputError) as refused:
        download_image(server.url + "/bomb.png")
    message = str(refused.value)
    assert "was sent compressed (Content-Encoding: gzip, gzip)" in message
    assert "Serve the file without Content-Encoding" in message
    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_a_server_that_compresses_anyway_gets_a_clear_refusal_not_a_decoded_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "127.0.0.0/8")
    refusal = r"image http://127\.0\.0\.1:\d+/a\.png was sent compressed"
    with compressed_server(gzip.compress(PNG), "gzip") as server, pytest.raises(FileInputError, match=refusal):
        download_image(server.url + "/a.png")


# --- what counts as Dify's own file URL -------------------------------------------------------------------


def test_a_path_in_front_of_files_does_not_make_a_url_difys_without_files_url(
    connections: list[tuple[str, int]],
) -> None:
    """Without FILES_URL any host may serve Dify's exact shape, but not an arbitrary path ending in it."""
    prefixed = f"http://127.0.0.1:8080/admin/anything{DIFY_PATH}"
    assert not is_dify_signed_file_url(prefixed)
    with pytest.raises(FileURLRefused, match="cannot be fetched"):
        download_image(prefixed)
    assert is_dify_signed_file_url(f"http://127.0.0.1:8080{DIFY_PATH}")
    assert not is_dify_signed_file_url(f"http://user:pw@127.0.0.1:8080{DIFY_PATH}")  # Dify signs, never logs in
    with pytest.raises(FileURLRefused, match="cannot be fetched"):
        download_image(f"http://user:pw@localhost:8080{DIFY_PATH}", resolver=resolver({"localhost": ["127.0.0.1"]}))
    assert connections == []


def test_a_prefixed_url_goes_through_the_ssrf_proxy_like_any_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSRF_PROXY_HTTP_URL", "http://127.0.0.1:9")
    hop = plan_hop(
        httpx.URL(f"http://files.example/x/files/{FILE_ID}/file-preview{SIGNED}"), "image", "u", resolver({})
    )
    assert hop.proxy == "http://127.0.0.1:9"
    hop = plan_hop(httpx.URL(f"http://api:5001{DIFY_PATH}"), "image", "u", resolver({"api": ["172.18.0.5"]}))
    assert hop.proxy is None


def test_files_url_with_a_path_names_the_only_prefix_that_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILES_URL", "https://dify.example.com/console/")
    assert is_dify_signed_file_url(f"https://dify.example.com/console{DIFY_PATH}")
    assert not is_dify_signed_file_url(f"https://dify.example.com{DIFY_PATH}")
    assert not is_dify_signed_file_url(f"https://dify.example.com/other{DIFY_PATH}")
    assert not is_dify_signed_file_url(f"https://dify.example.com/console/x{DIFY_PATH}")
    monkeypatch.setenv("FILES_URL", "http://api:5001")
    assert is_dify_signed_file_url(f"http://api:5001{DIFY_PATH}")
    assert not is_dify_signed_file_url(f"http://api:5001/console{DIFY_PATH}")


def test_difys_shape_on_a_link_local_address_is_still_refused(connections: list[tuple[str, int]]) -> None:
    with pytest.raises(FileURLRefused):
        download_image(f"http://169.254.169.254{DIFY_PATH}")
    with pytest.raises(FileURLRefused):
        download_image(f"http://meta{DIFY_PATH}", resolver=resolver({"meta": ["fd00:ec2::254"]}))
    assert connections == []


# --- IPv6 forms -------------------------------------------------------------------------------------------


def test_files_url_on_localhost_works_when_localhost_is_also_ipv6_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILES_URL", "http://localhost:5001")
    hop = plan_hop(
        httpx.URL(f"http://localhost:5001{DIFY_PATH}"), "image", "u", resolver({"localhost": ["::1", "127.0.0.1"]})
    )
    assert hop.request_url.host == "::1"
    assert allowed("::1", extra="::1/128")


@pytest.mark.parametrize(
    ("address", "dify_file", "extra", "expected"),
    [
        ("::", True, "::/0", False),  # unspecified: never
        ("::a9fe:a9fe", True, "::/0", False),  # ::169.254.169.254, IPv4-compatible: metadata
        ("::a00:5", False, "", False),  # ::10.0.0.5 is private
        ("::a00:5", False, "10.0.0.0/8", True),  # ... and allowed where 10/8 is
        ("::808:808", False, "", True),  # ::8.8.8.8 is public
        ("64:ff9b:1::a9fe:a9fe", True, "::/0", False),  # local-use NAT64 to metadata: never
        ("64:ff9b:1::808:808", False, "", False),  # local-use NAT64 is not public
        ("fec0::1", False, "", False),  # deprecated site-local is not public
        ("fec0::1", False, "fec0::/10", True),
        ("fec0::1", True, "", True),  # Dify's file server may be on a private address
    ],
)
def test_ipv6_forms_are_judged_by_what_they_reach(address: str, dify_file: bool, extra: str, expected: bool) -> None:
    assert allowed(address, dify_file=dify_file, extra=extra) is expected


# --- upper-case data: URLs --------------------------------------------------------------------------------


def test_data_urls_are_read_whatever_the_case_of_the_scheme() -> None:
    png = base64.b64encode(PNG).decode()
    wav = base64.b64encode(wav_bytes(0.01)).decode()
    as_data = ImagePromptMessageContent(format="png", mime_type="image/png", base64_data=f"DATA:image/png;base64,{png}")
    as_url = ImagePromptMessageContent(format="png", mime_type="image/png", url=f"Data:image/png;base64,{png}")
    audio_url = AudioPromptMessageContent(format="wav", mime_type="audio/wav", url=f"DATA:audio/wav;base64,{wav}")
    audio_data = AudioPromptMessageContent(
        format="wav", mime_type="audio/wav", base64_data=f"DATA:audio/wav;base64,{wav}"
    )

    assert image_to_base64(as_data) == png
    assert image_to_base64(as_url) == png
    assert audio_to_base64(audio_url) == wav
    assert audio_to_base64(audio_data) == wav
