"""Ollama's `keep_alive`: how long a model stays loaded after a request.

>>> keep_alive_value("-1"), keep_alive_value("300"), keep_alive_value(" 1.5 "), keep_alive_value("5m")
(-1, 300, 1.5, '5m')
>>> keep_alive_value("1e999")  # doctest: +ELLIPSIS
Traceback (most recent call last):
ValueError: keep_alive '1e999' is too large to be a number of seconds: ...
"""

from __future__ import annotations

import math
import re
from typing import Any

# Go's time.ParseDuration syntax, which Ollama applies to a keep_alive string: "5m", "1h30m", "-1s", "1.5h".
_GO_DURATION = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+")
_INTEGER = re.compile(r"[-+]?\d+")
_NUMBER = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def keep_alive_value(raw: Any, *, label: str = "keep_alive") -> int | float | str | None:
    """The value to send: seconds as a JSON number, a duration as a string, None when not set.

    What users type arrives as text, and Ollama rejects the string "-1" with 400 "time: missing unit in
    duration", so numbers must leave as numbers. Anything else raises ValueError naming `label`.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError(f"{label} {raw} is not a duration.")
        return raw
    text = str(raw).strip()
    if not text:
        return None
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        seconds = float(text)
        if math.isfinite(seconds):  # "1e999" matches but is infinity, which Ollama cannot take (nor JSON)
            return seconds
        raise ValueError(
            f"{label} '{raw}' is too large to be a number of seconds: use e.g. 5m, 1h, 300, or -1 to keep the "
            "model loaded."
        )
    if _GO_DURATION.fullmatch(text):
        return text
    raise ValueError(
        f"{label} '{raw}' is not a duration: use e.g. 5m, 1h, 30s, 300 (seconds), -1 (keep the model loaded) "
        "or 0 (unload right after the answer)."
    )
