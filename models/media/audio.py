"""Dify audio content -> raw base64 for the `images` field of an Ollama message (Ollama 0.20.0+).

Ollama tells audio from images by the leading bytes (its `llm/media.go`): `RIFF….WAVE` is WAV, `ID3` or an
MPEG frame sync is MP3; anything else would be handed to the image decoder and fail obscurely. So only
WAV and MP3 pass, checked here by the same bytes; other formats are refused naming what works (no
conversion: a decoder library would not fit the plugin's memory and install budget).
"""

from __future__ import annotations

from dify_plugin.entities.model.message import AudioPromptMessageContent

from models.media.base64_data import FileInputError, clean_base64, data_url_payload, decoded_size, head_bytes
from models.media.file_urls import Resolver, download_base64, shown_url, system_resolver
from models.media.limits import MediaBudget

AUDIO_MIN_OLLAMA_VERSION = "0.20.0"
WORKING_FORMATS = "WAV or MP3"
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")


def audio_format(head: bytes) -> str | None:
    """'wav' or 'mp3' when Ollama will take the bytes as audio, else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3":
        return "mp3"
    # MPEG audio frame sync (11 bits set) with a layer other than the reserved 00, which is how ADTS AAC
    # (0xFFF1/0xFFF9) differs from MP3.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "mp3"
    return None


def other_format_name(head: bytes, declared: str) -> str:
    """A readable name for audio that is not WAV or MP3, from its bytes, else from what Dify declared."""
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "WebM"
    if head[4:8] == b"ftyp":
        return "M4A/MP4"
    if head[:5] == b"#!AMR":
        return "AMR"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "AAC"
    declared = declared.strip().lstrip(".").upper()
    return declared or "unknown"


def check_audio(head: bytes, declared: str, where: str) -> None:
    """Raise FileInputError unless the bytes are WAV or MP3."""
    if audio_format(head) is None:
        raise FileInputError(
            f"The audio {where} is {other_format_name(head, declared)}, which Ollama cannot take: audio input works "
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
        if payload.startswith("data:"):
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
