"""Fixtures shared by every test: paths, a fake Ollama server, and an address that refuses connections."""

from __future__ import annotations

# Import the SDK first, as main.py does in production: it monkey-patches the process for gevent, and
# patching before httpx/ssl are imported keeps the tests on the same footing as the plugin runtime.
import dify_plugin  # noqa: F401  (isort: skip)

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.llm.schema import forget_failed_lookups
from models.rerank.auto import forget_resolutions
from ollama_client import clear_cache, close_pooled_clients
from rerank_client import forget_endpoints

# Always import the rig as `tests.…` (pytest's pythonpath puts the repository root on sys.path): a relative
# import would load a second copy of the module under another name, and `isinstance` checks would fail.
from tests.fake_ollama import SHARED_EXAMPLES_DIR, FakeOllama

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_examples() -> Path:
    """The verbatim upstream Ollama examples next to the repository; their absence is a broken checkout."""
    if not (SHARED_EXAMPLES_DIR / "README.md").is_file():
        pytest.fail(
            f"shared Ollama examples not found at {SHARED_EXAMPLES_DIR}; the test suite expects the workspace "
            "layout <workspace>/main (this repository) next to <workspace>/shared/ollama-examples",
            pytrace=False,
        )
    return SHARED_EXAMPLES_DIR


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def closed_port_url() -> Iterator[str]:
    """A 127.0.0.1 URL whose port refuses connections.

    The socket stays bound (but never listens) for the whole test, so no other process can take the port and
    every connect gets an immediate RST (ECONNREFUSED).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{placeholder.getsockname()[1]}"


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients retry as in production (same attempts, same Retry-After handling) without waiting in between, so
    no test sleeps through the real 0.5 s + 1 s back-off. A test of the waits builds its own RetryPolicy."""
    from ollama_client.client import RetryPolicy

    monkeypatch.setattr(
        "ollama_client.client.DEFAULT_RETRY_POLICY", RetryPolicy(backoff_seconds=0, max_retry_after_seconds=0)
    )


def forget_process_state() -> None:
    close_pooled_clients()
    clear_cache()
    forget_failed_lookups()
    forget_endpoints()
    forget_resolutions()


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """The test starts and ends with nothing an earlier one left in the process: no pooled connections, cached
    /api/show answers, remembered failed lookups, rerank endpoints or Auto choices. Fakes of earlier tests may
    have had the same port, so what was kept could belong to another server. Modules opt in with
    `pytestmark = pytest.mark.usefixtures("fresh_caches")`."""
    forget_process_state()
    yield
    forget_process_state()
