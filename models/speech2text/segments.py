"""Recognise an audio file and cut it into clips an Ollama audio model can take.

Ollama's audio models (gemma4) hear about 30 s per request and Ollama recognises only WAV and MP3 by their
leading bytes (`llm/media.go`). So a file is planned first, without holding its audio: the format, where
each segment starts and ends (at WAV sample frames or MPEG frame headers) and how long it is; then each
segment's bytes are read from the file only when it is sent. WAV segments get a fresh, valid header each;
MP3 segments are runs of whole MPEG frames (no decoder needed), with an ID3v2 tag, junk and trailing tags
left out. No Dify imports: errors are `AudioInputError`s whose message says what to change.
"""

from __future__ import annotations

import io
import math
import re
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from models.input_errors import UserInputError
from models.media.audio_format import MP3, SUPPORTED, WAV, not_audio_name, ollama_audio_format, other_audio_name

MAX_AUDIO_BYTES = 30 * 1024 * 1024  # what Dify's audio-to-text API accepts
MAX_SEGMENTS = 60  # 30 min at 30 s: Dify's daemon ends a call after 600 s of wall time
DEFAULT_SEGMENT_SECONDS = 30.0
# Audio bytes per clip: a 2 MHz WAV would otherwise send 15 s as a 39 MiB request; such clips get shorter.
# 4 MiB holds 30 s of 16-bit stereo at 32 kHz (21 s at 48 kHz); speech models hear 16 kHz mono anyway.
MAX_CLIP_AUDIO_BYTES = 4 * 1024 * 1024
# WAV headers outside these are broken or not speech recordings (a 1 Hz rate would mean millions of clips).
MIN_WAV_RATE, MAX_WAV_RATE = 8000, 192000
MAX_WAV_CHANNELS = 8  # 7.1 surround
# How far after the start (or the ID3 tag) the first MPEG frame may begin before the file is not MP3.
_MP3_FIRST_FRAME_WITHIN = 64 * 1024
_READ_BLOCK = 256 * 1024

CONVERT_HINT = (
    "Convert it to MP3 or WAV, e.g. `ffmpeg -i input -ac 1 -ar 16000 output.mp3`; Dify's voice input already "
    "records MP3."
)


class AudioInputError(UserInputError):
    """A file the plugin cannot transcribe; the message says why and what to do."""


class EmptyAudioError(AudioInputError):
    pass


class UnsupportedAudioFormatError(AudioInputError):
    pass


class NotAudioError(AudioInputError):
    pass


class AudioTooLargeError(AudioInputError):
    pass


class AudioTooLongError(AudioInputError):
    pass


@dataclass(frozen=True)
class Segment:
    """One clip: its place in the recording and the byte runs (offset, length) of the file that make it."""

    number: int  # 1-based
    start_seconds: float
    seconds: float
    runs: tuple[tuple[int, int], ...] = ()  # MP3: whole frames; WAV: unused
    first_frame: int = 0  # WAV sample frames
    frames: int = 0


@dataclass(frozen=True)
class WavParams:
    channels: int
    sample_width: int
    frame_rate: int
    data_start: int  # file offset of the first sample

    @property
    def frame_size(self) -> int:
        return self.channels * self.sample_width


@dataclass
class AudioPlan:
    format: str
    size: int
    segments: list[Segment] = field(default_factory=list)
    wav: WavParams | None = None

    @property
    def seconds(self) -> float:
        return sum(segment.seconds for segment in self.segments)


# --- recognising the format ----------------------------------------------------------------------------


def detect_format(head: bytes) -> str:
    """WAV or MP3 from the first bytes, as Ollama decides; raises AudioInputError naming anything else."""
    if not head:
        raise EmptyAudioError("The audio file is empty (0 bytes): record or upload the audio again.")
    found = ollama_audio_format(head)
    if found is not None:
        return found
    other = other_audio_name(head)
    if other is not None:
        raise UnsupportedAudioFormatError(
            f"The audio is {other}; Ollama's audio models take {SUPPORTED} only. {CONVERT_HINT}"
        )
    not_audio = not_audio_name(head)
    if not_audio is not None:
        raise NotAudioError(f"The file is {not_audio}, not audio. Upload a {SUPPORTED} recording.")
    shown = head[:8].hex(" ")
    raise UnsupportedAudioFormatError(
        f"The file is not in an audio format the plugin recognises (it starts with bytes {shown}). Ollama's "
        f"audio models take {SUPPORTED} only. {CONVERT_HINT}"
    )


def plan_segments(
    file: IO[bytes], *, max_seconds: float = DEFAULT_SEGMENT_SECONDS, max_segments: int = MAX_SEGMENTS
) -> AudioPlan:
    """Check the file and decide its segments of at most `max_seconds`, reading it once, holding no audio."""
    size = file.seek(0, io.SEEK_END)
    if size > MAX_AUDIO_BYTES:
        raise AudioTooLargeError(
            f"The audio file is {size / 2**20:.1f} MB; the limit is {MAX_AUDIO_BYTES // 2**20} MB (as in Dify's "
            "audio-to-text API). Split the recording or lower its bitrate."
        )
    file.seek(0)
    audio_format = detect_format(file.read(16))
    if audio_format == WAV:
        return _plan_wav(file, size, max_seconds, max_segments)
    return _plan_mp3(file, size, max_seconds, max_segments)


def _too_long(
    audio_format: str, seconds: float, count: int, clip_seconds: float, max_segments: int, *, at_least: bool = False
) -> AudioTooLongError:
    """`at_least`: planning stopped early, so `seconds` and `count` are what was reached."""
    more = "at least " if at_least else ""
    return AudioTooLongError(
        f"The {audio_format} audio is {more}{_duration(seconds)} long: {more}{count} segments of up to "
        f"{clip_seconds:.3g} s, "
        f"more than the {max_segments} the plugin transcribes in one call (Dify ends a call after 600 s). Split "
        f"the recording into parts of at most {_duration(max_segments * clip_seconds)}."
    )


def iter_segment_audio(file: IO[bytes], plan: AudioPlan) -> Iterator[tuple[Segment, bytes]]:
    """Each segment with its bytes, read from the file only when asked for (one segment in memory)."""
    for segment in plan.segments:
        yield segment, segment_audio(file, plan, segment)


def segment_audio(file: IO[bytes], plan: AudioPlan, segment: Segment) -> bytes:
    """One segment's bytes (a WAV with its own header, or whole MPEG frames), read from the file now."""
    if plan.wav is not None:
        return _wav_segment_bytes(file, plan.wav, segment)
    return _read_runs(file, segment.runs)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


# --- WAV -----------------------------------------------------------------------------------------------


def _open_wav(file: IO[bytes]) -> wave.Wave_read:
    file.seek(0)
    try:
        return wave.open(file, "rb")
    except wave.Error as error:
        detail = str(error)
        if detail.startswith("unknown format") or detail.startswith("unknown extended format"):
            raise UnsupportedAudioFormatError(
                f"The WAV file is not plain PCM ({detail}, e.g. float or compressed samples); Ollama's audio models "
                f"take PCM WAV or MP3. {CONVERT_HINT}"
            ) from None
        raise NotAudioError(f"The file says it is WAV but its header is broken ({detail}). {CONVERT_HINT}") from None
    except EOFError:
        raise NotAudioError(
            f"The WAV file ends inside its header: it is cut off or not audio. {CONVERT_HINT}"
        ) from None


def _plan_wav(file: IO[bytes], size: int, max_seconds: float, max_segments: int) -> AudioPlan:
    """Planned from the header's numbers alone (no work per sample or per segment before the limits pass)."""
    with _open_wav(file) as reader:
        # The reader stops right after the data chunk's header: that is where the samples start.
        params = WavParams(reader.getnchannels(), reader.getsampwidth(), reader.getframerate(), file.tell())
        declared = reader.getnframes()
    _check_wav_params(params)
    # Recorders that stream leave the data size at 0 or 0xFFFFFFFF, and a cut-off file holds less than
    # declared: the file itself says how many samples there are.
    available = (size - params.data_start) // params.frame_size
    frames_total = min(declared, available) if declared else available
    if frames_total == 0:
        raise EmptyAudioError("The WAV file contains no audio samples: record or upload the audio again.")
    per_segment = max(1, min(int(max_seconds * params.frame_rate), MAX_CLIP_AUDIO_BYTES // params.frame_size))
    count = math.ceil(frames_total / per_segment)
    if count > max_segments:
        clip_seconds = per_segment / params.frame_rate
        raise _too_long(WAV, frames_total / params.frame_rate, count, clip_seconds, max_segments)
    plan = AudioPlan(WAV, size, wav=params)
    for number, first in enumerate(range(0, frames_total, per_segment), start=1):
        frames = min(per_segment, frames_total - first)
        plan.segments.append(
            Segment(number, first / params.frame_rate, frames / params.frame_rate, first_frame=first, frames=frames)
        )
    return plan


def _check_wav_params(params: WavParams) -> None:
    """Refuse what Python's WAV writer cannot write back (samples over 4 bytes) or no recorder makes."""
    problems = []
    if not MIN_WAV_RATE <= params.frame_rate <= MAX_WAV_RATE:
        problems.append(
            f"a sample rate of {params.frame_rate} Hz (the plugin takes {MIN_WAV_RATE // 1000}–"
            f"{MAX_WAV_RATE // 1000} kHz)"
        )
    if not 1 <= params.sample_width <= 4:
        problems.append(f"{params.sample_width * 8}-bit samples (the plugin takes 8, 16, 24 or 32-bit PCM)")
    if not 1 <= params.channels <= MAX_WAV_CHANNELS:
        problems.append(f"{params.channels} channels (the plugin takes 1–{MAX_WAV_CHANNELS})")
    if problems:
        raise UnsupportedAudioFormatError(
            f"The WAV header gives {' and '.join(problems)}: the file is broken or not a speech recording. "
            f"{CONVERT_HINT}"
        )


def _wav_segment_bytes(file: IO[bytes], params: WavParams, segment: Segment) -> bytes:
    """The clip's samples under a fresh header that states their true size."""
    file.seek(params.data_start + segment.first_frame * params.frame_size)
    samples = file.read(segment.frames * params.frame_size)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(params.channels)
        writer.setsampwidth(params.sample_width)
        writer.setframerate(params.frame_rate)
        writer.writeframes(samples)
    return out.getvalue()


# --- MP3 -----------------------------------------------------------------------------------------------

_BITRATES_KBPS = {
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Version bits -> (version label, sample rates); MPEG 2.5 uses the MPEG-2 bitrate tables.
_VERSIONS = {3: (1, (44100, 48000, 32000)), 2: (2, (22050, 24000, 16000)), 0: (2.5, (11025, 12000, 8000))}
_LAYERS = {3: 1, 2: 2, 1: 3}


@dataclass(frozen=True)
class MpegFrame:
    """What one 4-byte MPEG audio frame header says."""

    version: float
    layer: int
    sample_rate: int
    length: int  # bytes, header included
    samples: int

    @property
    def stream_kind(self) -> tuple[float, int, int]:
        """Frames of one stream share version, layer and sample rate; a header that differs is junk."""
        return self.version, self.layer, self.sample_rate


def _mpeg_header(header: bytes) -> MpegFrame | None:
    """The frame a header describes, or None if these 4 bytes are not a valid, fixed-bitrate frame header."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version_bits, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version_bits not in _VERSIONS or layer_bits not in _LAYERS or rate_index == 3:
        return None
    if bitrate_index in (0, 15) or header[3] & 3 == 2:  # free format, bad bitrate, reserved emphasis
        return None
    version, rates = _VERSIONS[version_bits]
    layer, sample_rate = _LAYERS[layer_bits], rates[rate_index]
    bitrate = _BITRATES_KBPS[(1 if version == 1 else 2, layer)][bitrate_index] * 1000
    if layer == 1:
        return MpegFrame(version, layer, sample_rate, (12 * bitrate // sample_rate + padding) * 4, 384)
    samples = 1152 if layer == 2 or version == 1 else 576
    return MpegFrame(version, layer, sample_rate, samples // 8 * bitrate // sample_rate + padding, samples)


# What every header _mpeg_header accepts starts with: sync bits, then a bitrate index other than 0 and 15.
_SYNC = re.compile(rb"\xff[\xe0-\xff][\x10-\xef]")
_SYNC_BYTES = b"\xff\xe0\x10"


class _ForwardReader:
    """Reads a file forward in blocks; bytes before the current position are dropped."""

    def __init__(self, file: IO[bytes], start: int, size: int) -> None:
        self.file, self.size = file, size
        self.base = start  # file offset of buffer[0]
        self.buffer = b""
        file.seek(start)

    def peek(self, offset: int, length: int) -> bytes:
        if offset < self.base:
            raise ValueError("the MP3 reader only moves forward")
        if offset + length > self.base + len(self.buffer):
            keep = self.buffer[offset - self.base :] if offset < self.base + len(self.buffer) else b""
            self.file.seek(offset + len(keep))
            self.buffer = keep + self.file.read(max(_READ_BLOCK, length - len(keep)))
            self.base = offset
        start = offset - self.base
        return self.buffer[start : start + length]

    def find_sync(self, offset: int) -> int:
        """The next offset >= `offset` that may start a frame header, or the file size. Searched in place by
        `re` so a run of junk (megabytes of 0xFF) costs no Python work per byte."""
        while offset + len(_SYNC_BYTES) <= self.size:
            end = self.base + len(self.buffer)
            if not self.base <= offset or offset + len(_SYNC_BYTES) > end:
                self.peek(offset, min(_READ_BLOCK, self.size - offset))
                end = self.base + len(self.buffer)
            found = _SYNC.search(self.buffer, offset - self.base)
            if found:
                return self.base + found.start()
            offset = max(offset + 1, end - len(_SYNC_BYTES) + 1)  # a header may straddle the block's end
        return self.size


def _id3v2_length(file: IO[bytes]) -> int:
    """Bytes taken by an ID3v2 tag at the start (0 without one); album art can make it megabytes."""
    file.seek(0)
    head = file.read(10)
    if len(head) < 10 or head[:3] != b"ID3" or any(byte & 0x80 for byte in head[6:10]):
        return 0
    body = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    footer = 10 if head[5] & 0x10 else 0
    return 10 + body + footer


def _max_not_frames(size: int) -> int:
    """Tags and a little junk are normal; a large part that is not frames of the stream would be lost silently."""
    return max(_MP3_FIRST_FRAME_WITHIN, size // 10)


def _too_much_junk(not_frames: int, size: int) -> NotAudioError:
    return NotAudioError(
        f"{not_frames / 2**20:.1f} MB of the {size / 2**20:.1f} MB MP3 file are not audio frames of its stream: "
        f"it is damaged, or joined from files with different sample rates. {CONVERT_HINT}"
    )


def iter_mp3_frames(file: IO[bytes], size: int) -> Iterator[tuple[int, MpegFrame]]:
    """(offset, frame) of every MPEG audio frame, skipping an ID3v2 tag, junk and trailing tags.

    Walking from frame to frame, a header of the same stream whose frame fits in the file is the next frame.
    After junk (or at the start) a header counts only if its frame is followed by another header of the
    same stream, a trailing tag or the end of the file, so a stray 0xFF in junk is not taken for audio.
    Raises NotAudioError as soon as the skipped bytes are more than `_max_not_frames` allows.
    """
    start = _id3v2_length(file)
    skipped, max_skipped = 0, _max_not_frames(size)
    reader = _ForwardReader(file, start, size)
    stream_kind: tuple[float, int, int] | None = None
    in_step = False  # the previous frame ended exactly here
    offset = start
    while offset + 4 <= size:
        frame = _mpeg_header(reader.peek(offset, 4))
        if frame is not None and (stream_kind is None or frame.stream_kind == stream_kind):
            end = offset + frame.length
            if end <= size and not in_step and end + 4 <= size:
                following = _mpeg_header(reader.peek(end, 4))
                fits = _same_stream(following, frame) or _is_tag(reader.peek(end, 3))
            else:
                fits = end <= size
            if fits:
                if stream_kind is None and offset - start > _MP3_FIRST_FRAME_WITHIN:
                    break
                stream_kind, in_step = frame.stream_kind, True
                yield offset, frame
                offset = end
                continue
        in_step = False
        if stream_kind is None and offset - start > _MP3_FIRST_FRAME_WITHIN:
            break
        following = reader.find_sync(offset + 1)
        skipped += min(following, size) - offset
        if skipped > max_skipped and following < size:  # junk up to the end is counted after the walk
            raise _too_much_junk(skipped, size)
        offset = following


def _same_stream(following: MpegFrame | None, frame: MpegFrame) -> bool:
    return following is not None and following.stream_kind == frame.stream_kind


def _is_tag(head: bytes) -> bool:
    """ID3v1 ("TAG"), APEv2 ("APE") and Lyrics3 ("LYR") tags follow the last frame."""
    return head in (b"TAG", b"APE", b"LYR")


def _plan_mp3(file: IO[bytes], size: int, max_seconds: float, max_segments: int) -> AudioPlan:
    plan = AudioPlan(MP3, size)
    runs: list[tuple[int, int]] = []

    def close_segment(*, at_end: bool) -> None:
        number = len(plan.segments) + 1
        if number > max_segments:  # stop here: the rest of the file cannot change the answer
            raise _too_long(MP3, samples / sample_rate, number, max_seconds, max_segments, at_least=not at_end)
        plan.segments.append(
            Segment(number, start_samples / sample_rate, segment_samples / sample_rate, runs=tuple(runs))
        )

    samples = segment_samples = start_samples = segment_bytes = 0
    sample_rate = limit = frame_bytes = 0
    for offset, frame in iter_mp3_frames(file, size):
        frame_bytes += frame.length
        if not sample_rate:
            sample_rate = frame.sample_rate
            limit = max(frame.samples, int(max_seconds * sample_rate))
        if segment_samples and (
            segment_samples + frame.samples > limit or segment_bytes + frame.length > MAX_CLIP_AUDIO_BYTES
        ):
            close_segment(at_end=False)
            runs, start_samples, segment_samples, segment_bytes = [], samples, 0, 0
        if runs and runs[-1][0] + runs[-1][1] == offset:
            runs[-1] = (runs[-1][0], runs[-1][1] + frame.length)
        else:
            runs.append((offset, frame.length))
        segment_samples += frame.samples
        segment_bytes += frame.length
        samples += frame.samples
    if segment_samples:
        close_segment(at_end=True)
    if not plan.segments:
        raise NotAudioError(
            f"The file has no MPEG audio frames: it is not MP3 audio, or it is damaged. Upload a {SUPPORTED} recording."
        )
    not_frames = size - _id3v2_length(file) - frame_bytes
    if not_frames > _max_not_frames(size):
        raise _too_much_junk(not_frames, size)
    return plan


def _read_runs(file: IO[bytes], runs: tuple[tuple[int, int], ...]) -> bytes:
    parts = []
    for offset, length in runs:
        file.seek(offset)
        parts.append(file.read(length))
    return b"".join(parts)
