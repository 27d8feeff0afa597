"""Start-up: `python -m main` to the first heartbeat, against a plugin with empty model classes on the same SDK.

    python -m bench.startup            # 9 launches of each
    python -m bench.startup --short    # 3 launches of each

The daemon counts a plugin as ready at its first `{"event":"heartbeat"}` line. The empty plugin is this one
with the same manifest, provider YAML, icons and main.py, but model and provider classes that do nothing
(and import nothing beyond the SDK), built in a temporary directory. Launches alternate between the two;
the difference of the medians is what the plugin's own imports and module-level work cost.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.stream_server import write_json  # noqa: E402
from tests.e2e.driver import PluginProcess  # noqa: E402

EMPTY_SOURCES = {
    "provider/ollama.py": (
        "from dify_plugin import ModelProvider\n\n\n"
        "class OllamaProvider(ModelProvider):\n"
        "    def validate_provider_credentials(self, credentials):\n"
        "        pass\n"
    ),
    "models/llm/llm.py": (
        "from dify_plugin import LargeLanguageModel\n\n\n"
        "class OllamaLargeLanguageModel(LargeLanguageModel):\n    pass\n"
    ),
    "models/text_embedding/text_embedding.py": (
        "from dify_plugin import TextEmbeddingModel\n\n\n"
        "class OllamaTextEmbeddingModel(TextEmbeddingModel):\n    pass\n"
    ),
    "models/rerank/rerank.py": (
        "from dify_plugin import RerankModel\n\n\nclass OllamaRerankModel(RerankModel):\n    pass\n"
    ),
    "models/speech2text/speech2text.py": (
        "from dify_plugin import Speech2TextModel\n\n\nclass OllamaSpeech2TextModel(Speech2TextModel):\n    pass\n"
    ),
}


def build_empty_plugin(target: Path) -> Path:
    """This plugin's manifest, provider YAML, icons and entry point, with empty model classes."""
    for name in ("manifest.yaml", "main.py"):
        shutil.copy2(REPO_ROOT / name, target / name)
    shutil.copytree(REPO_ROOT / "_assets", target / "_assets")
    (target / "provider").mkdir()
    shutil.copy2(REPO_ROOT / "provider" / "ollama.yaml", target / "provider" / "ollama.yaml")
    for relative, source in EMPTY_SOURCES.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return target


def time_to_heartbeat(plugin_dir: Path) -> float:
    started = time.perf_counter()
    process = PluginProcess(plugin_dir).start()
    ready = time.perf_counter() - started
    process.close()
    return ready


def measure(launches: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-empty-plugin-") as temp:
        empty = build_empty_plugin(Path(temp))
        dirs = {"plugin": REPO_ROOT, "empty": empty}
        for plugin_dir in dirs.values():  # warm-up: the OS file cache, .pyc files
            time_to_heartbeat(plugin_dir)
        seconds: dict[str, list[float]] = {name: [] for name in dirs}
        for _ in range(launches):
            for name, plugin_dir in dirs.items():
                seconds[name].append(time_to_heartbeat(plugin_dir))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    return {
        "launches": launches,
        "median_seconds": medians,
        "added_seconds": medians["plugin"] - medians["empty"],
        "seconds": seconds,
    }


def print_report(result: dict[str, Any]) -> None:
    medians = result["median_seconds"]
    print(
        f"\nstart-up to first heartbeat, median of {result['launches']} launches: plugin {medians['plugin']:.3f} s, "
        f"empty plugin {medians['empty']:.3f} s, added {result['added_seconds']:+.3f} s"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Start-up benchmark (see module docstring).")
    parser.add_argument("--short", action="store_true", help="quick check: 3 launches of each")
    parser.add_argument("--launches", type=int, default=9)
    args = parser.parse_args(argv)
    if args.short:
        args.launches = 3
    report = {"settings": vars(args), **measure(args.launches)}
    print_report(report)
    print(f"JSON written to {write_json('startup', report)}")
    return report


if __name__ == "__main__":
    main()
