"""Keep an API key out of everything we show or log: the one redaction helper, and the one key digest.

Servers and proxies sometimes echo the Authorization header in their answers, and we quote answers in error
messages, cut to a few hundred characters. Replacing only the whole key would leave the part of it before
or after a cut, so any run of 8 or more characters of the key is masked, wherever it stands.

>>> redact("token sk-0123456789abcdef rejected", "sk-0123456789abcdef")
'token *** rejected'
>>> redact('quoted: "... sk-01234567…"', "sk-0123456789abcdef")
'quoted: "... ***…"'
>>> redact("short: abc and sk-0123", "abc")
'short: *** and sk-0123'
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

MASK = "***"
MIN_FRAGMENT = 8  # shorter runs of a key are too likely to occur by chance to be worth masking


def secret_digest(secret: str | None) -> str:
    """A stable stand-in for `secret` in cache keys (a dict key might get printed; the key must not)."""
    return hashlib.sha256(secret.encode()).hexdigest() if secret else ""


@lru_cache(maxsize=64)
def _fragments(secret: str) -> re.Pattern[str] | None:
    if len(secret) < MIN_FRAGMENT:
        return None
    windows = {secret[i : i + MIN_FRAGMENT] for i in range(len(secret) - MIN_FRAGMENT + 1)}
    # A lookahead finds overlapping windows, so runs longer than one window are covered end to end.
    return re.compile("(?=(" + "|".join(re.escape(w) for w in sorted(windows)) + "))")


def redact(text: str, secret: str | None) -> str:
    """`text` with the key and every run of 8+ of its characters replaced by ***."""
    if not secret or not text:
        return text
    text = text.replace(secret, MASK)
    pattern = _fragments(secret)
    if pattern is None:
        return text
    spans: list[list[int]] = []
    for match in pattern.finditer(text):
        start, end = match.start(), match.start() + MIN_FRAGMENT
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], MASK]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def redact_bytes(data: bytes, secret: str | None) -> bytes:
    """`redact` for a raw answer body, before anything quotes (and cuts) it."""
    if not secret or not data:
        return data
    text = data.decode("utf-8", "surrogateescape")
    cleaned = redact(text, secret)
    return data if cleaned == text else cleaned.encode("utf-8", "surrogateescape")


def redact_error[E: BaseException](error: E, secret: str | None) -> E:
    """Redact `error`'s texts in place, and those of the exceptions it was raised from (tracebacks show them)."""
    if not secret:
        return error
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for attribute in ("message", "ollama_message"):
            value = getattr(current, attribute, None)
            if isinstance(value, str):
                setattr(current, attribute, redact(value, secret))
        current.args = tuple(redact(arg, secret) if isinstance(arg, str) else arg for arg in current.args)
        current = current.__cause__ or current.__context__
    return error
