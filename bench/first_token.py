"""First-token latency: from the server flushing the first chunk to the plugin yielding it, against floor (a).

    python -m bench.first_token            # 60 requests per variant
    python -m bench.first_token --short    # 15 requests per variant

`bench.stream_server` (its own process) answers `bench:first` by waiting 30 ms (the model thinking), then
writing the first chunk and noting `time.monotonic()` right after the write returned (one clock for all
processes on Linux), waiting 30 ms more, then sending the rest. The reader notes `time.monotonic()` when it
has the first chunk in hand: floor (a) when httpx's `iter_lines()` gave the first line and `json.loads`
parsed it; the plugin when its public `invoke()` generator yielded the first Dify chunk. Requests alternate
between the two, so both see the same machine. Reported: the median latency of each, their difference, the
median of the paired differences and the floor's interquartile range as the measure of noise.
"""

from __future__ import annotations

from bench import common  # isort: skip - imports the SDK (gevent patching) first

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from bench.stream_server import FIRST, STATS_PATH, StreamServerProcess, write_json


def _first_then_rest(chunks: Iterator[Any]) -> float:
    next(chunks)
    arrived = time.monotonic()
    for _ in chunks:
        pass
    return arrived


def floor_a(url: str, http: httpx.Client) -> float:
    return _first_then_rest(common.floor_lines(http, FIRST))


def plugin(url: str, http: httpx.Client) -> float:
    return _first_then_rest(common.invoke_plugin(url, FIRST))


VARIANTS: dict[str, Callable[[str, httpx.Client], float]] = {"floor_a": floor_a, "plugin": plugin}


def measure(url: str, trials: int) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with common.plain_http(url) as http, common.plain_http(url) as stats:
        for read in VARIANTS.values():  # warm-up: connections, the /api/show cache
            read(url, http)
        for _ in range(trials):
            for name, read in VARIANTS.items():
                arrived = read(url, http)
                flushed = stats.get(STATS_PATH).json()["first_flushes"][-1]
                latencies[name].append(1e6 * (arrived - flushed))
    paired = [p - f for p, f in zip(latencies["plugin"], latencies["floor_a"], strict=True)]
    medians = {name: common.median(values) for name, values in latencies.items()}
    noise = common.spread(latencies["floor_a"])
    added = medians["plugin"] - medians["floor_a"]
    return {
        "trials": trials,
        "median_us": medians,
        "iqr_us": {name: common.spread(values) for name, values in latencies.items()},
        "added_us": added,
        "paired_median_us": common.median(paired),
        "noise_us": noise,
        "within_noise": added <= noise,
        "latencies_us": latencies,
    }


def print_report(result: dict[str, Any]) -> None:
    print(f"\nfirst-token latency, {result['trials']} requests each (µs from the server's flush to the chunk in hand)")
    for name, value in result["median_us"].items():
        print(f"  {name:<8} median {value:8.1f}   IQR {result['iqr_us'][name]:7.1f}")
    print(
        f"  plugin - floor_a: {result['added_us']:+.1f} µs (paired median {result['paired_median_us']:+.1f}); "
        f"noise (floor IQR) {result['noise_us']:.1f} µs"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="First-token latency benchmark (see module docstring).")
    parser.add_argument("--short", action="store_true", help="quick check: 15 requests per variant")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--first-delay-ms", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.short:
        args.trials = 15
    with StreamServerProcess(100, 10, first_delay_ms=args.first_delay_ms) as server:
        result = measure(server.url, args.trials)
    report = {"settings": vars(args), **result}
    print_report(report)
    print(f"JSON written to {write_json('first_token', report)}")
    return report


if __name__ == "__main__":
    main()
