"""Fixtures of the tools/ tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.demo_plugin import make_plugin


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A valid demo plugin, written afresh for each test."""
    return make_plugin(tmp_path / "plugin")
