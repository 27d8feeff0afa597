"""A fake Ollama in a child process, so its CPU time is not counted against the plugin.

The child prints one JSON line (at least `url`) once it listens, and exits when its stdin closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


class ServerProcess:
    """`with ServerProcess("bench.x", ["--flag", "1"]) as server:` -> `server.url`, `server.announced`."""

    def __init__(self, module: str, options: list[str]) -> None:
        self.module = module
        self.args = [sys.executable, "-m", module, *options]
        self.process: subprocess.Popen[str] | None = None
        self.announced: dict[str, Any] = {}
        self.url = ""

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            self.args, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first:
            self.process.wait(timeout=10)
            raise RuntimeError(f"{self.module} exited before listening (rc={self.process.returncode})")
        self.announced = json.loads(first)
        self.url = self.announced["url"]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
