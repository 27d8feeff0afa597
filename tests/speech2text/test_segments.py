"""Recognising audio files and cutting them into clips at frame boundaries, with no byte lost or repeated."""

from __future__ import annotations

import io
import struct
import tempfile
import time
import tracemalloc
import wave

import pytest

from models.speech2text import segments
from models.speech2text.segments import (
    MAX_AUDIO_BYTES,
    MAX_CLIP_AUDIO_BYTES,
    MP3,
    WAV,
    AudioTooLargeError,
    AudioTooLongError,
    EmptyAudioError,
    NotAudioError,
    UnsupportedAudioFormatError,
    detect_format,
    iter_segment_audio,
    plan_segments,
)
from tests.fake_ollama.audio import mp3_frame_offsets, mp3_seconds
from tests.speech2text.audio_files import (
    SDK_MP3_SECONDS,
    id3v1_tag,
    id3v2_tag,
    mpeg1_layer3_frames,
    mpeg1_seconds,
    sdk_mp3,
    wav_bytes,
    wav_samples,
)


def raw_wav(rate: int, data_bytes: int, *, channels: int = 1, width: int = 1) -> bytes:
    """A PCM WAV whose header says exactly these numbers (silence), as a broken or odd recorder might write."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width, channels * width, width * 8)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_bytes)
    return b"RIFF" + struct.pack("<I", len(body) + data_bytes) + body + bytes(data_bytes)


def clips(data: bytes, **options: float) -> tuple[segments.AudioPlan, list[bytes]]:
    file = io.BytesIO(data)
    plan = plan_segments(file, **options)
    return plan, [clip for _, clip in iter_segment_audio(file, plan)]


# --- formats ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", WAV),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", MP3),
        (b"\xff\xf3\xe4\x64\x00", MP3),
        (b"\xff\xfb\x90\x64\x00", MP3),
    ],
)
def test_wav_and_mp3_are_recognised_as_ollama_does(head: bytes, expected: str):
    assert detect_format(head) == expected


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (b"fLaC\x00\x00\x00\x22", "FLAC"),
        (b"OggS\x00\x02\x00\x00", "Ogg"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00", "M4A/MP4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "WebM"),
        (b"#!AMR\n\x3c\x91", "AMR"),
    ],
)
def test_other_audio_formats_are_refused_by_name_with_what_works(head: bytes, named: str):
    with pytest.raises(UnsupportedAudioFormatError) as refused:
        detect_format(head)
    assert named in str(refused.value)
    assert "WAV or MP3" in str(refused.value) and "ffmpeg" in str(refused.value)


def test_an_image_is_named_as_not_audio():
    with pytest.raises(NotAudioError, match="PNG image, not audio"):
        detect_format(b"\x89PNG\r\n\x1a\n\x00\x00")


def test_unknown_bytes_are_shown_in_the_refusal():
    with pytest.raises(UnsupportedAudioFormatError, match="starts with bytes 68 65 6c 6c 6f 20 77 6f"):
        detect_format(b"hello world, this is text")


def test_an_empty_file_is_refused_as_empty():
    with pytest.raises(EmptyAudioError, match="empty"):
        plan_segments(io.BytesIO(b""))


def test_a_file_over_30_mb_is_refused_before_it_is_read():
    with tempfile.TemporaryFile() as file:
        file.write(wav_bytes(1))
        file.truncate(MAX_AUDIO_BYTES + 1)  # sparse: nothing of it is in memory
        with pytest.raises(AudioTooLargeError, match="30 MB"):
            plan_segments(file)


# --- WAV ----------------------------------------------------------------------------------------------


def test_a_long_wav_is_cut_into_valid_wavs_of_at_most_30_s_with_every_sample_once():
    original = wav_bytes(95)
    plan, parts = clips(original)
    assert plan.format == WAV
    assert [segment.seconds for segment in plan.segments] == [30, 30, 30, 5]
    assert [segment.start_seconds for segment in plan.segments] == [0, 30, 60, 90]
    for part in parts:
        with wave.open(io.BytesIO(part), "rb") as reader:  # each clip has its own valid header
            assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 16000)
            assert reader.getnframes() * 2 == len(part) - 44
    assert b"".join(wav_samples(part) for part in parts) == wav_samples(original)


@pytest.mark.parametrize(("channels", "width", "rate"), [(2, 2, 44100), (1, 3, 48000), (2, 1, 8000)])
def test_wav_segments_keep_channels_sample_width_and_rate(channels: int, width: int, rate: int):
    original = wav_bytes(12.5, rate=rate, channels=channels, width=width)
    plan, parts = clips(original, max_seconds=5)
    assert len(parts) == 3 and plan.seconds == pytest.approx(12.5)
    for part in parts:
        with wave.open(io.BytesIO(part), "rb") as reader:
            assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (channels, width, rate)
    assert b"".join(wav_samples(part) for part in parts) == wav_samples(original)


def test_a_short_wav_is_one_clip():
    _, parts = clips(wav_bytes(3))
    assert len(parts) == 1 and wav_samples(parts[0]) == wav_samples(wav_bytes(3))


def test_a_float_wav_is_refused_as_not_plain_pcm():
    data = bytearray(wav_bytes(1))
    struct.pack_into("<H", data, 20, 3)  # WAVE_FORMAT_IEEE_FLOAT
    with pytest.raises(UnsupportedAudioFormatError, match="not plain PCM"):
        plan_segments(io.BytesIO(bytes(data)))


def test_a_wav_cut_inside_its_header_is_not_audio():
    with pytest.raises(NotAudioError, match="cut off or not audio|header is broken"):
        plan_segments(io.BytesIO(wav_bytes(1)[:30]))


def test_a_wav_without_samples_is_empty():
    with pytest.raises(EmptyAudioError, match="no audio samples"):
        plan_segments(io.BytesIO(wav_bytes(0)))


def test_a_truncated_wav_whose_header_promises_more_is_planned_from_what_is_there():
    original = wav_bytes(10)
    cut = original[: 44 + 16000 * 2 * 4]  # 4 s of the 10 s the header declares
    plan, parts = clips(cut, max_seconds=3)
    assert plan.seconds == pytest.approx(4)
    assert b"".join(wav_samples(part) for part in parts) == cut[44:]


# --- MP3 ----------------------------------------------------------------------------------------------


def test_the_sdk_mp3_is_planned_from_its_frames():
    plan, parts = clips(sdk_mp3(), max_seconds=30)
    assert plan.format == MP3 and len(parts) == 1
    assert plan.seconds == pytest.approx(SDK_MP3_SECONDS)
    assert parts[0] == sdk_mp3()


def test_concatenated_mp3_is_cut_at_frame_boundaries_with_no_byte_lost_or_repeated():
    frames = sdk_mp3() * 12  # 131 s of MPEG-2 Layer III frames
    plan, parts = clips(frames, max_seconds=30)
    assert len(parts) == 5
    assert b"".join(parts) == frames
    for part, segment in zip(parts, plan.segments, strict=True):
        assert segment.seconds <= 30
        assert mp3_seconds(part) == pytest.approx(segment.seconds)  # whole frames from its first byte
    assert plan.seconds == pytest.approx(12 * SDK_MP3_SECONDS)
    # each cut is a frame start of the whole stream
    starts = set(mp3_frame_offsets(frames))
    position = 0
    for part in parts:
        assert position in starts
        position += len(part)


def test_mp3_tags_and_junk_are_left_out_and_every_frame_kept_once():
    frames = mpeg1_layer3_frames(3000)  # 78 s at 44.1 kHz, alternating padded frames
    junk = b"\x00\xff\x00junk\xff\xe0" * 10
    boundary = max(offset for offset in mp3_frame_offsets(frames) if offset <= 100_000)
    data = id3v2_tag(5000) + frames[:boundary] + junk + frames[boundary:] + id3v1_tag()
    plan, parts = clips(data, max_seconds=20)
    assert b"".join(parts) == frames
    assert plan.seconds == pytest.approx(mpeg1_seconds(3000))
    assert all(segment.seconds <= 20 for segment in plan.segments)
    assert [round(segment.seconds, 2) for segment in plan.segments][:3] == [19.98, 19.98, 19.98]
    for part in parts:
        mp3_frame_offsets(part)  # the fake's independent reader accepts each clip as whole frames


def test_bytes_that_only_look_like_mp3_are_not_audio():
    with pytest.raises(NotAudioError, match="no MPEG audio frames"):
        plan_segments(io.BytesIO(b"\xff\xfb\x90\x64" + bytes(range(256)) * 400))


def test_an_id3_tag_with_nothing_after_it_is_not_audio():
    with pytest.raises(NotAudioError):
        plan_segments(io.BytesIO(id3v2_tag(2000)))


def test_too_many_segments_are_refused_before_anything_is_sent():
    with pytest.raises(AudioTooLongError) as refused:
        plan_segments(io.BytesIO(sdk_mp3() * 12), max_seconds=30, max_segments=4)
    message = str(refused.value)
    assert "2 min 11 s" in message and "5 segments" in message and "more than the 4" in message


def test_segments_are_read_one_at_a_time_not_the_whole_file():
    class CountingFile(io.BytesIO):
        largest_read = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            CountingFile.largest_read = max(CountingFile.largest_read, len(data))
            return data

    data = sdk_mp3() * 30  # 6.6 MB, 328 s
    file = CountingFile(data)
    plan = plan_segments(file, max_seconds=30)
    largest_clip = 0
    for _, clip in iter_segment_audio(file, plan):
        largest_clip = max(largest_clip, len(clip))
    assert len(plan.segments) == 11
    assert CountingFile.largest_read <= max(largest_clip, 256 * 1024) < len(data) / 10


def test_an_mp3_whose_second_half_is_another_stream_is_refused_not_half_transcribed():
    first = mpeg1_layer3_frames(400)  # 44.1 kHz
    second = mpeg1_layer3_frames(400, rate_index=1)  # 48 kHz: not frames of the first stream
    with pytest.raises(NotAudioError, match="not audio frames of its stream"):
        plan_segments(io.BytesIO(first + second))


def test_aac_in_adts_frames_is_named():
    with pytest.raises(UnsupportedAudioFormatError, match="AAC"):
        detect_format(b"\xff\xf1\x50\x80\x02\x1f\xfc")


@pytest.mark.parametrize("declared", [0, 0xFFFFFFFF])
def test_a_streamed_wav_whose_header_gives_no_real_size_is_cut_from_what_the_file_holds(declared: int):
    original = wav_bytes(7)
    data = bytearray(original)
    struct.pack_into("<I", data, 40, declared)  # the data chunk's size field
    plan, parts = clips(bytes(data), max_seconds=3)
    assert [segment.seconds for segment in plan.segments] == [3, 3, 1]
    assert b"".join(wav_samples(part) for part in parts) == wav_samples(original)


# --- headers and streams built to make planning expensive ---------------------------------------------


@pytest.mark.parametrize(("rate", "shown"), [(1, "1 Hz"), (4000, "4000 Hz"), (2_000_000, "2000000 Hz")])
def test_a_wav_with_an_implausible_sample_rate_is_refused_without_planning_it(rate: int, shown: str):
    tracemalloc.start()
    try:
        with pytest.raises(UnsupportedAudioFormatError) as refused:
            plan_segments(io.BytesIO(raw_wav(rate, 2 * 2**20)), max_seconds=5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(refused.value)
    assert shown in message and "8–192 kHz" in message and "ffmpeg" in message
    assert peak < 8 * 2**20  # the 2 MB file is held once; no Segment per second of a 1 Hz "recording"


@pytest.mark.parametrize(
    ("width", "channels", "shown"), [(5, 1, "40-bit samples"), (8, 1, "64-bit samples"), (2, 9, "9 channels")]
)
def test_a_wav_whose_samples_the_plugin_cannot_write_back_is_refused_when_planned(width, channels, shown):
    with pytest.raises(UnsupportedAudioFormatError, match=shown):
        plan_segments(io.BytesIO(raw_wav(16000, 16000 * width * channels, channels=channels, width=width)))


def test_too_many_wav_segments_are_counted_not_built():
    built = []

    class CountingSegment(segments.Segment):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    original = segments.Segment
    segments.Segment = CountingSegment
    try:
        with pytest.raises(AudioTooLongError, match="27 segments of up to 5 s, more than the 2"):
            plan_segments(io.BytesIO(raw_wav(8000, 2**20)), max_seconds=5, max_segments=2)  # 131 s
    finally:
        segments.Segment = original
    assert built == []


def test_a_wav_with_a_high_byte_rate_is_cut_into_clips_of_at_most_the_clip_byte_limit():
    data = raw_wav(192000, 192000 * 2 * 4 * 6, channels=2, width=4)  # 6 s of 1.5 MB/s: 8.8 MiB
    plan, parts = clips(data, max_seconds=30)
    assert len(parts) == 3
    assert all(len(part) - 44 <= MAX_CLIP_AUDIO_BYTES for part in parts)
    assert sum(len(part) - 44 for part in parts) == len(data) - 44
    assert plan.seconds == pytest.approx(6)


def test_mp3_clips_are_cut_at_the_clip_byte_limit_too(monkeypatch):
    monkeypatch.setattr(segments, "MAX_CLIP_AUDIO_BYTES", 100_000)
    data = mpeg1_layer3_frames(600)  # 15.7 s, 250 kB at 128 kbps
    _, parts = clips(data, max_seconds=30)
    assert [len(part) <= 100_000 for part in parts] == [True, True, True]
    assert b"".join(parts) == data


def test_megabytes_of_junk_after_a_few_mp3_frames_are_refused_without_walking_them_byte_by_byte():
    data = mpeg1_layer3_frames(3) + b"\xff" * (8 * 2**20)
    started = time.process_time()
    with pytest.raises(NotAudioError, match="not audio frames of its stream"):
        plan_segments(io.BytesIO(data))
    assert time.process_time() - started < 1.0  # it took 6 s of CPU, blocking every workspace under gevent


def test_junk_full_of_almost_headers_is_refused_once_it_passes_the_junk_limit():
    # Every third byte starts something shaped like a frame header (a reserved version and layer): each costs
    # a look, so the walk must stop once the skipped bytes pass a tenth of the file, not go on to the end.
    data = mpeg1_layer3_frames(3) + b"\xff\xe0\x10" * (3 * 2**20)
    started = time.process_time()
    with pytest.raises(NotAudioError, match="not audio frames of its stream"):
        plan_segments(io.BytesIO(data))
    assert time.process_time() - started < 1.0


def test_an_mp3_over_the_segment_limit_is_refused_as_soon_as_the_limit_is_passed():
    data = sdk_mp3() * 30  # 328 s
    with pytest.raises(AudioTooLongError) as refused:
        plan_segments(io.BytesIO(data), max_seconds=30, max_segments=2)
    message = str(refused.value)
    assert "at least 1 min 30 s long: at least 3 segments of up to 30 s, more than the 2" in message
