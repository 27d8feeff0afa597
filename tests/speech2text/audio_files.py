"""Real audio files for the speech-to-text tests: WAVs written with `wave`, MP3 from the SDK's sample."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

import dify_plugin

SDK_MP3 = Path(dify_plugin.__file__).parent / "interfaces" / "model" / "audio.mp3"
SDK_MP3_SECONDS = 456 * 576 / 24000  # 456 MPEG-2 Layer III frames of 576 samples at 24 kHz


def wav_bytes(seconds: float, *, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    """A tone whose samples differ along the file, so a lost or repeated stretch changes the bytes."""
    frames = round(seconds * rate)
    peak = 2 ** (8 * width - 1) - 1
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        samples = bytearray()
        for index in range(frames):
            value = int(peak * 0.5 * math.sin(index * 0.05 + index / rate))
            sample = value.to_bytes(width, "little", signed=True) if width > 1 else bytes([value + 128])
            samples += sample * channels
        writer.writeframes(bytes(samples))
    return out.getvalue()


def wav_samples(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as reader:
        return reader.readframes(reader.getnframes())


def sdk_mp3() -> bytes:
    return SDK_MP3.read_bytes()


def id3v2_tag(body_size: int) -> bytes:
    """An ID3v2.3 tag of `body_size` bytes (padding, with a stray frame sync inside, as album art can have)."""
    size = bytes([(body_size >> 21) & 0x7F, (body_size >> 14) & 0x7F, (body_size >> 7) & 0x7F, body_size & 0x7F])
    body = (b"\xff\xfb\x90\x00" + b"\x00" * body_size)[:body_size]
    return b"ID3\x03\x00\x00" + size + body


def id3v1_tag() -> bytes:
    return b"TAG" + b"Title".ljust(30, b"\x00") + b"\x00" * 95


def mpeg1_layer3_frames(count: int, *, kbps_index: int = 9, rate_index: int = 0) -> bytes:
    """MPEG-1 Layer III frames (44.1 kHz, 128 kbps by default) alternating padding, each frame's payload
    numbered so every frame's bytes are unique."""
    bitrate = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[kbps_index] * 1000
    rate = (44100, 48000, 32000)[rate_index]
    frames = bytearray()
    for number in range(count):
        padding = number % 2
        length = 144 * bitrate // rate + padding
        header = bytes([0xFF, 0xFB, (kbps_index << 4) | (rate_index << 2) | (padding << 1), 0x64])
        payload = struct.pack(">I", number) * (length // 4 + 1)
        frames += header + payload[: length - 4]
    return bytes(frames)


def mpeg1_seconds(count: int) -> float:
    return count * 1152 / 44100
