"""The pooled clients share one TLS context, built at import, that trusts what httpx trusts by default."""

from __future__ import annotations

import ssl

import certifi
import httpx
import pytest

from ollama_client.pool import http_client_for, tls_context

pytestmark = pytest.mark.usefixtures("fresh_caches")


def test_new_pools_build_no_tls_context_of_their_own(monkeypatch: pytest.MonkeyPatch):
    """Each one cost ~30 ms (the CA bundle loaded again), also for http://, on the first chat of a process."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    shared = tls_context()
    built: list[object] = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(a or k) or real(*a, **k))
    for url in ("http://127.0.0.1:9", "http://127.0.0.2:9", "https://127.0.0.3:9"):
        http_client_for(url)
    assert built == []
    assert tls_context() is shared


def test_the_shared_context_verifies_like_httpxs_default(monkeypatch: pytest.MonkeyPatch):
    """https://ollama.com keeps working: certifi's bundle, hostnames checked, as httpx.Client() would."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    httpx_default = httpx.create_ssl_context()
    assert len(context.get_ca_certs()) == len(httpx_default.get_ca_certs()) > 50  # certifi's bundle


def test_a_changed_ssl_cert_file_is_honoured_as_httpx_does(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    default = tls_context()
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert tls_context() is not default
    assert tls_context() is tls_context()
