"""The speech-to-text fields of the model form (provider/ollama.yaml, shown for `__model_type: speech2text`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.speech2text.segments import DEFAULT_SEGMENT_SECONDS

LANGUAGE = "speech2text_language"
CONTEXT_PROMPT = "speech2text_prompt"
SEGMENT_SECONDS = "speech2text_segment_seconds"

MIN_SEGMENT_SECONDS, MAX_SEGMENT_SECONDS = 5.0, 60.0
MAX_TEXT_FIELD = 1000  # characters of Language / Context prompt that go into every request's system prompt


@dataclass(frozen=True)
class Speech2TextSettings:
    language: str = ""
    context_prompt: str = ""
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> Speech2TextSettings:
        """Raises ValueError with a message naming the field and what to enter."""
        return cls(
            language=_text(credentials, LANGUAGE, "Language"),
            context_prompt=_text(credentials, CONTEXT_PROMPT, "Context prompt"),
            segment_seconds=_segment_seconds(credentials.get(SEGMENT_SECONDS)),
        )


def _text(credentials: Mapping[str, Any], name: str, label: str) -> str:
    value = " ".join(str(credentials.get(name) or "").split())
    if len(value) > MAX_TEXT_FIELD:
        raise ValueError(f"{label} is {len(value)} characters long; keep it under {MAX_TEXT_FIELD}.")
    return value


def _segment_seconds(raw: Any) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_SEGMENT_SECONDS
    try:
        seconds = float(str(raw).strip())
    except ValueError:
        seconds = math.nan
    if not MIN_SEGMENT_SECONDS <= seconds <= MAX_SEGMENT_SECONDS:  # also false for NaN
        raise ValueError(
            f"Segment length '{raw}' is not a number of seconds from {MIN_SEGMENT_SECONDS:g} to "
            f"{MAX_SEGMENT_SECONDS:g}; enter e.g. 30 (gemma4 hears up to about 30 s per request), or leave it empty."
        )
    return seconds
