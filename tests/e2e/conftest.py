"""Fixtures that start the plugin as Dify's daemon would (`python -m main` in the plugin directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.driver import PluginProcess, StartPlugin

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin() -> Iterator[PluginProcess]:
    """The plugin from the source tree, shared by the tests of one module (startup costs ~1-2 s)."""
    with PluginProcess(REPO_ROOT) as process:
        yield process


@pytest.fixture
def start_plugin() -> Iterator[StartPlugin]:
    """Factory: `start_plugin(directory, env=..., startup_timeout=...)` -> a started PluginProcess.

    For unpacked .difypkg directories or stub plugins; every process started here is killed at teardown.
    """
    started: list[PluginProcess] = []

    def start(plugin_dir: Path | str, **options: object) -> PluginProcess:
        process = PluginProcess(plugin_dir, **options)  # type: ignore[arg-type]
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.close()
