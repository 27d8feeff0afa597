"""Knowledge-base indexing the way Dify does it, through the real plugin process, against a fake Ollama.

    python -m bench.embedding_indexing            # full run (about 2 minutes)
    python -m bench.embedding_indexing --short    # quick check (a few seconds)

Dify's CacheEmbedding reads `max_chunks` from the model schema, then for each batch of that many chunks
asks the plugin for a token count and for the embeddings. This script does exactly that over the stdio
protocol (`tests/e2e/driver.py` plays the daemon) against `bench.embed_server`, a fake Ollama in its own
process that charges a fixed time per request and per input. For each batch size it reports, as the median
of several rounds:

- requests the server received, against ceil(chunks / max_chunks);
- wall time, against the server's own service time (time spent inside its handler) and against a bare
  client floor (httpx + json.loads posting the same batches, no plugin);
- the daemon side's decode time (the test driver's JSON parsing, which the real Go daemon does instead).

It also measures the largest stdout line a full batch produces for several vector sizes, against the
daemon's 5 MiB limit, and prints which batch size it would choose as the default. Results go to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
import pydantic_core  # noqa: E402

from bench.embed_server import RESET_PATH, STATS_PATH, EmbedServerProcess  # noqa: E402
from tests.e2e.driver import MAX_STDOUT_LINE_BYTES, PluginProcess  # noqa: E402
from tests.fake_ollama.embed_handler import VectorPool  # noqa: E402

DEFAULT_JSON = REPO_ROOT / "bench" / "results" / "embedding_indexing.json"
_VOCABULARY = (
    "the of and to in is that for it as with was on be by this are from or at an which have not but "
    "knowledge base index vector search query document chunk retrieval model server batch token context "
    "embedding ollama dify plugin answer question user data text segment paragraph section table figure "
    "system network memory request response latency throughput measure result value number report"
)
WORDS = tuple(_VOCABULARY.split(" "))


def make_chunks(count: int, chars: int, seed: int = 7) -> list[str]:
    """`count` distinct English-like chunks of about `chars` characters."""
    rng = random.Random(seed)
    chunks = []
    for index in range(count):
        words = [f"Section {index}."]
        length = len(words[0])
        while length < chars:
            word = rng.choice(WORDS)
            words.append(word)
            length += len(word) + 1
        chunks.append(" ".join(words)[:chars])
    return chunks


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux /proc); None where that is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class MeasuringPlugin(PluginProcess):
    """The driver, also recording the size of each session line and the time spent decoding it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_line_bytes = 0
        self.decode_seconds = 0.0

    def _dispatch_line(self, line: bytes) -> None:
        started = time.perf_counter()
        super()._dispatch_line(line)
        self.decode_seconds += time.perf_counter() - started
        self.max_line_bytes = max(self.max_line_bytes, len(line))

    def reset_measures(self) -> None:
        self.max_line_bytes = 0
        self.decode_seconds = 0.0


@dataclass
class Round:
    wall_seconds: float
    service_seconds: float
    daemon_decode_seconds: float
    plugin_cpu_seconds: float | None
    requests: int
    inputs: int


@dataclass
class BatchSizeResult:
    batch_size: int
    max_chunks: int
    chunks: int
    expected_requests: int
    requests: int
    wall_seconds: float
    service_seconds: float
    floor_seconds: float
    daemon_decode_seconds: float
    plugin_cpu_seconds: float | None
    rounds: list[Round] = field(default_factory=list)

    @property
    def wall_over_service(self) -> float:
        return self.wall_seconds / self.service_seconds

    @property
    def wall_without_decode_over_service(self) -> float:
        """The ratio with the test driver's JSON decoding left out (the real daemon decodes in Go)."""
        return (self.wall_seconds - self.daemon_decode_seconds) / self.service_seconds

    @property
    def plugin_cpu_ms_per_batch(self) -> float | None:
        """CPU the plugin process spent per batch: our code, the SDK's (de)serialisation, httpx."""
        if self.plugin_cpu_seconds is None:
            return None
        return 1000 * self.plugin_cpu_seconds / self.expected_requests


def _credentials(url: str, batch_size: int) -> dict[str, str]:
    return {"base_url": url, "embedding_batch_size": str(batch_size)}


def _model_fields(model: str, credentials: dict[str, str]) -> dict[str, Any]:
    return {"provider": "ollama", "model": model, "model_type": "text-embedding", "credentials": credentials}


def _server_stats(http: httpx.Client, url: str) -> dict[str, Any]:
    return http.get(url + STATS_PATH).json()


def _check_vectors(batch: Sequence[str], vectors: list[list[float]], pool: VectorPool, firsts: list[float]) -> None:
    if len(vectors) != len(batch):
        raise AssertionError(f"{len(vectors)} vectors for {len(batch)} texts")
    for text, vector in zip(batch, vectors, strict=True):
        if vector[0] != firsts[pool.index_for(text)]:
            raise AssertionError("a vector does not belong to its text: order was not kept")


def index_like_dify(
    plugin: MeasuringPlugin,
    http: httpx.Client,
    server: EmbedServerProcess,
    chunks: list[str],
    batch_size: int,
    pool: VectorPool,
    firsts: list[float],
) -> tuple[int, Round]:
    credentials = _credentials(server.url, batch_size)
    fields = _model_fields(server.model, credentials)
    schema = plugin.request("get_ai_model_schemas", fields).raise_for_error().last_payload["model_schema"]
    max_chunks = schema["model_properties"]["max_chunks"]
    http.post(server.url + RESET_PATH)
    plugin.reset_measures()
    cpu_before = process_cpu_seconds(plugin.pid)
    started = time.perf_counter()
    for start in range(0, len(chunks), max_chunks):
        batch = chunks[start : start + max_chunks]
        plugin.request("get_text_embedding_num_tokens", {**fields, "texts": batch}, validate=False).raise_for_error()
        result = plugin.request(
            "invoke_text_embedding", {**fields, "texts": batch, "input_type": "document"}, validate=False
        ).raise_for_error()
        _check_vectors(batch, result.last_payload["embeddings"], pool, firsts)
    wall = time.perf_counter() - started
    cpu_after = process_cpu_seconds(plugin.pid)
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    stats = _server_stats(http, server.url)
    return max_chunks, Round(
        wall, stats["service_seconds"], plugin.decode_seconds, cpu, stats["requests"], stats["inputs"]
    )


def bare_client_floor(http: httpx.Client, server: EmbedServerProcess, chunks: list[str], batch_size: int) -> float:
    """The least any client pays: POST each batch and parse the JSON answer (with the fastest parser at hand)."""
    started = time.perf_counter()
    for start in range(0, len(chunks), batch_size):
        response = http.post(
            server.url + "/api/embed", json={"model": server.model, "input": chunks[start : start + batch_size]}
        )
        pydantic_core.from_json(response.content)
    return time.perf_counter() - started


def summarise(batch_size: int, chunks: int, max_chunks: int, measured: list[Round], floors: list[float]):
    cpu = [r.plugin_cpu_seconds for r in measured if r.plugin_cpu_seconds is not None]
    return BatchSizeResult(
        batch_size=batch_size,
        max_chunks=max_chunks,
        chunks=chunks,
        expected_requests=math.ceil(chunks / max_chunks),
        requests=int(statistics.median(r.requests for r in measured)),
        wall_seconds=statistics.median(r.wall_seconds for r in measured),
        service_seconds=statistics.median(r.service_seconds for r in measured),
        floor_seconds=statistics.median(floors),
        daemon_decode_seconds=statistics.median(r.daemon_decode_seconds for r in measured),
        plugin_cpu_seconds=statistics.median(cpu) if cpu else None,
        rounds=measured,
    )


def measure_all(
    plugin: MeasuringPlugin,
    http: httpx.Client,
    server: EmbedServerProcess,
    chunks: list[str],
    batch_sizes: Sequence[int],
    rounds: int,
    pool: VectorPool,
    firsts: list[float],
) -> list[BatchSizeResult]:
    """Rounds interleave the batch sizes, so a burst of load on a shared machine hits them all alike.
    The one-text-per-request baseline runs in the first round only: it is slow and steady."""
    measured: dict[int, list[Round]] = {size: [] for size in batch_sizes}
    floors: dict[int, list[float]] = {size: [] for size in batch_sizes}
    max_chunks: dict[int, int] = {}
    for round_number in range(rounds):
        for size in batch_sizes:
            if size == 1 and round_number > 0:
                continue
            max_chunks[size], one = index_like_dify(plugin, http, server, chunks, size, pool, firsts)
            measured[size].append(one)
            floors[size].append(bare_client_floor(http, server, chunks, max_chunks[size]))
    return [summarise(size, len(chunks), max_chunks[size], measured[size], floors[size]) for size in batch_sizes]


def measure_line_sizes(
    plugin: MeasuringPlugin, dims_list: Sequence[int], batch_sizes: Sequence[int], chunk_chars: int
) -> list[dict[str, Any]]:
    """Size of the stdout line carrying one full batch of vectors, for each vector size."""
    rows = []
    for dims in dims_list:
        with EmbedServerProcess(dims, 0, 0) as server:
            for batch_size in batch_sizes:
                texts = make_chunks(batch_size, chunk_chars, seed=dims)
                fields = _model_fields(server.model, _credentials(server.url, batch_size))
                plugin.reset_measures()
                result = plugin.request("invoke_text_embedding", {**fields, "texts": texts, "input_type": "document"})
                result.raise_for_error()
                rows.append(
                    {
                        "dimensions": dims,
                        "batch_size": batch_size,
                        "line_bytes": plugin.max_line_bytes,
                        "share_of_limit": plugin.max_line_bytes / MAX_STDOUT_LINE_BYTES,
                        "bytes_per_float": plugin.max_line_bytes / (dims * batch_size),
                    }
                )
    return rows


def choose_default(results: Sequence[BatchSizeResult], line_rows: Sequence[dict[str, Any]], minimum: int = 16) -> int:
    """Smallest batch size >= `minimum` within 5 % of the fastest, whose full batch of the largest vectors
    measured stays under half the daemon's line limit."""
    largest = max(row["dimensions"] for row in line_rows)
    safe = {row["batch_size"] for row in line_rows if row["dimensions"] == largest and row["share_of_limit"] < 0.5}
    candidates = [r for r in results if r.batch_size >= minimum and (r.batch_size in safe or r.batch_size < min(safe))]
    best = min(r.wall_seconds for r in candidates)
    return min(r.batch_size for r in candidates if r.wall_seconds <= 1.05 * best)


def print_report(results: Sequence[BatchSizeResult], line_rows: Sequence[dict[str, Any]], args: Any) -> None:
    baseline = next((r for r in results if r.batch_size == 1), None)
    print(
        f"\nIndexing {args.chunks} chunks of {args.chunk_chars} chars, {args.dims}-dim vectors; server cost "
        f"{args.per_request_ms:g} ms/request + {args.per_input_ms:g} ms/input; median of {args.rounds} round(s)\n"
    )
    header = (
        f"{'max_chunks':>10} {'requests':>9} {'expected':>9} {'wall s':>7} {'service s':>9} {'wall/svc':>8} "
        f"{'-decode':>8} {'floor s':>7} {'decode s':>8} {'plugin CPU ms/batch':>19} {'vs 1/request':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        speedup = f"{baseline.wall_seconds / r.wall_seconds:.1f}x" if baseline else "-"
        cpu = "-" if r.plugin_cpu_ms_per_batch is None else f"{r.plugin_cpu_ms_per_batch:.1f}"
        print(
            f"{r.max_chunks:>10} {r.requests:>9} {r.expected_requests:>9} {r.wall_seconds:>7.2f} "
            f"{r.service_seconds:>9.2f} {r.wall_over_service:>8.2f} {r.wall_without_decode_over_service:>8.2f} "
            f"{r.floor_seconds:>7.2f} {r.daemon_decode_seconds:>8.2f} {cpu:>19} {speedup:>12}"
        )
    print(
        "\nwall/svc: wall time over the server's own service time; -decode: the same without the test "
        "driver's JSON decoding\n(the real daemon decodes in Go); floor: a bare httpx client posting the same "
        "batches; plugin CPU: user+system\ntime of the plugin process per batch (our code, the SDK's "
        "serialisation, httpx)."
    )
    print("\nOne full batch on the plugin's stdout (daemon limit 5 MiB):")
    print(f"{'dims':>6} {'batch':>6} {'bytes':>10} {'of limit':>9} {'bytes/float':>12}")
    for row in line_rows:
        print(
            f"{row['dimensions']:>6} {row['batch_size']:>6} {row['line_bytes']:>10} "
            f"{row['share_of_limit']:>9.1%} {row['bytes_per_float']:>12.2f}"
        )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Embedding indexing benchmark (see module docstring).")
    parser.add_argument("--short", action="store_true", help="quick check: 300 chunks, 2 batch sizes, 1 round")
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--chunk-chars", type=int, default=500)
    parser.add_argument("--dims", type=int, default=768)
    parser.add_argument("--per-request-ms", type=float, default=5.0)
    parser.add_argument("--per-input-ms", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,8,16,32,64,128")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--plugin-dir", type=Path, default=REPO_ROOT, help="plugin source tree to launch")
    args = parser.parse_args(argv)
    if args.short:
        args.chunks, args.rounds, args.batch_sizes = 300, 1, "1,32"
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    chunks = make_chunks(args.chunks, args.chunk_chars)
    pool = VectorPool(args.dims)
    firsts = [json.loads(fragment)[0] for fragment in pool.fragments]

    with (
        MeasuringPlugin(args.plugin_dir) as plugin,
        EmbedServerProcess(args.dims, args.per_request_ms, args.per_input_ms) as server,
        httpx.Client(timeout=60) as http,
    ):
        index_like_dify(plugin, http, server, chunks[:64], 32, pool, firsts)  # warm-up: imports, pools
        results = measure_all(plugin, http, server, chunks, batch_sizes, args.rounds, pool, firsts)
        line_rows = measure_line_sizes(
            plugin, [4096] if args.short else [768, 1024, 4096], [32] if args.short else [16, 32, 64], args.chunk_chars
        )

    print_report(results, line_rows, args)
    report: dict[str, Any] = {
        "settings": {key: value for key, value in vars(args).items() if key not in ("json", "plugin_dir")},
        "results": [
            {
                **{key: value for key, value in asdict(r).items() if key != "rounds"},
                "wall_over_service": r.wall_over_service,
                "wall_without_decode_over_service": r.wall_without_decode_over_service,
                "plugin_cpu_ms_per_batch": r.plugin_cpu_ms_per_batch,
                "rounds": [asdict(one) for one in r.rounds],
            }
            for r in results
        ],
        "line_sizes": line_rows,
    }
    if not args.short:
        report["chosen_default_batch_size"] = choose_default(results, line_rows)
        print(f"\nChosen default batch size: {report['chosen_default_batch_size']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"JSON written to {args.json}")
    return report


if __name__ == "__main__":
    main()
