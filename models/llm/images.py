"""Dify image content -> the raw base64 Ollama's `images` field takes.

Dify sends an image either as base64 (`base64_data`, or a `data:` URL) or as an http(s) URL
(MULTIMODAL_SEND_FORMAT=url): its own signed file URL, or a user's remote URL unchanged. Ollama only
accepts raw base64, so URLs are downloaded here under the address policy and the request's limits
(models/media/), with a content-type check. Every failure raises ImageInputError (a UserInputError: Dify
shows it as a bad request) saying what to change.
"""

from __future__ import annotations

from dataclasses import replace

from dify_plugin.entities.model.message import ImagePromptMessageContent

from models.media.base64_data import FileInputError, clean_base64, data_url_payload, decoded_size
from models.media.file_urls import MAX_REDIRECTS, Resolver, download_base64, shown_url, system_resolver
from models.media.limits import DEFAULT_FETCH_SECONDS, DEFAULT_MAX_FILE_MB, MIB, MediaBudget, MediaLimits

ImageInputError = FileInputError  # the name callers and tests know

MAX_IMAGE_BYTES = int(DEFAULT_MAX_FILE_MB * MIB)
DOWNLOAD_TIMEOUT_SECONDS = DEFAULT_FETCH_SECONDS
# Formats Ollama's image decoders read; anything else fails inside the runner with an obscure error.
_SUPPORTED_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif", "image/bmp")
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_READABLE = "PNG, JPEG, WebP, GIF, BMP"


def _looks_like_image(data: bytes) -> bool:
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _check_image_type(content_type: str, shown: str) -> None:
    if content_type not in _GENERIC_TYPES and content_type not in _SUPPORTED_TYPES:
        raise ImageInputError(f"The file at {shown} is '{content_type}', not an image Ollama can read ({_READABLE}).")


def data_url_to_base64(url: str) -> str:
    return data_url_payload(url, "image", "data:image/png;base64,<data>")


def download_image(
    url: str,
    *,
    max_bytes: int | None = None,
    timeout: float | None = None,
    max_redirects: int = MAX_REDIRECTS,
    budget: MediaBudget | None = None,
    resolver: Resolver = system_resolver,
) -> str:
    """GET an http(s) image and return it base64-encoded, within `budget` (a request's limits) or, alone,
    within `max_bytes` and `timeout` (the whole download, redirects included)."""
    if budget is None:
        limits = MediaLimits.from_environment()
        limits = replace(
            limits,
            max_file_bytes=max_bytes if max_bytes is not None else limits.max_file_bytes,
            fetch_seconds=timeout if timeout is not None else limits.fetch_seconds,
        )
        budget = MediaBudget(limits)
    image = download_base64(
        url,
        kind="image",
        accept="image/*",
        check_type=_check_image_type,
        budget=budget,
        resolver=resolver,
        max_redirects=max_redirects,
    )
    if image.content_type in _GENERIC_TYPES and not _looks_like_image(image.head):
        raise ImageInputError(f"The file at {shown_url(url)} is not an image Ollama can read ({_READABLE}).")
    return image.base64


def image_to_base64(
    image: ImagePromptMessageContent, budget: MediaBudget | None = None, resolver: Resolver = system_resolver
) -> str:
    """Raw base64 of a Dify image, whichever way Dify sent it, counted against `budget`."""
    budget = budget or MediaBudget()
    if image.base64_data:
        payload = image.base64_data
        is_data_url = payload[:5].lower() == "data:"  # URL schemes are case-insensitive
        text = data_url_to_base64(payload) if is_data_url else clean_base64(payload, "data")
        budget.take_file(decoded_size(text), "image", "sent as data")
        return text
    url = (image.url or "").strip()
    if not url:
        raise ImageInputError("An image in the message has neither data nor a URL.")
    if url.lower().startswith("data:"):
        text = data_url_to_base64(url)
        budget.take_file(decoded_size(text), "image", "in the data URL")
        return text
    return download_image(url, budget=budget, resolver=resolver)
