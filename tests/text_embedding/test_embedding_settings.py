"""Parsing of the embedding credential fields."""

from __future__ import annotations

import pytest

from models.input_errors import UserInputError
from models.text_embedding.settings import (
    DAEMON_LINE_LIMIT_BYTES,
    EmbeddingSettings,
    largest_safe_batch,
    response_bytes,
)
from ollama_client.embed import DEFAULT_BATCH_SIZE
from ollama_client.keep_alive import keep_alive_value


def test_an_empty_form_gives_the_defaults():
    settings = EmbeddingSettings.from_credentials({"base_url": "http://x"})
    assert settings == EmbeddingSettings(
        context_size=None,
        batch_size=DEFAULT_BATCH_SIZE,
        truncate=True,
        dimensions=None,
        keep_alive=None,
        query_prefix="",
        document_prefix="",
    )
    assert settings.runner_options() == {}


def test_filled_fields_are_typed():
    settings = EmbeddingSettings.from_credentials(
        {
            "embedding_context_size": " 8192 ",
            "embedding_batch_size": "64",
            "embedding_truncate": "false",
            "embedding_dimensions": "256",
            "embedding_keep_alive": "-1",
            "embedding_query_prefix": "search_query: ",
            "embedding_document_prefix": "Instruct: find passages\\nDocument:",
        }
    )
    assert settings.context_size == 8192 and settings.runner_options() == {"num_ctx": 8192}
    assert settings.batch_size == 64
    assert settings.truncate is False
    assert settings.dimensions == 256
    assert settings.keep_alive == -1
    assert settings.query_prefix == "search_query: "  # the trailing space is kept
    assert settings.document_prefix == "Instruct: find passages\nDocument:"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), (None, None), ("300", 300), ("-1", -1), ("0", 0), ("1.5", 1.5), ("5m", "5m"), ("1h30m", "1h30m")],
)
def test_keep_alive_numbers_go_out_as_numbers_and_durations_as_strings(raw, expected):
    assert keep_alive_value(raw) == expected
    assert type(keep_alive_value(raw)) is type(expected)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("embedding_batch_size", "abc", "Batch size"),
        ("embedding_batch_size", "0", "from 1 to 256"),
        ("embedding_batch_size", "1000", "from 1 to 256"),
        ("embedding_context_size", "8k", "Context size"),
        ("embedding_dimensions", "-3", "Dimensions"),
        ("embedding_truncate", "maybe", "Truncate long texts"),
        ("embedding_keep_alive", "5 minutes", "Keep alive '5 minutes'"),
    ],
)
def test_bad_fields_name_the_field(field, value, words):
    with pytest.raises(UserInputError, match=words):
        EmbeddingSettings.from_credentials({field: value})


def test_a_full_default_batch_of_the_largest_vectors_stays_well_under_the_daemon_line_limit():
    assert largest_safe_batch(4096) >= DEFAULT_BATCH_SIZE
    assert response_bytes(DEFAULT_BATCH_SIZE, 4096) < DAEMON_LINE_LIMIT_BYTES / 2
    assert 128 <= largest_safe_batch(768) < 256  # common sizes allow large batches, the cap still applies
    assert largest_safe_batch(384) == 256
    assert largest_safe_batch(10**9) == 1
