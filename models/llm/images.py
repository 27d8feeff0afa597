"""Dify image content -> the raw base64 Ollama's `images` field takes.

Dify sends an image either as base64 (`base64_data`, or a `data:` URL) or as an http(s) URL of its
file server (MULTIMODAL_SEND_FORMAT=url). Ollama only accepts raw base64, so URLs are downloaded here,
with a size cap, a timeout, a content-type check and a bounded number of redirects whose targets are
checked again. Every failure raises ImageInputError (a ValueError: Dify shows it as a bad request)
saying what to change.
"""

from __future__ import annotations

import base64
import binascii
import time
from urllib.parse import urljoin, urlsplit

import httpx
from dify_plugin.entities.model.message import ImagePromptMessageContent

MAX_IMAGE_BYTES = 20 * 1024 * 1024
DOWNLOAD_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 3
_ALLOWED_SCHEMES = ("http", "https")
# Formats Ollama's image decoders read; anything else fails inside the runner with an obscure error.
_SUPPORTED_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif", "image/bmp")
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_FILES_URL_HINT = (
    "The plugin downloads image URLs itself: make sure Dify's FILES_URL (or INTERNAL_FILES_URL) is an "
    "address the plugin daemon can reach, or set MULTIMODAL_SEND_FORMAT=base64 in Dify."
)


class ImageInputError(ValueError):
    """An image cannot be turned into base64 for Ollama."""


def _shown(url: str) -> str:
    """The URL without its query string (Dify's file URLs carry a signature there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme and parts.netloc else url[:80]


def _looks_like_image(data: bytes) -> bool:
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def clean_base64(payload: str, where: str) -> str:
    """Standard, padded base64 without whitespace; raises ImageInputError if it does not decode."""
    text = "".join(payload.split())
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImageInputError(f"The image {where} is not valid base64 data.") from None
    if not text:
        raise ImageInputError(f"The image {where} is empty.")
    return text


def data_url_to_base64(url: str) -> str:
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().startswith("data:") or ";base64" not in header.lower():
        raise ImageInputError("An image data URL must look like data:image/png;base64,<data>.")
    return clean_base64(payload, "in the data URL")


def download_image(
    url: str,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    max_redirects: int = MAX_REDIRECTS,
) -> str:
    """GET an http(s) image and return it base64-encoded; `timeout` bounds the whole download, redirects included."""
    current = url
    # A server trickling bytes must not hold the request longer than `timeout`: each step gets what is left.
    deadline = time.monotonic() + timeout
    with httpx.Client(follow_redirects=False) as client:
        for _ in range(max_redirects + 1):
            scheme = urlsplit(current).scheme.lower()
            if scheme not in _ALLOWED_SCHEMES:
                raise ImageInputError(
                    f"Image URL {_shown(current)} uses the scheme '{scheme or 'none'}'; only http(s) URLs "
                    "and base64 data can be sent to Ollama."
                )
            try:
                remaining = _remaining(deadline)
                step_timeout = httpx.Timeout(remaining, connect=min(remaining, 10.0))
                with client.stream("GET", current, headers={"Accept": "image/*"}, timeout=step_timeout) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise ImageInputError(f"Image URL {_shown(current)} redirects without a target.")
                        current = urljoin(current, location)
                        continue
                    return _read_image(response, current, max_bytes, deadline)
            except httpx.TimeoutException as exc:
                raise ImageInputError(
                    f"Downloading the image {_shown(current)} took longer than {timeout:g} s. {_FILES_URL_HINT}"
                ) from exc
            except httpx.HTTPError as exc:
                raise ImageInputError(
                    f"Could not download the image {_shown(current)} ({type(exc).__name__}: {exc}). {_FILES_URL_HINT}"
                ) from exc
    raise ImageInputError(f"Image URL {_shown(url)} redirects more than {max_redirects} times.")


def _remaining(deadline: float) -> float:
    """Seconds left until `deadline`; raises httpx.ReadTimeout (reported like any timeout) when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.ReadTimeout("image download deadline passed")
    return left


def _read_image(response: httpx.Response, url: str, max_bytes: int, deadline: float) -> str:
    if response.status_code != 200:
        raise ImageInputError(
            f"Downloading the image {_shown(url)} failed with HTTP {response.status_code}. {_FILES_URL_HINT}"
        )
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in _GENERIC_TYPES and content_type not in _SUPPORTED_TYPES:
        raise ImageInputError(
            f"The file at {_shown(url)} is '{content_type}', not an image Ollama can read (PNG, JPEG, WebP, GIF, BMP)."
        )
    limit_mb = f"{max_bytes / (1024 * 1024):g} MB"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ImageInputError(f"The image {_shown(url)} is larger than {limit_mb}; send a smaller image.")
    data = bytearray()
    for piece in response.iter_bytes():
        data += piece
        if len(data) > max_bytes:
            raise ImageInputError(f"The image {_shown(url)} is larger than {limit_mb}; send a smaller image.")
        _remaining(deadline)
    if not data:
        raise ImageInputError(f"The image {_shown(url)} is empty.")
    if content_type in _GENERIC_TYPES and not _looks_like_image(bytes(data[:16])):
        raise ImageInputError(f"The file at {_shown(url)} is not an image Ollama can read (PNG, JPEG, WebP, GIF, BMP).")
    return base64.b64encode(data).decode("ascii")


def image_to_base64(image: ImagePromptMessageContent) -> str:
    """Raw base64 of a Dify image, whichever way Dify sent it."""
    if image.base64_data:
        payload = image.base64_data
        return data_url_to_base64(payload) if payload.startswith("data:") else clean_base64(payload, "data")
    url = (image.url or "").strip()
    if not url:
        raise ImageInputError("An image in the message has neither data nor a URL.")
    if url.lower().startswith("data:"):
        return data_url_to_base64(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise ImageInputError(
            f"Image URL {_shown(url)} uses the scheme '{scheme or 'none'}'; only http(s) URLs and base64 data "
            "can be sent to Ollama."
        )
    return download_image(url)
