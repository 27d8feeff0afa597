"""Speech to text: plugin CPU and peak memory for a 5-minute MP3, and for the largest file accepted.

    python -m bench.speech2text            # 5 rounds of a 5-minute MP3, then 3 of a 25 MB WAV
    python -m bench.speech2text --short    # 2 rounds of each

The real plugin (`python -m main`, spoken to like Dify's daemon by `tests/e2e/driver.py`) gets the file as
Dify sends it (`invoke_speech2text`, bytes hex-encoded) and transcribes it from `bench.audio_server`, a fake
Ollama in its own process. The MP3 is what Dify's web voice input records (MPEG-2 Layer III, mono,
16 kHz, 128 kbps): 8,334 frames, 300 s, 4.8 MB, cut into 10 clips of 30 s. Every answer is checked against
the clips the plugin must have sent.

Figures: CPU time of the plugin process (user + system from /proc/<pid>/stat) per file, against a floor
measured in the same run: the same request for a model without audio, which the SDK receives, decodes
and writes to its temp file exactly the same way before the plugin refuses it; the difference is the
plugin's own work (planning, reading clips, base64, HTTP, parsing the answers). Memory: VmRSS after a
warm-up transcription and VmHWM (the peak resident set) after the rounds. Dify's daemon gives the plugin
256 MB (manifest `resource.memory`).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.audio_server import AudioServerProcess  # noqa: E402
from bench.memory import MB, status_bytes  # noqa: E402
from bench.stream_server import write_json  # noqa: E402
from tests.e2e.driver import PluginProcess  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SEGMENT_SECONDS = 30
# Dify's recorder: MPEG-2 Layer III, 128 kbps (index 12), 16 kHz (index 2), mono: 576-byte frames of 36 ms.
DIFY_MP3_HEADER = bytes([0xFF, 0xF3, (12 << 4) | (2 << 2), 0xC4])
DIFY_FRAME_BYTES, DIFY_FRAME_SECONDS = 72 * 128_000 // 16_000, 576 / 16_000


def dify_voice_mp3(seconds: float) -> bytes:
    """Frames shaped like Dify's recorder's; each payload differs so a lost or repeated frame would show."""
    frames = bytearray()
    for number in range(round(seconds / DIFY_FRAME_SECONDS)):
        payload = number.to_bytes(4, "big") * (DIFY_FRAME_BYTES // 4)
        frames += DIFY_MP3_HEADER + payload[: DIFY_FRAME_BYTES - 4]
    return bytes(frames)


def speech_wav(megabytes: float, rate: int = 16_000) -> bytes:
    """A 16-bit mono WAV of about `megabytes` (a 25 MB one is 13 minutes)."""
    frames = int(megabytes * 1_000_000) // 2
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        block = bytes(range(256)) * 1024
        written = 0
        while written < frames * 2:
            part = block[: frames * 2 - written]
            writer.writeframes(part)
            written += len(part)
    return out.getvalue()


def expected_transcript(kind: str, units: int, unit_seconds: float) -> str:
    """The fake's answer for clips of as many whole frames (MP3) or samples (WAV) as fit in 30 s."""
    per_clip = int(SEGMENT_SECONDS / unit_seconds + 1e-9)
    full, rest = divmod(units, per_clip)
    clips = [per_clip] * full + ([rest] if rest else [])
    return " ".join(f"{kind} clip of {count * unit_seconds:.2f} seconds" for count in clips)


def cpu_seconds(pid: int | None) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def measure(plugin: PluginProcess, model: str, credentials: dict[str, str], audio: bytes, expected: str | None):
    before, started = cpu_seconds(plugin.pid), time.perf_counter()
    result = plugin.invoke_speech2text(model, credentials, audio, timeout=600)
    wall, cpu = time.perf_counter() - started, cpu_seconds(plugin.pid) - before
    if expected is None:
        if result.error_type != "InvokeBadRequestError":
            raise AssertionError(f"the floor request should be refused, got {result.error_type}: {result.error}")
    elif result.raise_for_error().last_payload["result"] != expected:
        raise AssertionError("the transcript differs from the clips the plugin had to send")
    return cpu, wall


def run_file(label: str, audio: bytes, kind: str, units: int, unit_seconds: float, rounds: int) -> dict[str, Any]:
    seconds = units * unit_seconds
    with AudioServerProcess() as server, PluginProcess(REPO_ROOT) as plugin:
        credentials = {"base_url": server.url}
        plugin.invoke_speech2text(server.model, credentials, dify_voice_mp3(3)).raise_for_error()  # warm-up
        baseline = status_bytes(plugin.pid, "VmRSS")
        expected = expected_transcript(kind, units, unit_seconds)
        plugin_cpu, floor_cpu, walls = [], [], []
        for _ in range(rounds):  # interleaved, so machine noise hits both alike
            cpu, wall = measure(plugin, server.model, credentials, audio, expected)
            plugin_cpu.append(cpu)
            walls.append(wall)
            floor_cpu.append(measure(plugin, "llama3.2", credentials, audio, None)[0])
        peak = status_bytes(plugin.pid, "VmHWM")
    cpu, floor = statistics.median(plugin_cpu), statistics.median(floor_cpu)
    return {
        "file": label,
        "bytes": len(audio),
        "audio_seconds": seconds,
        "segments": expected.count(" clip of "),
        "rounds": rounds,
        "plugin_cpu_s": plugin_cpu,
        "floor_cpu_s": floor_cpu,
        "median_cpu_s": cpu,
        "median_floor_cpu_s": floor,
        "plugin_own_cpu_s": cpu - floor,
        "plugin_own_cpu_ms_per_audio_minute": (cpu - floor) * 1000 / (seconds / 60),
        "median_wall_s": statistics.median(walls),
        "rss_baseline_mb": baseline / MB,
        "peak_rss_mb": peak / MB,
    }


def print_report(results: list[dict[str, Any]]) -> None:
    for r in results:
        print(
            f"\nspeech2text, {r['file']} ({r['bytes'] / 1e6:.1f} MB, {r['audio_seconds']:.0f} s, "
            f"{r['segments']} clips, median of {r['rounds']}):\n"
            f"  plugin CPU {r['median_cpu_s'] * 1000:.0f} ms, of which the SDK receiving the file (floor) "
            f"{r['median_floor_cpu_s'] * 1000:.0f} ms; the plugin's own {r['plugin_own_cpu_s'] * 1000:.0f} ms "
            f"({r['plugin_own_cpu_ms_per_audio_minute']:.1f} ms per audio minute); wall {r['median_wall_s']:.2f} s\n"
            f"  RSS after warm-up {r['rss_baseline_mb']:.1f} MB, peak {r['peak_rss_mb']:.1f} MB"
        )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Speech-to-text benchmark (see module docstring).")
    parser.add_argument("--short", action="store_true", help="quick check: 2 rounds of each file")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rounds = 2 if args.short else args.rounds
    mp3, wav = dify_voice_mp3(300), speech_wav(25)
    results = [
        run_file(
            "5-minute MP3 as Dify's voice input records it",
            mp3,
            "mp3",
            len(mp3) // DIFY_FRAME_BYTES,
            DIFY_FRAME_SECONDS,
            rounds,
        ),
        run_file("25 MB WAV, 16 kHz mono", wav, "wav", (len(wav) - 44) // 2, 1 / 16_000, max(2, rounds - 2)),
    ]
    report = {"settings": vars(args), "results": results}
    print_report(results)
    print(f"JSON written to {write_json('speech2text', report)}")
    return report


if __name__ == "__main__":
    main()
