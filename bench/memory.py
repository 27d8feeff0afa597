"""Memory: peak RSS of the plugin process while it serves 50 concurrent streamed chats of 2,000 chunks each.

    python -m bench.memory            # 50 streams of 2,000 chunks
    python -m bench.memory --short    # 20 streams of 500 chunks

The real plugin (`python -m main`, started and spoken to like Dify's daemon by `tests/e2e/driver.py`) streams
from `bench.stream_server` in its own process. The answers are paced (a pause after every chunk), so all
streams are open at the same time, as when 50 users chat at once; each is checked for the full text. The
figures come from Linux's /proc/<pid>/status: VmRSS once the plugin has answered one warm-up chat, and
VmHWM (the peak resident set) after the streams. Dify's daemon gives the plugin 256 MB (manifest
`resource.memory`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.stream_server import PACED, StreamServerProcess, expected_text, transcript, write_json  # noqa: E402
from tests.e2e.driver import PluginProcess  # noqa: E402

MB = 1024 * 1024
PROMPT = [{"role": "user", "content": "Write a long answer."}]


def status_bytes(pid: int | None, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def run(streams: int, chunks: int, pace_us: float) -> dict[str, Any]:
    served = transcript(chunks, PACED)
    expected = expected_text(served.thinking, served.answer)
    with StreamServerProcess(10, chunks, pace_us) as server, PluginProcess(REPO_ROOT) as plugin:
        credentials = {"base_url": server.url}
        after_start = status_bytes(plugin.pid, "VmRSS")
        plugin.invoke_llm(PACED, credentials, PROMPT).raise_for_error()  # warm-up: imports, pools
        baseline = status_bytes(plugin.pid, "VmRSS")
        started = time.perf_counter()
        pending = [
            plugin.submit(
                "invoke_llm",
                {
                    "provider": "ollama",
                    "model": PACED,
                    "model_type": "llm",
                    "credentials": credentials,
                    "model_parameters": {},
                    "prompt_messages": PROMPT,
                    "tools": None,
                    "stop": None,
                    "stream": True,
                },
                validate=False,
            )
            for _ in range(streams)
        ]
        results = [invocation.result(timeout=600) for invocation in pending]
        wall = time.perf_counter() - started
        peak = status_bytes(plugin.pid, "VmHWM")
        after = status_bytes(plugin.pid, "VmRSS")
    for result in results:
        result.raise_for_error()
        if result.llm_text() != expected:
            raise AssertionError("a stream's reassembled text differs from the served text")
    return {
        "streams": streams,
        "chunks_per_stream": chunks,
        "pace_us": pace_us,
        "wall_seconds": wall,
        "rss_after_start_mb": after_start / MB,
        "rss_baseline_mb": baseline / MB,
        "peak_rss_mb": peak / MB,
        "rss_after_mb": after / MB,
        "per_stream_mb": (peak - baseline) / MB / streams,
        "dify_chunks_per_stream": sum(len(r.payloads) for r in results) / streams,
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"\nmemory: {result['streams']} concurrent streams of {result['chunks_per_stream']} chunks "
        f"(wall {result['wall_seconds']:.1f} s)\n"
        f"  RSS after start {result['rss_after_start_mb']:.1f} MB, after one chat {result['rss_baseline_mb']:.1f} MB, "
        f"peak {result['peak_rss_mb']:.1f} MB ({result['per_stream_mb'] * 1024:.0f} kB per stream), "
        f"after {result['rss_after_mb']:.1f} MB"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Memory benchmark (see module docstring).")
    parser.add_argument("--short", action="store_true", help="quick check: 20 streams of 500 chunks")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--pace-us", type=float, default=500.0)
    args = parser.parse_args(argv)
    if args.short:
        args.streams, args.chunks = 20, 500
    result = run(args.streams, args.chunks, args.pace_us)
    report = {"settings": vars(args), **result}
    print_report(report)
    print(f"JSON written to {write_json('memory', report)}")
    return report


if __name__ == "__main__":
    main()
