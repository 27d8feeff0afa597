"""Stream overhead: the plugin's CPU per Ollama chunk against two floors measured in the same run.

    python -m bench.stream_overhead            # full: 20,000-chunk burst, 2,000-chunk steady stream, 5 rounds
    python -m bench.stream_overhead --short    # 4,000 / 500 chunks, 2 rounds (~15 s)

A long streamed chat (a thinking phase, then the answer, then the done chunk; one NDJSON line per HTTP
chunk) comes from `bench.stream_server` in its own process, in two ways:

- burst: the server writes the whole answer at once, so the reader is always behind and finds many
  chunks per read (what happens when Dify or the machine is busy, or the model is fast);
- steady: one chunk at a time with a pause after each, so every chunk arrives alone (a model generating
  tokens); nothing can be merged, every chunk pays a wake-up.

In each round every variant reads the same answer, in turn (interleaved, so noise hits all alike):

- floor_a: httpx's `iter_lines()` + `json.loads` per line;
- floor_b: floor_a + one Dify `LLMResultChunk` per Ollama chunk (the least any plugin must do);
- plugin: the LLM model's public `invoke()` and the whole generator (schema, request, transport, parsing,
  the stream translator, the SDK's invoke wrapper);
- floor_b+sdk, plugin+sdk: the same, with every yielded object serialised as the SDK sends it to the daemon
  (`model_dump`, `SessionMessage`, `model_dump_json`, write + flush; to /dev/null).

It reports the median CPU time (user + system of this process) per Ollama chunk, the ratios plugin /
floor_b, and how many Dify chunks the plugin yielded per Ollama chunk. The plugin's reassembled text is
checked against the served transcript in every run.
"""

from __future__ import annotations

from bench import common  # isort: skip - imports the SDK (gevent patching) first

import argparse
import contextlib
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from dify_plugin.entities.model.llm import LLMResultChunk

from bench.stream_server import FLOOD, PACED, StreamServerProcess, expected_text, transcript, write_json

BURST_VARIANTS = ("floor_a", "floor_b", "plugin", "plugin_unmerged", "floor_b+sdk", "plugin+sdk", "plugin_unmerged+sdk")
STEADY_VARIANTS = ("wakeups", "floor_a", "floor_b", "plugin", "floor_b+sdk", "plugin+sdk")


@dataclass
class Run:
    cpu_seconds: float
    wall_seconds: float
    dify_chunks: int


def _consume(chunks: Iterator[Any], send: Callable[[Any], None] | None) -> tuple[int, list[str]]:
    texts: list[str] = []
    count = 0
    for chunk in chunks:
        count += 1
        if send is not None:
            send(chunk)
        if isinstance(chunk, LLMResultChunk):
            texts.append(chunk.delta.message.content)
    return count, texts


def _chunks(variant: str, url: str, model: str, http: httpx.Client | None) -> Iterator[Any]:
    if variant == "wakeups":
        return common.floor_wakeups(url, model)
    if variant == "floor_a":
        assert http is not None
        return common.floor_lines(http, model)
    if variant.startswith("floor_b"):
        assert http is not None
        return common.floor_chunks(http, model)
    return common.invoke_plugin(url, model)


def run_variant(variant: str, url: str, model: str, expected: str) -> Run:
    http = common.plain_http(url) if variant.startswith("floor") else None
    send = common.send_to_daemon(common.NullWriter(), "bench-session") if variant.endswith("+sdk") else None
    merging = common.merging_off() if variant.startswith("plugin_unmerged") else contextlib.nullcontext()
    gc.collect()
    with merging:
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        count, texts = _consume(_chunks(variant, url, model, http), send)
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started_wall
    if http is not None:
        http.close()
    if variant.startswith("plugin") and "".join(texts) != expected:
        raise AssertionError(f"{variant}: the reassembled stream differs from the served text")
    return Run(cpu, wall, count)


def _ratio(medians: dict[str, float], numerator: str, denominator: str, less: str | None = None) -> float:
    base = medians[less] if less else 0.0
    return (medians[numerator] - base) / (medians[denominator] - base)


def measure(
    url: str, model: str, variants: Sequence[str], ollama_chunks: int, expected: str, rounds: int
) -> dict[str, Any]:
    for variant in variants:  # warm-up: imports, connections, the /api/show cache
        run_variant(variant, url, model, expected)
    runs: dict[str, list[Run]] = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant in variants:
            runs[variant].append(run_variant(variant, url, model, expected))
    per_chunk = {v: [1e6 * r.cpu_seconds / ollama_chunks for r in runs[v]] for v in variants}
    medians = {v: common.median(per_chunk[v]) for v in variants}
    result: dict[str, Any] = {
        "ollama_chunks": ollama_chunks,
        "rounds": rounds,
        "us_per_chunk": medians,
        "us_per_chunk_iqr": {v: common.spread(per_chunk[v]) for v in variants},
        "ratios": {
            "plugin/floor_b": _ratio(medians, "plugin", "floor_b"),
            "plugin/floor_b with SDK": _ratio(medians, "plugin+sdk", "floor_b+sdk"),
            "plugin/floor_a": _ratio(medians, "plugin", "floor_a"),
        },
        "dify_chunks_per_ollama_chunk": common.median([r.dify_chunks for r in runs["plugin"]]) / ollama_chunks,
        "wall_seconds": {v: common.median([r.wall_seconds for r in runs[v]]) for v in variants},
        "runs_us_per_chunk": per_chunk,
    }
    ratios = result["ratios"]
    if "plugin_unmerged" in variants:
        ratios["unmerged/floor_b"] = _ratio(medians, "plugin_unmerged", "floor_b")
        ratios["unmerged/floor_b with SDK"] = _ratio(medians, "plugin_unmerged+sdk", "floor_b+sdk")
    if "wakeups" in variants:
        ratios["plugin/floor_b net of wake-ups"] = _ratio(medians, "plugin", "floor_b", "wakeups")
        ratios["plugin/floor_b with SDK net of wake-ups"] = _ratio(medians, "plugin+sdk", "floor_b+sdk", "wakeups")
    return result


def print_report(report: dict[str, Any]) -> None:
    for mode in ("burst", "steady"):
        result = report.get(mode)
        if result is None:
            continue
        print(
            f"\n{mode}: {result['ollama_chunks']} Ollama chunks, median of {result['rounds']} rounds, "
            "CPU µs per Ollama chunk (IQR)"
        )
        for variant, value in result["us_per_chunk"].items():
            print(f"  {variant:<20} {value:8.2f}  ({result['us_per_chunk_iqr'][variant]:.2f})")
        for name, value in result["ratios"].items():
            print(f"  {name:<40} {value:.2f}")
        print(f"  Dify chunks per Ollama chunk (plugin)    {result['dify_chunks_per_ollama_chunk']:.3f}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Stream overhead benchmark (see module docstring).")
    parser.add_argument("--short", action="store_true", help="quick check: fewer chunks, 2 rounds")
    parser.add_argument("--chunks", type=int, default=20_000, help="chunks of the burst answer")
    parser.add_argument("--steady-chunks", type=int, default=2_000, help="chunks of the steady answer")
    parser.add_argument("--pace-us", type=float, default=800.0, help="pause after each steady chunk")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", default="burst,steady", help="which arrival patterns to measure")
    args = parser.parse_args(argv)
    if args.short:
        args.chunks, args.steady_chunks, args.rounds = 4_000, 500, 2

    report: dict[str, Any] = {"settings": vars(args)}
    with StreamServerProcess(args.chunks, args.steady_chunks, args.pace_us) as server:
        plan = (
            ("burst", FLOOD, BURST_VARIANTS, args.chunks),
            ("steady", PACED, STEADY_VARIANTS, args.steady_chunks),
        )
        for mode, model, variants, chunks in plan:
            if mode not in args.modes.split(","):
                continue
            served = transcript(chunks, model)
            expected = expected_text(served.thinking, served.answer)
            report[mode] = measure(server.url, model, variants, len(served.lines), expected, args.rounds)
    print_report(report)
    path = write_json("stream_overhead", report)
    print(f"JSON written to {path}")
    return report


if __name__ == "__main__":
    main()
