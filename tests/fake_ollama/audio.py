"""What the fake Ollama's audio models do with the bytes in a message's `images`.

Ollama tells audio from images by the leading bytes (`llm/media.go`): `RIFF....WAVE` is WAV; `ID3` or an MPEG
frame sync (0xFF, then a byte with its top three bits set) is MP3. The fake goes further than Ollama so tests
catch bad clips: a WAV must parse with the standard library, and an MP3 must be whole MPEG frames from its
first byte (after an optional ID3v2 tag) to its last, which is exactly what a frame-aligned segment is. This
is written independently of the plugin's segmenter, so the two check each other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import wave
from dataclasses import dataclass

# (version bits) -> sample rates; bitrates (kbps) by (MPEG-1?, layer)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_KBPS = {
    (True, 1): [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    (True, 2): [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    (True, 3): [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    (False, 1): [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    (False, 2): [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    (False, 3): [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
}


class BadAudio(ValueError):
    """The bytes are not a clip the fake model would accept; the message is Ollama-like."""


@dataclass(frozen=True)
class AudioClip:
    """One audio clip a fake audio model heard."""

    kind: str  # "wav" or "mp3"
    seconds: float
    size: int
    sha256: str
    data: bytes


def media_kind(data: bytes) -> str:
    """'wav', 'mp3' or 'image', as Ollama decides from the leading bytes."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or (len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return "image"


def wav_seconds(data: bytes) -> float:
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            frames, rate = reader.getnframes(), reader.getframerate()
            width = reader.getnchannels() * reader.getsampwidth()
            samples = reader.readframes(frames)
    except (wave.Error, EOFError) as error:
        raise BadAudio(f"failed to decode WAV audio: {error}") from None
    if frames == 0 or rate == 0:
        raise BadAudio("failed to decode WAV audio: no samples")
    if len(samples) != frames * width:
        raise BadAudio(f"failed to decode WAV audio: header says {frames} frames, data holds {len(samples) // width}")
    return frames / rate


def mpeg_frame(header: bytes) -> tuple[int, int, int] | None:
    """(frame length in bytes, samples, sample rate) for a valid header, else None."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer_bits == 0 or rate_index == 3 or bitrate_index in (0, 15):
        return None
    layer = 4 - layer_bits
    mpeg1 = version == 3
    rate = _RATES[version][rate_index]
    bitrate = _KBPS[(mpeg1, layer)][bitrate_index] * 1000
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384, rate
    samples = 1152 if (layer == 2 or mpeg1) else 576
    coefficient = 144 if (layer == 2 or mpeg1) else 72
    return coefficient * bitrate // rate + padding, samples, rate


def mp3_frame_offsets(data: bytes) -> list[int]:
    """Offsets of the frames, insisting the bytes are an optional ID3v2 tag followed by whole frames only."""
    offset = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        offset = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    offsets = []
    while offset < len(data):
        frame = mpeg_frame(data[offset : offset + 4])
        if frame is None:
            raise BadAudio(f"failed to decode MP3 audio: no MPEG frame header at byte {offset} of {len(data)}")
        if offset + frame[0] > len(data):
            raise BadAudio(f"failed to decode MP3 audio: the frame at byte {offset} is cut off")
        offsets.append(offset)
        offset += frame[0]
    if not offsets:
        raise BadAudio("failed to decode MP3 audio: no frames")
    return offsets


def mp3_seconds(data: bytes) -> float:
    total = 0.0
    for offset in mp3_frame_offsets(data):
        _, samples, rate = mpeg_frame(data[offset : offset + 4]) or (0, 0, 1)
        total += samples / rate
    return total


def heard_clip(image: str) -> AudioClip | None:
    """The clip in one `images` entry, None when it is an image; raises BadAudio for broken audio."""
    try:
        data = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise BadAudio("illegal base64 data in images") from None
    kind = media_kind(data)
    if kind == "image":
        return None
    seconds = wav_seconds(data) if kind == "wav" else mp3_seconds(data)
    return AudioClip(kind, seconds, len(data), hashlib.sha256(data).hexdigest(), data)


def describe_clip(clip: AudioClip) -> str:
    """The default transcript: says what was heard, so a test can check every clip arrived whole."""
    return f"{clip.kind} clip of {clip.seconds:.2f} seconds"
