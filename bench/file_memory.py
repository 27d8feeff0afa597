"""Memory: peak RSS of the plugin process for one chat whose prompt carries the most file data the default
limits allow, and for the oversized prompts the limits refuse.

    python -m bench.file_memory

Each case runs in a fresh plugin process (`python -m main`, spoken to like Dify's daemon by
`tests/e2e/driver.py`), so VmHWM in /proc/<pid>/status (the peak resident set) belongs to that case alone.
Images are served by the fake Ollama at a Dify-style signed file URL on 127.0.0.1 (MULTIMODAL_SEND_FORMAT=url)
or sent inline as base64 (Dify's default); the chat then goes to the fake's vision model. Dify's daemon gives
the plugin 256 MB (manifest `resource.memory`).
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.memory import status_bytes  # noqa: E402
from tests.e2e.driver import PluginProcess  # noqa: E402
from tests.fake_ollama import FakeOllama, Scenario  # noqa: E402

MIB = 1024 * 1024
PNG_HEADER = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SIGNED = "?timestamp=1700000000&nonce=bench&sign=bench"


def image_bytes(size: int, seed: int) -> bytes:
    # Incompressible filler, so nothing along the way gets it cheaper than a real photo.
    filler = (bytes([seed]) + b"\x13\x37\x42") * (size // 4 + 1)
    return (PNG_HEADER + filler)[:size]


def file_path(index: int) -> str:
    return f"/files/00000000-0000-4000-8000-{index:012d}/image-preview"


def prompt(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "data": "What is in these pictures?"}, *parts]}]


def run_case(name: str, count: int, size: int, inline: bool) -> dict[str, Any]:
    with FakeOllama() as fake, PluginProcess(REPO_ROOT) as plugin:
        parts = []
        for index in range(count):
            data = image_bytes(size, index)
            if inline:
                parts.append(
                    {
                        "type": "image",
                        "format": "png",
                        "mime_type": "image/png",
                        "base64_data": base64.b64encode(data).decode(),
                    }
                )
            else:
                fake.set_route("GET", file_path(index), Scenario(parts=(data,), content_type="image/png"))
                parts.append(
                    {
                        "type": "image",
                        "format": "png",
                        "mime_type": "image/png",
                        "url": fake.url + file_path(index) + SIGNED,
                    }
                )
            del data
        credentials = {"base_url": fake.url}
        plugin.invoke_llm("llava", credentials, prompt([])).raise_for_error()  # warm-up: imports, pools
        baseline = status_bytes(plugin.pid, "VmRSS")
        result = plugin.invoke_llm("llava", credentials, prompt(parts))
        peak = status_bytes(plugin.pid, "VmHWM")
        sent = [len(request.body) for request in fake.requests_to("/api/chat")][1:]
        outcome = "answered" if result.error_type is None else f"{result.error_type}: {result.error_description[:90]}"
        return {
            "case": name,
            "baseline_mib": round(baseline / MIB, 1),
            "peak_mib": round(peak / MIB, 1),
            "chat_body_mib": round(sent[0] / MIB, 1) if sent else 0.0,
            "outcome": outcome,
        }


CASES = [
    ("2 URL images of 11.9 MiB (the 24 MB default total)", 2, int(11.9 * MIB), False),
    ("2 base64 images of 11.9 MiB", 2, int(11.9 * MIB), True),
    ("1 URL image of 19.9 MiB (the 20 MB default per file)", 1, int(19.9 * MIB), False),
    ("16 URL images of 1.45 MiB (the default count)", 16, int(1.45 * MIB), False),
    ("8 URL images of 19 MiB (refused: total)", 8, 19 * MIB, False),
    ("4 base64 images of 19 MiB (refused: total)", 4, 19 * MIB, True),
]


def main() -> None:
    print(f"{'case':55} {'baseline':>9} {'peak':>7} {'body':>6}  outcome")
    for case in CASES:
        row = run_case(*case)
        print(
            f"{row['case']:55} {row['baseline_mib']:>7} M {row['peak_mib']:>5} M {row['chat_body_mib']:>4} M  "
            f"{row['outcome']}"
        )


if __name__ == "__main__":
    main()
