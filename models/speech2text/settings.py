"""The speech-to-text fields of the model form (provider/ollama.yaml, shown for `__model_type: speech2text`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.settings_fields import NumberField, optional_text
from models.speech2text.segments import DEFAULT_SEGMENT_SECONDS

LANGUAGE = "speech2text_language"
CONTEXT_PROMPT = "speech2text_prompt"
SEGMENT_SECONDS = "speech2text_segment_seconds"

MAX_TEXT_FIELD = 1000  # characters of Language / Context prompt that go into every request's system prompt
# 5–60 s; gemma4 hears up to about 30 s per request.
_SEGMENT_LENGTH = NumberField(SEGMENT_SECONDS, "Segment length", 5.0, 60.0, DEFAULT_SEGMENT_SECONDS, "seconds", "30")


@dataclass(frozen=True)
class Speech2TextSettings:
    language: str = ""
    context_prompt: str = ""
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> Speech2TextSettings:
        """Raises UserInputError with a message naming the field and what to enter."""
        return cls(
            language=optional_text(credentials.get(LANGUAGE), label="Language", max_chars=MAX_TEXT_FIELD),
            context_prompt=optional_text(
                credentials.get(CONTEXT_PROMPT), label="Context prompt", max_chars=MAX_TEXT_FIELD
            ),
            segment_seconds=_SEGMENT_LENGTH.read(credentials),
        )
