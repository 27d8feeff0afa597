"""Shared by the file-URL tests: a clean policy environment, a connect recorder that lets nothing leave
loopback, and a DNS stand-in."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from models.media.address_policy import ALLOWED_NETWORKS_ENV

POLICY_ENVIRONMENT = (
    ALLOWED_NETWORKS_ENV,
    "SSRF_PROXY_HTTP_URL",
    "SSRF_PROXY_HTTPS_URL",
    "SSRF_PROXY_ALL_URL",
    "FILES_URL",
    "INTERNAL_FILES_URL",
)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the settings that change the policy, whatever the machine's environment holds."""
    for name in POLICY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every TCP connect the test makes; anything but loopback fails the test before a packet leaves."""
    made: list[tuple[str, int]] = []
    real_connect = socket.create_connection

    def recording_connect(address, *args, **kwargs):
        host, port = address[0], address[1]
        made.append((host, port))
        if host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"the test tried to connect to {host}:{port}")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording_connect)
    yield made


def resolver(answers: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A DNS stand-in: made-up names resolve to the given addresses; the calls are counted."""

    def resolve(host: str, port: int) -> list[str]:
        resolve.calls.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    resolve.calls = []
    return resolve
