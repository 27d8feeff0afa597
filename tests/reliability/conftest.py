"""One plugin process per test module, started like Dify's daemon starts it, recording all it writes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import RecordingPluginProcess, install_offline_dns

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingPluginProcess]:
    shim = install_offline_dns(tmp_path_factory.mktemp("offline-dns"))
    python_path = os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))
    with RecordingPluginProcess(REPO_ROOT, env={"PYTHONPATH": python_path}) as process:
        yield process
