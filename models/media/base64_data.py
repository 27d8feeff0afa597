"""Base64 as Ollama's `images` field takes it (standard alphabet, padded, no whitespace), copying the
data only when it has to be repaired: a 20 MB file is a 27 MB string, and every copy counts in a process
capped at 256 MiB."""

from __future__ import annotations

import base64
import binascii
import re

from models.input_errors import UserInputError


class FileInputError(UserInputError):
    """A file in the prompt cannot be sent to Ollama (a bad request for Dify); the message says what to change."""


_CLEAN = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_VALIDATE_STEP = 4 * 1024 * 1024  # characters decoded at a time when repaired text is validated


def clean_base64(payload: str, where: str, kind: str = "image") -> str:
    """Standard, padded base64 without whitespace; the same string when it already is. Raises FileInputError
    naming `kind` and `where` when it does not decode."""
    if len(payload) % 4 == 0 and _CLEAN.fullmatch(payload):
        if not payload:
            raise FileInputError(f"The {kind} {where} is empty.")
        return payload
    text = "".join(payload.split())
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    if not text:
        raise FileInputError(f"The {kind} {where} is empty.")
    try:
        # In slices, so the decoded bytes never exist all at once.
        for start in range(0, len(text), _VALIDATE_STEP):
            base64.b64decode(text[start : start + _VALIDATE_STEP], validate=True)
    except (binascii.Error, ValueError):
        raise FileInputError(f"The {kind} {where} is not valid base64 data.") from None
    return text


def decoded_size(text: str) -> int:
    """Bytes that clean base64 `text` stands for."""
    return len(text) // 4 * 3 - text[-2:].count("=")


def head_bytes(text: str, size: int = 16) -> bytes:
    """The first `size` (rounded up to 3) decoded bytes of clean base64 `text`, for format checks."""
    return base64.b64decode(text[: (size + 2) // 3 * 4])


def data_url_payload(url: str, kind: str, example: str) -> str:
    """Clean base64 of a `data:<type>;base64,<data>` URL."""
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().startswith("data:") or ";base64" not in header.lower():
        raise FileInputError(f"An {kind} data URL must look like {example}.")
    return clean_base64(payload, "in the data URL", kind)
