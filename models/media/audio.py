"""Dify audio content -> raw base64 for the `images` field of an Ollama message (Ollama 0.20.0+).

Ollama tells audio from images by the leading bytes (models/media/audio_format.py). So only WAV and MP3
pass; other formats are refused naming what works (no conversion: a decoder library would not fit the
plugin's memory and install budget).
"""

from __future__ import annotations

from dify_plugin.entities.model.message import AudioPromptMessageContent

from models.media.audio_format import SUPPORTED, not_audio_name, ollama_audio_format, other_audio_name
from models.media.base64_data import FileInputError, clean_base64, data_url_payload, decoded_size, head_bytes
from models.media.file_urls import Resolver, download_base64, shown_url, system_resolver
from models.media.limits import MediaBudget

AUDIO_MIN_OLLAMA_VERSION = "0.20.0"
WORKING_FORMATS = SUPPORTED
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")


def _what_it_is(head: bytes, declared: str) -> str:
    """A readable name for audio that is not WAV or MP3, from its bytes, else from what Dify declared."""
    named = other_audio_name(head) or not_audio_name(head)
    if named:
        return named
    declared = declared.strip().lstrip(".").upper()
    return declared or "unknown"


def check_audio(head: bytes, declared: str, where: str) -> None:
    """Raise FileInputError unless the bytes are WAV or MP3."""
    if ollama_audio_format(head) is None:
        raise FileInputError(
            f"The audio {where} is {_what_it_is(head, declared)}, which Ollama cannot take: audio input works "
            f"with {WORKING_FORMATS} only. Convert the file to WAV or MP3 and send it again."
        )


def _audio_content_type(content_type: str, shown: str) -> None:
    if content_type not in _GENERIC_TYPES and not content_type.startswith("audio/"):
        raise FileInputError(f"The file at {shown} is '{content_type}', not audio ({WORKING_FORMATS}).")


def audio_to_base64(
    audio: AudioPromptMessageContent, budget: MediaBudget | None = None, resolver: Resolver = system_resolver
) -> str:
    """Raw base64 of a Dify audio part (WAV or MP3), counted against `budget`."""
    budget = budget or MediaBudget()
    name = f"'{audio.filename}'" if audio.filename else "file"
    if audio.base64_data or (audio.url or "").strip().lower().startswith("data:"):
        payload = audio.base64_data or audio.url.strip()
        if payload[:5].lower() == "data:":
            text = data_url_payload(payload, "audio", "data:audio/wav;base64,<data>")
        else:
            text = clean_base64(payload, "data", "audio")
        budget.take_file(decoded_size(text), "audio", name)
        check_audio(head_bytes(text), audio.format, name)
        return text
    url = (audio.url or "").strip()
    if not url:
        raise FileInputError("An audio part of the message has neither data nor a URL.")
    downloaded = download_base64(
        url,
        kind="audio",
        accept="audio/wav, audio/mpeg, audio/*;q=0.5",
        check_type=_audio_content_type,
        budget=budget,
        resolver=resolver,
    )
    check_audio(downloaded.head, audio.format, shown_url(url))
    return downloaded.base64
