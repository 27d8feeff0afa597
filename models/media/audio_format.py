"""What audio file some leading bytes are, decided as Ollama decides (its `llm/media.go`).

Ollama takes `RIFF….WAVE` as WAV and `ID3` or an MPEG frame sync as MP3; anything else would go to its image
decoder and fail obscurely. The other names let a refusal say what the file is. Used for audio in chat
prompts (models/media/audio.py) and for speech to text (models/speech2text/segments.py). No Dify imports.

>>> ollama_audio_format(b"RIFF....WAVEfmt "), ollama_audio_format(b"ID3\\x04"), ollama_audio_format(b"fLaC")
('WAV', 'MP3', None)
>>> other_audio_name(b"fLaC\\x00\\x00\\x00\\x22"), not_audio_name(b"%PDF-1.7")
('FLAC', 'a PDF document')
"""

from __future__ import annotations

WAV, MP3 = "WAV", "MP3"
SUPPORTED = f"{WAV} or {MP3}"

# (leading bytes, their offset, name) of audio formats Ollama does not take.
_OTHER_AUDIO = (
    (b"fLaC", 0, "FLAC"),
    (b"OggS", 0, "Ogg (Vorbis/Opus)"),
    (b"#!AMR", 0, "AMR"),
    (b"\x1a\x45\xdf\xa3", 0, "WebM/Matroska"),
    (b"ftyp", 4, "M4A/MP4 (AAC)"),
    (b"\x30\x26\xb2\x75", 0, "WMA/ASF"),
    (b"FORM", 0, "AIFF"),
)
# Leading bytes -> what a file that is not audio at all is.
_NOT_AUDIO = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an Office document)",
}


def _mpeg_sync(head: bytes) -> bool:
    # 11 bits set, then a layer other than the reserved 00: how ADTS AAC (0xFFF1/0xFFF9) differs from MP3.
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0


def ollama_audio_format(head: bytes) -> str | None:
    """WAV or MP3 when Ollama will take the bytes as audio, else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[:3] == b"ID3" or _mpeg_sync(head):
        return MP3
    return None


def other_audio_name(head: bytes) -> str | None:
    """The name of an audio format Ollama does not take (FLAC, Ogg, AAC …), or None."""
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "AAC (ADTS)"
    return next((name for magic, at, name in _OTHER_AUDIO if head[at : at + len(magic)] == magic), None)


def not_audio_name(head: bytes) -> str | None:
    """What a file that is not audio is ("a PNG image" …), or None."""
    if head[:4] == b"RIFF" and head[8:12] != b"WAVE":
        return f"a RIFF '{head[8:12].decode('latin-1')}' file"
    return next((name for magic, name in _NOT_AUDIO.items() if head.startswith(magic)), None)
