"""The fake Ollama for benchmarks, in its own process so its CPU time is not counted against the plugin.

    python -m bench.embed_server --dims 768 --per-request-ms 5 --per-input-ms 1

It prints one JSON line `{"url": ...}` when it listens and serves until its stdin closes. `/api/embed`
follows Ollama's rules (tests/fake_ollama/embed_handler.py) and charges a fixed time per request and per
input. `GET /bench/embed-stats` answers what it served since the last `POST /bench/embed-stats/reset`:
`{"requests", "inputs", "service_seconds"}`, the server's own service time being the time spent inside
the handler (the modelled compute plus building the answer).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.server_process import ServerProcess  # noqa: E402
from tests.fake_ollama import FakeOllama, Scenario  # noqa: E402
from tests.fake_ollama.embed_handler import OllamaEmbedHandler, VectorPool  # noqa: E402

STATS_PATH = "/bench/embed-stats"
RESET_PATH = "/bench/embed-stats/reset"
BENCH_MODEL = "bench-embed"


def serve(dims: int, per_request_seconds: float, per_input_seconds: float, context_length: int) -> None:
    with FakeOllama() as fake:
        fake.register_model(BENCH_MODEL, ["embedding"], context_length=context_length, embedding_length=dims)
        handler = OllamaEmbedHandler(
            fake,
            per_request_seconds=per_request_seconds,
            per_input_seconds=per_input_seconds,
            default_num_ctx=context_length,
            pool=VectorPool(dims),
        )
        fake.set_route("POST", "/api/embed", handler)
        fake.set_route("GET", STATS_PATH, lambda _request: Scenario.json(handler.stats.as_dict()))

        def reset(_request: Any) -> Scenario:
            handler.reset_stats()
            return Scenario.json({"ok": True})

        fake.set_route("POST", RESET_PATH, reset)
        print(json.dumps({"url": fake.url, "model": BENCH_MODEL}), flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin (or dies)


class EmbedServerProcess(ServerProcess):
    """Start `bench.embed_server` as a child process; `url` is where it listens."""

    def __init__(self, dims: int, per_request_ms: float, per_input_ms: float, context_length: int = 8192) -> None:
        super().__init__(
            "bench.embed_server",
            [
                "--dims",
                str(dims),
                "--per-request-ms",
                str(per_request_ms),
                "--per-input-ms",
                str(per_input_ms),
                "--context-length",
                str(context_length),
            ],
        )
        self.model = BENCH_MODEL

    def __enter__(self) -> EmbedServerProcess:
        super().__enter__()
        self.model = self.announced["model"]
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, default=768)
    parser.add_argument("--per-request-ms", type=float, default=5.0)
    parser.add_argument("--per-input-ms", type=float, default=1.0)
    parser.add_argument("--context-length", type=int, default=8192)
    args = parser.parse_args()
    serve(args.dims, args.per_request_ms / 1000, args.per_input_ms / 1000, args.context_length)


if __name__ == "__main__":
    main()
