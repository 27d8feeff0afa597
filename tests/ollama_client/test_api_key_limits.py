"""An API key longer than 1 KiB is refused where the configuration is made (masking its fragments in every
error costs time that grows with its length), and masking stays linear for the longest accepted key."""

from __future__ import annotations

import random
import string
import time

import pytest

from ollama_client import ClientConfig, OllamaConfigError
from ollama_client.redaction import MAX_API_KEY_CHARS, redact
from rerank_client import RerankServiceClient, resolve_service_endpoint
from rerank_client.errors import RerankConfigError

LONGEST = "".join(random.Random(7).choices(string.ascii_letters + string.digits, k=MAX_API_KEY_CHARS))


def test_a_key_over_1_kib_is_a_config_error_naming_the_fix():
    with pytest.raises(OllamaConfigError, match=r"1,025 characters long.*Paste only the key"):
        ClientConfig.create("http://localhost:11434", LONGEST + "x")
    with pytest.raises(RerankConfigError, match=r"40,000 characters long"):
        RerankServiceClient(resolve_service_endpoint("http://localhost:8080/rerank"), "k" * 40_000, 5.0)


def test_the_longest_accepted_key_works_and_its_fragments_are_masked_quickly():
    assert ClientConfig.create("http://localhost:11434", LONGEST).api_key == LONGEST
    text = ("x" * 4000 + LONGEST[300:320]) * 500  # 500 echoed pieces in 2 MiB
    started = time.process_time()
    masked = redact(text, LONGEST)
    assert time.process_time() - started < 1.0  # the regex of 1,017 windows took several seconds
    assert LONGEST[300:308] not in masked
    assert masked.count("***") == 500
