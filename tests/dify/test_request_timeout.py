"""'Request timeout': the form and the check agree on 1–3600 seconds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from dify_plugin.errors.model import CredentialsValidateFailedError

from models.connection import MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS, parse_timeout
from models.input_errors import UserInputError
from models.llm.llm import OllamaLargeLanguageModel

PROVIDER_YAML = Path(__file__).resolve().parents[2] / "provider" / "ollama.yaml"


def timeout_field() -> dict:
    fields = yaml.safe_load(PROVIDER_YAML.read_text(encoding="utf-8"))["model_credential_schema"][
        "credential_form_schemas"
    ]
    return next(field for field in fields if field["variable"] == "timeout")


def test_every_language_of_the_form_states_the_range_the_check_enforces():
    expected = f"{MIN_TIMEOUT_SECONDS:g}–{MAX_TIMEOUT_SECONDS:g}"
    for language, text in timeout_field()["placeholder"].items():
        assert re.search(r"\d+–\d+", text), language
        assert expected in text, (language, text)


@pytest.mark.parametrize("typed", ["0.5", "0", "-3", "3601", "inf", "nan"])
def test_out_of_range_values_are_refused_with_the_range(typed):
    with pytest.raises(UserInputError, match=f"Request timeout '{typed}' is not a number of seconds from 1 to 3600"):
        parse_timeout(typed)


@pytest.mark.parametrize(("typed", "seconds"), [("1", 1.0), (" 600 ", 600.0), ("3600", 3600.0), ("", 600.0)])
def test_in_range_values_are_accepted(typed, seconds):
    assert parse_timeout(typed) == seconds


def test_saving_a_half_second_timeout_is_refused_before_any_connection(closed_port_url):
    with pytest.raises(
        CredentialsValidateFailedError,
        match=r"Request timeout '0\.5' is not a number of seconds from 1 to 3600\. Enter e\.g\. 600",
    ):
        OllamaLargeLanguageModel(model_schemas=[]).validate_credentials(
            "qwen3", {"base_url": closed_port_url, "timeout": "0.5"}
        )
