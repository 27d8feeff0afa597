"""The fake Ollama with an audio model, for benchmarks, in its own process so its CPU time is not counted.

    python -m bench.audio_server --per-clip-ms 0

It prints one JSON line `{"url": ..., "model": ...}` when it listens and serves until its stdin closes.
`/api/chat` with audio in `images` checks each clip is WAV or whole MPEG frames
(tests/fake_ollama/audio.py) and answers "<kind> clip of <seconds> seconds", after `--per-clip-ms`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.server_process import ServerProcess  # noqa: E402
from tests.fake_ollama import FakeOllama  # noqa: E402
from tests.fake_ollama.audio import AudioClip, describe_clip  # noqa: E402

BENCH_MODEL = "gemma4:e4b"


def serve(per_clip_seconds: float) -> None:
    with FakeOllama(version="0.20.0") as fake:
        fake.register_audio_model(BENCH_MODEL)

        def transcribe(clip: AudioClip) -> str:
            time.sleep(per_clip_seconds)
            with fake._lock:
                fake.audio_clips.clear()  # keep the server's memory flat over many rounds
            return describe_clip(clip)

        fake.transcriber = transcribe
        print(json.dumps({"url": fake.url, "model": BENCH_MODEL}), flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin (or dies)


class AudioServerProcess(ServerProcess):
    """Start `bench.audio_server` as a child process; `url` is where it listens."""

    def __init__(self, per_clip_ms: float = 0.0) -> None:
        super().__init__("bench.audio_server", ["--per-clip-ms", str(per_clip_ms)])
        self.model = BENCH_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-clip-ms", type=float, default=0.0)
    args = parser.parse_args()
    serve(args.per_clip_ms / 1000)


if __name__ == "__main__":
    main()
