"""Every model type's settings form is read by one set of readers (models/settings_fields.py): a bad field is a
UserInputError (a bad request for Dify) worded the same way, naming the field, what was typed, the allowed range
and an example."""

from __future__ import annotations

import pytest

from models.connection import parse_timeout
from models.input_errors import UserInputError
from models.llm.schema import read_settings
from models.rerank.settings import compatible_settings, judge_settings, rerank_method, similarity_settings
from models.settings_fields import auto_yes_no, on_off
from models.speech2text.settings import Speech2TextSettings
from models.text_embedding.settings import EmbeddingSettings


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (
            lambda: read_settings({"llm_max_tokens": "0"}, strict=True),
            "Upper bound for max tokens '0' is not a whole number from 1 to 10000000. Enter e.g. 8192, or leave it "
            "empty for 8192.",
        ),
        (
            lambda: EmbeddingSettings.from_credentials({"embedding_dimensions": "lots"}),
            "Dimensions 'lots' is not a whole number from 1 to 100000. Enter e.g. 256, or leave it empty.",
        ),
        (
            lambda: similarity_settings({"rerank_embedding_batch_size": "999"}),
            "Texts per embedding request '999' is not a whole number from 1 to 256. Enter e.g. 32, or leave it empty "
            "for 32.",
        ),
        (
            lambda: judge_settings({"rerank_judge_concurrency": "2.5"}),
            "Parallel requests '2.5' is not a whole number from 1 to 32. Enter e.g. 4, or leave it empty for 4.",
        ),
        (
            lambda: compatible_settings({"base_url": "http://tei:8080", "timeout": "soon"}),
            "Request timeout 'soon' is not a number of seconds from 1 to 3600. Enter e.g. 600, or leave it empty for "
            "600.",
        ),
        (
            lambda: Speech2TextSettings.from_credentials({"speech2text_segment_seconds": "90"}),
            "Segment length '90' is not a number of seconds from 5 to 60. Enter e.g. 30, or leave it empty for 30.",
        ),
        (
            lambda: EmbeddingSettings.from_credentials({"embedding_truncate": "sometimes"}),
            "Truncate long texts 'sometimes' is not true or false. Enter true or false, or leave it empty for true.",
        ),
        (
            lambda: read_settings({"llm_tool_call": "maybe"}, strict=True),
            "Tool calling support 'maybe' is not Auto, Yes or No. Enter Auto, Yes or No, or leave it empty for Auto.",
        ),
        (
            lambda: rerank_method({"rerank_method": "cohere"}),
            "Rerank method 'cohere' is not one of 'Auto', 'Compatible rerank service', 'Ollama embedding "
            "similarity', 'Ollama model as judge'. Enter one of them, or leave it empty for 'Auto'.",
        ),
    ],
)
def test_a_bad_field_of_any_model_type_is_refused_in_one_wording(read, message):
    with pytest.raises(UserInputError) as refused:
        read()
    assert str(refused.value) == message


@pytest.mark.parametrize("typed", ["1e999", "nan", "-inf", True])
def test_numbers_that_are_not_finite_are_refused(typed):
    with pytest.raises(UserInputError, match="Request timeout"):
        parse_timeout(typed)
    assert parse_timeout("  ") == 600.0  # empty: the default


def test_switches_take_the_usual_spellings():
    assert [on_off(raw, label="x", default=False) for raw in ("yes", "ON", "1", True, "", None)] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert [auto_yes_no(raw, label="x") for raw in ("", "Auto", "yes", "off", None)] == [
        "auto",
        "auto",
        "true",
        "false",
        "auto",
    ]
