"""Image content -> raw base64: data URLs, downloads over a real loopback HTTP server, refusals.

The fake server listens on 127.0.0.1, which the address policy refuses unless the administrator allows it:
these tests allow loopback the way an administrator would (tests/reliability/test_file_url_policy.py tests
the policy itself)."""

from __future__ import annotations

import base64

import pytest
from dify_plugin.entities.model.message import ImagePromptMessageContent

from models.llm.images import ImageInputError, data_url_to_base64, download_image, image_to_base64
from models.media.address_policy import ALLOWED_NETWORKS_ENV
from tests.fake_ollama import FakeOllama, Scenario

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "127.0.0.0/8")


def url_image(url: str) -> ImagePromptMessageContent:
    return ImagePromptMessageContent(format="png", mime_type="image/png", url=url)


def serve(fake: FakeOllama, path: str, body: bytes, content_type: str | None = "image/png", **options) -> str:
    fake.set_route("GET", path, Scenario(parts=(body,), content_type=content_type, **options))
    return fake.url + path


def test_base64_data_and_data_urls_become_raw_base64() -> None:
    assert (
        image_to_base64(ImagePromptMessageContent(format="png", mime_type="image/png", base64_data=PNG_B64)) == PNG_B64
    )
    assert image_to_base64(url_image(f"data:image/png;base64,{PNG_B64}")) == PNG_B64
    # Line breaks and URL-safe alphabet / missing padding are repaired instead of giving Ollama's
    # "illegal base64 data" error.
    wrapped = PNG_B64[:20] + "\n" + PNG_B64[20:].rstrip("=").replace("+", "-").replace("/", "_")
    assert data_url_to_base64(f"data:image/png;base64,{wrapped}") == PNG_B64


@pytest.mark.parametrize(
    "url",
    ["data:image/png,notbase64", "data:image/png;base64,@@@@", "data:;base64"],
)
def test_broken_data_urls_are_refused(url: str) -> None:
    with pytest.raises(ImageInputError):
        image_to_base64(url_image(url))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://x/1", "/files/a.png"])
def test_other_schemes_are_refused_with_a_clear_error(url: str) -> None:
    with pytest.raises(ImageInputError, match="only http\\(s\\) URLs and base64 data"):
        image_to_base64(url_image(url))


def test_http_image_is_downloaded_and_base64_encoded(fake_ollama: FakeOllama) -> None:
    url = serve(fake_ollama, "/files/cat.png", PNG)

    assert image_to_base64(url_image(url + "?timestamp=1&sign=secret")) == PNG_B64
    assert fake_ollama.last_request("/files/cat.png").query["sign"] == ["secret"]


def test_octet_stream_is_accepted_when_the_bytes_are_an_image(fake_ollama: FakeOllama) -> None:
    assert download_image(serve(fake_ollama, "/blob", PNG, "application/octet-stream")) == PNG_B64
    with pytest.raises(ImageInputError, match="not an image"):
        download_image(serve(fake_ollama, "/text-blob", b"hello world", "application/octet-stream"))


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "image/svg+xml", "application/json"])
def test_non_image_content_types_are_refused(fake_ollama: FakeOllama, content_type: str) -> None:
    url = serve(fake_ollama, "/files/page", b"<html>login</html>", content_type)
    with pytest.raises(ImageInputError, match="not an image Ollama can read"):
        download_image(url)


def test_size_cap_by_header_and_by_body(fake_ollama: FakeOllama) -> None:
    url = serve(fake_ollama, "/files/big.png", PNG + b"\0" * 2000)
    with pytest.raises(ImageInputError, match="larger than"):
        download_image(url, max_bytes=1000)
    # A chunked body has no Content-Length: the cap applies while reading.
    chunked = serve(fake_ollama, "/files/big-chunked.png", PNG + b"\0" * 2000, chunked=True)
    with pytest.raises(ImageInputError, match="larger than"):
        download_image(chunked, max_bytes=1000)


def test_http_errors_name_the_status_and_the_files_url_setting(fake_ollama: FakeOllama) -> None:
    url = serve(fake_ollama, "/files/gone.png", b"not found", "text/plain", status=404)
    with pytest.raises(ImageInputError, match="HTTP 404.*FILES_URL"):
        download_image(url + "?sign=abc")


def test_unreachable_host_is_a_clear_error_without_the_signature(closed_port_url: str) -> None:
    with pytest.raises(ImageInputError, match="Could not download the image") as caught:
        download_image(closed_port_url + "/files/a.png?sign=topsecret")
    assert "topsecret" not in str(caught.value)


def test_timeout(fake_ollama: FakeOllama) -> None:
    url = serve(fake_ollama, "/files/slow.png", PNG, headers_delay=2.0)
    with pytest.raises(ImageInputError, match="took longer than 0.3 s"):
        download_image(url, timeout=0.3)


def test_redirects_are_followed_a_bounded_number_of_times(fake_ollama: FakeOllama) -> None:
    target = serve(fake_ollama, "/files/final.png", PNG)
    fake_ollama.set_route("GET", "/r1", Scenario(status=302, headers={"Location": "/files/final.png"}))
    assert download_image(fake_ollama.url + "/r1") == PNG_B64
    assert fake_ollama.last_request().path == "/files/final.png" and target

    fake_ollama.set_route("GET", "/loop", Scenario(status=302, headers={"Location": "/loop"}))
    with pytest.raises(ImageInputError, match="redirects more than 2 times"):
        download_image(fake_ollama.url + "/loop", max_redirects=2)
    assert len(fake_ollama.requests_to("/loop")) == 3


def test_redirect_target_scheme_is_checked_again(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_route("GET", "/to-file", Scenario(status=301, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(ImageInputError, match="scheme 'file'"):
        download_image(fake_ollama.url + "/to-file")
