"""First token from a cold plugin process: this plugin against the official `langgenius/ollama` plugin.

    python -m bench.cold_first_token --official PATH       # PATH: the official plugin's models/ollama folder
    OFFICIAL_OLLAMA_PLUGIN=PATH make bench                  # the same inside the whole benchmark run
    python -m bench.cold_first_token --short                # this plugin only, 3 launches

Each launch starts `<python> -m main` in the plugin's folder as Dify's daemon does (tests/e2e/driver.py) and
waits for its first heartbeat (ready). It then sends one streamed chat and measures the time from writing the
request line to reading the first chunk line on the plugin's stdout: the first chat of a fresh process, with
nothing cached (no /api/show answer, no connection, the invoke path's lazy imports not yet done). A second chat
in the same process gives the warm figure. Launches alternate between the plugins, so both see the same machine.

Both plugins talk to the same fake Ollama on 127.0.0.1 (tests/fake_ollama, in this process): /api/show answers
after `--show-delay-ms` (default 0: the fake's own speed; a real Ollama reads the model file's header), and
/api/chat sends its first chunk at once, then holds the answer open until the launch is over. Neither plugin
therefore reaches its end-of-stream work (the official plugin counts tokens with a GPT-2 tokenizer there, which
could try to download). The children get a proxy on a closed loopback port for anything but 127.0.0.1, so
nothing can leave the machine.

The official plugin is not part of this repository: fetch it yourself (repository langgenius/dify-official-plugins,
folder models/ollama). It runs on this repository's virtualenv (the same dify_plugin and requests); its one other
dependency, numpy, is installed with pip into bench/results/official-deps on first use.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
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
from tests.fake_ollama import FakeOllama, Scenario, chat_chunk  # noqa: E402

MODEL = "qwen3"
HOLD_SECONDS = 60.0  # the chat answer stays open this long after its first chunk (the launch ends first)
DEPS_DIR = REPO_ROOT / "bench" / "results" / "official-deps"
OFFICIAL_EXTRA_REQUIREMENTS = ("numpy>=2.4.6",)  # its pyproject: dify_plugin, numpy, requests
PROMPT = [{"role": "user", "content": "Say hello."}]


class TimedPluginProcess(PluginProcess):
    """Notes when the first stream payload of each session arrives on stdout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_payload_at: dict[str, float] = {}

    def _record_session_message(self, session_id: object, data: object, *, oversized: bool) -> None:
        if isinstance(data, dict) and data.get("type") == "stream" and isinstance(session_id, str):
            self.first_payload_at.setdefault(session_id, time.monotonic())
        super()._record_session_message(session_id, data, oversized=oversized)


def first_token_ms(plugin: TimedPluginProcess, credentials: dict[str, str], timeout: float = 30.0) -> float:
    data = {
        "provider": "ollama",
        "model_type": "llm",
        "model": MODEL,
        "credentials": credentials,
        "model_parameters": {},
        "prompt_messages": PROMPT,
        "tools": None,
        "stop": None,
        "stream": True,
    }
    sent = time.monotonic()
    pending = plugin.submit("invoke_llm", data, validate=False)
    deadline = sent + timeout
    while pending.session_id not in plugin.first_payload_at:
        if time.monotonic() > deadline or not plugin.is_alive():
            raise RuntimeError(f"no first chunk within {timeout} s; stderr tail:\n{plugin.stderr_tail()}")
        time.sleep(0.0002)
    return 1000 * (plugin.first_payload_at[pending.session_id] - sent)


def held_answer() -> Scenario:
    parts = [chat_chunk(MODEL, "Hello"), chat_chunk(MODEL, "!"), chat_chunk(MODEL, done=True, eval_count=2)]
    return Scenario.ndjson(parts, part_delay=[0.0, HOLD_SECONDS])


def launch(plugin_dir: Path, env: dict[str, str], credentials: dict[str, str]) -> tuple[float, float]:
    """(cold, warm) first-token milliseconds of one fresh process."""
    with TimedPluginProcess(plugin_dir, env=env) as plugin:
        cold = first_token_ms(plugin, credentials)
        warm = first_token_ms(plugin, credentials)
    return cold, warm


def official_credentials(url: str) -> dict[str, str]:
    # Its form's fields, with its defaults (provider/ollama.yaml of the official plugin).
    return {
        "base_url": url,
        "mode": "chat",
        "context_size": "4096",
        "max_tokens": "4096",
        "vision_support": "false",
        "function_call_support": "false",
    }


def prepare_official(source: Path, work: Path) -> tuple[Path | None, str]:
    """A copy of the official plugin and its extra dependencies, or (None, why not)."""
    if not (source / "main.py").is_file() or not (source / "provider" / "ollama.yaml").is_file():
        return None, f"{source} is not the official plugin's models/ollama folder"
    copy = work / "official"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("tests", ".env", "__pycache__"))
    probe = [sys.executable, "-c", "import numpy"]
    if subprocess.run(probe, env={**os.environ, "PYTHONPATH": str(DEPS_DIR)}, capture_output=True).returncode:
        DEPS_DIR.mkdir(parents=True, exist_ok=True)
        install = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(DEPS_DIR)]
        done = subprocess.run([*install, *OFFICIAL_EXTRA_REQUIREMENTS], capture_output=True, text=True)
        if done.returncode:
            return None, "its dependencies could not be installed from PyPI: " + done.stderr.strip()[-500:]
    return copy, ""


def summarise(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
    }


def measure(launches: int, official_source: Path | None, show_delay_ms: float) -> dict[str, Any]:
    # Anything but loopback goes to a closed port: a plugin that tried to download something would fail, not leak.
    env = {
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    report: dict[str, Any] = {"launches": launches, "show_delay_ms": show_delay_ms}
    with tempfile.TemporaryDirectory(prefix="cold-first-token-") as work, FakeOllama() as fake:
        shown = fake.model(MODEL)
        assert shown is not None
        fake.set_route(
            "POST", "/api/show", Scenario.json(shown.show_response()).with_options(headers_delay=show_delay_ms / 1000)
        )
        fake.set_route("POST", "/api/chat", held_answer())
        variants: dict[str, tuple[Path, dict[str, str], dict[str, str]]] = {
            "plugin": (REPO_ROOT, env, {"base_url": fake.url})
        }
        if official_source is not None:
            official_dir, why_not = prepare_official(official_source, Path(work))
            if official_dir is None:
                report["official_skipped"] = why_not
                print(f"official plugin not measured: {why_not}")
            else:
                official_env = {**env, "PYTHONPATH": str(DEPS_DIR)}
                variants["official"] = (official_dir, official_env, official_credentials(fake.url))
        cold: dict[str, list[float]] = {name: [] for name in variants}
        warm: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(launches):
            for name, (plugin_dir, plugin_env, credentials) in variants.items():
                first, second = launch(plugin_dir, plugin_env, credentials)
                cold[name].append(first)
                warm[name].append(second)
        report["show_requests"] = len(fake.requests_to("/api/show"))
    report["cold"] = {name: summarise(samples) for name, samples in cold.items()}
    report["warm"] = {name: summarise(samples) for name, samples in warm.items()}
    report["samples_ms"] = {"cold": cold, "warm": warm}
    return report


def print_report(report: dict[str, Any]) -> None:
    print(
        f"\nfirst token of a fresh plugin process, {report['launches']} launches each "
        f"(ms from the request line written to the first chunk line read; /api/show delay "
        f"{report['show_delay_ms']:g} ms)"
    )
    for phase in ("cold", "warm"):
        for name, figures in report[phase].items():
            print(
                f"  {phase:<4} {name:<9} median {figures['median_ms']:7.1f}   "
                f"min {figures['min_ms']:7.1f}   max {figures['max_ms']:7.1f}"
            )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Cold-process first-token benchmark (see module docstring).")
    parser.add_argument(
        "--official",
        type=Path,
        default=os.environ.get("OFFICIAL_OLLAMA_PLUGIN") or None,
        help="the official plugin's models/ollama folder (default: $OFFICIAL_OLLAMA_PLUGIN)",
    )
    parser.add_argument("--launches", type=int, default=9)
    parser.add_argument("--short", action="store_true", help="quick check: 3 launches")
    parser.add_argument("--show-delay-ms", type=float, default=0.0, help="how long the fake takes for /api/show")
    args = parser.parse_args(argv)
    if args.short:
        args.launches = 3
    if args.official is None:
        print("official plugin not measured: pass --official PATH (see the module docstring)")
    report = measure(args.launches, args.official, args.show_delay_ms)
    report["settings"] = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    print_report(report)
    print(f"JSON written to {write_json('cold_first_token', report)}")
    return report


if __name__ == "__main__":
    if importlib.util.find_spec("dify_plugin") is None:
        sys.exit("run with the project's virtualenv (make setup)")
    main()
