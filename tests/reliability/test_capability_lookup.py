"""A failed /api/show is remembered only briefly: the schema does not ask a down server on every request,
and asks again once the failure has expired (issue 13, point 9: this mutation used to survive)."""

from __future__ import annotations

import time

import pytest

from models.llm import schema
from tests.fake_ollama import FakeOllama, Scenario

pytestmark = pytest.mark.usefixtures("fresh_caches")


def test_after_a_failed_lookup_capabilities_are_asked_again_once_the_failure_expires(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(schema, "FAILED_LOOKUP_TTL_SECONDS", 0.3)
    credentials = {"base_url": fake_ollama.url}
    fake_ollama.enqueue("POST", "/api/show", Scenario.error(500, "runner busy"))

    assert schema.lookup_model_info(credentials, "qwen3") is None
    assert len(fake_ollama.requests_to("/api/show")) == 1
    assert schema.lookup_model_info(credentials, "qwen3") is None  # remembered: the server is not asked
    assert len(fake_ollama.requests_to("/api/show")) == 1

    time.sleep(0.35)
    info = schema.lookup_model_info(credentials, "qwen3")  # expired: asked again, and it answers now
    assert info is not None and info.has("tools")
    assert len(fake_ollama.requests_to("/api/show")) == 2
