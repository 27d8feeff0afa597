"""Every benchmark in turn, then one table of figures against issue 8's targets.

    python -m bench.run            # full run, about 6 minutes (also `python -m bench`, `make bench`)
    python -m bench.run --short    # quick check, about 1 minute (`make bench-short`)
    python -m bench.run --only stream,first_token

Each benchmark also runs alone (`python -m bench.<name> [--short]`) and writes its own JSON under
bench/results/; this runner adds bench/results/summary.json with the table below. Every figure is a
median of several rounds measured against a floor or reference in the same run (see bench/README.md).
Benchmarks run one after another in fresh child processes, so none inherits another's imports,
connections or memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
DEFAULT_EMBEDDING_BATCH = 32  # the plugin's default 'Batch size' (bench/README.md explains the choice)

# name -> (module, JSON file it writes)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "stream": ("bench.stream_overhead", "stream_overhead.json"),
    "first_token": ("bench.first_token", "first_token.json"),
    "embedding": ("bench.embedding_indexing", "embedding_indexing.json"),
    "memory": ("bench.memory", "memory.json"),
    "startup": ("bench.startup", "startup.json"),
    "cold_first_token": ("bench.cold_first_token", "cold_first_token.json"),
    "speech2text": ("bench.speech2text", "speech2text.json"),
}


@dataclass
class Row:
    benchmark: str
    figure: str
    measured: str
    target: str
    holds: bool | None  # None: informative, no target


def _stream_rows(report: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    burst = report.get("burst")
    if burst:
        us, ratios = burst["us_per_chunk"], burst["ratios"]
        rows += [
            Row(
                "stream, burst (reader behind)",
                f"plugin {us['plugin']:.1f} µs vs floor (b) {us['floor_b']:.1f} µs per Ollama chunk",
                f"{ratios['plugin/floor_b']:.2f}×",
                "≤ 0.5×",
                ratios["plugin/floor_b"] <= 0.5,
            ),
            Row(
                "stream, burst, with SDK serialisation",
                f"plugin {us['plugin+sdk']:.1f} µs vs floor (b) {us['floor_b+sdk']:.1f} µs",
                f"{ratios['plugin/floor_b with SDK']:.2f}×",
                "≤ 0.5×",
                ratios["plugin/floor_b with SDK"] <= 0.5,
            ),
            Row(
                "stream, one Dify chunk per Ollama chunk (merging off)",
                f"plugin {us['plugin_unmerged']:.1f} µs vs floor (b) {us['floor_b']:.1f} µs",
                f"{ratios['unmerged/floor_b']:.2f}×",
                "≤ 0.75×",
                ratios["unmerged/floor_b"] <= 0.75,
            ),
            Row(
                "stream, merging off, with SDK serialisation",
                f"plugin {us['plugin_unmerged+sdk']:.1f} µs vs floor (b) {us['floor_b+sdk']:.1f} µs",
                f"{ratios['unmerged/floor_b with SDK']:.2f}×",
                "≤ 0.75×",
                ratios["unmerged/floor_b with SDK"] <= 0.75,
            ),
            Row(
                "stream, burst: merging",
                "Dify chunks yielded per Ollama chunk",
                f"{burst['dify_chunks_per_ollama_chunk']:.3f}",
                "-",
                None,
            ),
        ]
    steady = report.get("steady")
    if steady:
        us, ratios = steady["us_per_chunk"], steady["ratios"]
        rows += [
            Row(
                "stream, steady (each chunk alone)",
                f"plugin {us['plugin']:.1f} µs vs floor (b) {us['floor_b']:.1f} µs (wake-up alone {us['wakeups']:.1f})",
                f"{ratios['plugin/floor_b']:.2f}×",
                "≤ 0.75×",
                ratios["plugin/floor_b"] <= 0.75,
            ),
            Row(
                "stream, steady, with SDK serialisation",
                f"plugin {us['plugin+sdk']:.1f} µs vs floor (b) {us['floor_b+sdk']:.1f} µs",
                f"{ratios['plugin/floor_b with SDK']:.2f}×",
                "≤ 0.75×",
                ratios["plugin/floor_b with SDK"] <= 0.75,
            ),
            Row(
                "stream, steady, net of the wake-up",
                "(plugin − wake-up) / (floor (b) − wake-up); with SDK",
                f"{ratios['plugin/floor_b net of wake-ups']:.2f}×; "
                f"{ratios['plugin/floor_b with SDK net of wake-ups']:.2f}×",
                "-",
                None,
            ),
        ]
    return rows


def _first_token_rows(report: dict[str, Any]) -> list[Row]:
    medians = report["median_us"]
    return [
        Row(
            "first token",
            f"plugin {medians['plugin']:.0f} µs vs floor (a) {medians['floor_a']:.0f} µs after the server's flush",
            f"{report['added_us']:+.0f} µs (noise {report['noise_us']:.0f} µs)",
            "≤ noise",
            report["within_noise"],
        )
    ]


def _embedding_rows(report: dict[str, Any]) -> list[Row]:
    """Requests for every batch size; time for the plugin's default (32), as Dify would index with it."""
    results = report["results"]
    requests_ok = all(r["requests"] == r["expected_requests"] for r in results)
    sizes = "/".join(str(r["max_chunks"]) for r in results)
    rows = [
        Row(
            "embedding, requests",
            f"{'/'.join(str(r['requests']) for r in results)} for max_chunks {sizes} ({results[0]['chunks']} chunks)",
            "= ceil(chunks / max_chunks)" if requests_ok else "differs",
            "= ceil(chunks / max_chunks)",
            requests_ok,
        )
    ]
    for r in results:
        if r["batch_size"] != DEFAULT_EMBEDDING_BATCH:
            continue
        rows.append(
            Row(
                f"embedding, max_chunks {r['max_chunks']} (default)",
                f"wall {r['wall_seconds']:.2f} s vs service {r['service_seconds']:.2f} s "
                f"(bare-client floor {r['floor_seconds']:.2f} s = {r['floor_seconds'] / r['service_seconds']:.2f}×)",
                f"{r['wall_over_service']:.2f}× ({r['wall_without_decode_over_service']:.2f}× without the "
                "test daemon's decoding)",
                "≤ 1.2×",
                r["wall_over_service"] <= 1.2,
            )
        )
    return rows


def _memory_rows(report: dict[str, Any]) -> list[Row]:
    return [
        Row(
            "memory",
            f"{report['streams']} concurrent streams of {report['chunks_per_stream']} chunks "
            f"(idle after one chat {report['rss_baseline_mb']:.0f} MB)",
            f"peak RSS {report['peak_rss_mb']:.1f} MB",
            "≤ 120 MB",
            report["peak_rss_mb"] <= 120,
        )
    ]


def _startup_rows(report: dict[str, Any]) -> list[Row]:
    medians = report["median_seconds"]
    return [
        Row(
            "start-up",
            f"plugin {medians['plugin']:.2f} s vs empty plugin {medians['empty']:.2f} s to the first heartbeat",
            f"{report['added_seconds']:+.2f} s",
            "≤ +0.2 s",
            report["added_seconds"] <= 0.2,
        )
    ]


def _speech2text_rows(report: dict[str, Any]) -> list[Row]:
    rows = []
    for r in report["results"]:
        rows.append(
            Row(
                f"speech2text, {r['file']}",
                f"{r['segments']} clips; plugin CPU {r['median_cpu_s'] * 1000:.0f} ms, of which the SDK receiving "
                f"the file {r['median_floor_cpu_s'] * 1000:.0f} ms (idle {r['rss_baseline_mb']:.0f} MB)",
                f"own CPU {r['plugin_own_cpu_s'] * 1000:.0f} ms, peak RSS {r['peak_rss_mb']:.0f} MB",
                "peak ≤ 256 MB" if r["file"].startswith("5-minute") else "-",
                r["peak_rss_mb"] <= 256 if r["file"].startswith("5-minute") else None,
            )
        )
    return rows


def _cold_first_token_rows(report: dict[str, Any]) -> list[Row]:
    cold, warm = report["cold"], report["warm"]
    official = cold.get("official")
    against = (
        f"official plugin {official['median_ms']:.0f} ms"
        if official
        else "official plugin not measured (set OFFICIAL_OLLAMA_PLUGIN)"
    )
    return [
        Row(
            "first token, fresh process",
            f"plugin {cold['plugin']['median_ms']:.0f} ms vs {against}; "
            f"second chat {warm['plugin']['median_ms']:.1f} ms",
            f"{cold['plugin']['median_ms']:.0f} ms",
            "-",
            None,
        )
    ]


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "stream": _stream_rows,
    "first_token": _first_token_rows,
    "embedding": _embedding_rows,
    "memory": _memory_rows,
    "startup": _startup_rows,
    "cold_first_token": _cold_first_token_rows,
    "speech2text": _speech2text_rows,
}


def run_benchmark(name: str, short: bool) -> dict[str, Any]:
    module, json_name = BENCHMARKS[name]
    path = RESULTS_DIR / json_name
    path.unlink(missing_ok=True)
    print(f"\n=== {name}: python -m {module}{' --short' if short else ''}", flush=True)
    subprocess.run([sys.executable, "-m", module, *(["--short"] if short else [])], cwd=REPO_ROOT, check=True)
    return json.loads(path.read_text())


def print_table(rows: Sequence[Row]) -> None:
    header = ("benchmark", "figure", "measured", "target", "holds")
    cells = [header] + [
        (r.benchmark, r.figure, r.measured, r.target, "-" if r.holds is None else ("yes" if r.holds else "NO"))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print()
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="quick check: each benchmark in its short mode")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {list(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")

    reports = {name: run_benchmark(name, args.short) for name in names}
    rows = [row for name in names for row in ROWS[name](reports[name])]
    print_table(rows)
    summary = {"short": args.short, "rows": [asdict(row) for row in rows], "reports": reports}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\nJSON written to {RESULTS_DIR / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
