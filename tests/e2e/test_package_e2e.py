"""The package `make package` builds is what Dify's daemon would install: it starts from the unpacked
archive, answers the heartbeat, and validates credentials against a live (fake) Ollama."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.driver import PluginProcess, StartPlugin
from tests.fake_ollama import FakeOllama

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-e2e-secret-0123456789"


@pytest.fixture(scope="module")
def unpacked_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pkg")
    package = out / "ollama.difypkg"
    built = subprocess.run(
        [sys.executable, "tools/package.py", "--output", str(package)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "identifier: modelsmith/ollama:0.1.0@" in built.stdout
    unpacked = out / "unpacked"
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        assert not any(n.startswith(("tests/", "tools/", ".venv/", ".git/")) for n in names), names
        archive.extractall(unpacked)
    return unpacked


@pytest.fixture
def packaged_plugin(unpacked_package: Path, start_plugin: StartPlugin) -> PluginProcess:
    return start_plugin(unpacked_package)


def test_packaged_plugin_starts_and_validates_provider_credentials(packaged_plugin, fake_ollama: FakeOllama):
    assert packaged_plugin.heartbeats, "the daemon marks an instance ready on its first heartbeat"
    result = packaged_plugin.validate_provider_credentials({"base_url": fake_ollama.url})
    assert result.ok, result.error
    assert result.last_payload["result"] is True
    assert [r.path for r in fake_ollama.requests] == ["/api/version"]


def test_packaged_plugin_reports_a_closed_port_with_docker_advice(packaged_plugin, closed_port_url: str):
    result = packaged_plugin.validate_provider_credentials({"base_url": closed_port_url})
    assert result.error_type == "CredentialsValidateFailedError"  # the class Dify shows on the credential form
    assert "Cannot connect to Ollama at " + closed_port_url in result.error_message
    assert "connection refused" in result.error_message
    assert "host.docker.internal" in result.error_message
    # The process keeps serving after a failure.
    assert packaged_plugin.is_alive()


def test_packaged_plugin_model_validation_names_missing_model_and_lists_available(
    packaged_plugin, fake_ollama: FakeOllama
):
    result = packaged_plugin.validate_model_credentials("llama9", "llm", {"base_url": fake_ollama.url})
    assert result.error_type == "CredentialsValidateFailedError"
    assert "ollama pull llama9" in result.error_message
    assert "llama3.2" in result.error_message and "qwen3" in result.error_message


def test_api_key_is_sent_and_never_leaks_into_errors_or_logs(packaged_plugin, fake_ollama: FakeOllama):
    fake_ollama.bearer_token = "the-right-key"
    result = packaged_plugin.validate_provider_credentials({"base_url": fake_ollama.url, "api_key": SECRET})
    assert result.error_type == "CredentialsValidateFailedError"
    assert "401" in result.error_message and "API key" in result.error_message
    assert fake_ollama.last_request("/api/version").header("authorization") == f"Bearer {SECRET}"
    everything_written = (
        repr(result.error) + "\n".join(packaged_plugin.log_messages()) + packaged_plugin.stderr_tail(10_000)
    )
    assert SECRET not in everything_written

    ok = packaged_plugin.validate_provider_credentials({"base_url": fake_ollama.url, "api_key": "the-right-key"})
    assert ok.ok, ok.error


def test_bad_base_url_and_timeout_are_explained(packaged_plugin):
    result = packaged_plugin.validate_provider_credentials({"base_url": "ftp://host:11434"})
    assert result.error_type == "CredentialsValidateFailedError"
    assert "scheme 'ftp' is not supported" in result.error_message
    result = packaged_plugin.validate_provider_credentials({"base_url": "http://127.0.0.1:9", "timeout": "soon"})
    assert "Request timeout 'soon' is not a number of seconds" in result.error_message
