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

import contextlib
import hashlib
import re
from collections.abc import Iterator
from functools import lru_cache

MASK = "***"
MIN_FRAGMENT = 8  # shorter runs of a key are too likely to occur by chance to be worth masking
# Longer keys are refused where the configuration is made (`api_key_problem`): no real key comes near it.
MAX_API_KEY_CHARS = 1024


def api_key_problem(api_key: str | None) -> str | None:
    """Why `api_key` cannot be sent as a Bearer header, or None when it can."""
    if not api_key:
        return None
    if len(api_key) > MAX_API_KEY_CHARS:
        return (
            f"The API key is {len(api_key):,} characters long, more than the {MAX_API_KEY_CHARS:,} any real key "
            "has; something else was pasted into the field. Paste only the key."
        )
    if not all(" " <= char <= "~" for char in api_key):
        # httpx would fail with an error quoting the whole header, key included (line breaks), or with a bare
        # UnicodeEncodeError (non-ASCII letters).
        return (
            "The API key contains a line break, control character or non-ASCII character, which cannot be "
            "sent in an HTTP header. Paste the key again without extra characters."
        )
    return None


def secret_digest(secret: str | None) -> str:
    """A stable stand-in for `secret` in cache keys (a dict key might get printed; the key must not)."""
    return hashlib.sha256(secret.encode()).hexdigest() if secret else ""


# Up to this key length one regular expression of all windows is fastest; its cost grows with the key length
# times the text length, so longer keys look each window of the text up in a set instead (linear).
_REGEX_MAX_KEY = 64


@lru_cache(maxsize=64)
def _windows(secret: str) -> frozenset[str]:
    return frozenset(secret[i : i + MIN_FRAGMENT] for i in range(len(secret) - MIN_FRAGMENT + 1))


@lru_cache(maxsize=64)
def _fragments(secret: str) -> re.Pattern[str]:
    # A lookahead finds overlapping windows, so runs longer than one window are covered end to end.
    return re.compile("(?=(" + "|".join(re.escape(w) for w in sorted(_windows(secret))) + "))")


def _fragment_starts(text: str, secret: str) -> Iterator[int]:
    """Where each 8-character window of `secret` starts in `text`, in order."""
    if len(secret) <= _REGEX_MAX_KEY:
        return (match.start() for match in _fragments(secret).finditer(text))
    windows = _windows(secret)
    return (i for i in range(len(text) - MIN_FRAGMENT + 1) if text[i : i + MIN_FRAGMENT] in windows)


def redact(text: str, secret: str | None) -> str:
    """`text` with the key and every run of 8+ of its characters replaced by ***."""
    if not secret or not text:
        return text
    text = text.replace(secret, MASK)
    if len(secret) < MIN_FRAGMENT:
        return text
    spans: list[list[int]] = []
    for start in _fragment_starts(text, secret):
        end = start + MIN_FRAGMENT
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


def redact_error[E: BaseException](error: E, secret: str | None, *, cause: BaseException | None = None) -> E:
    """Redact `error`'s texts in place, and those of the exceptions behind it (tracebacks show them). Pass the
    exception it will be raised from as `cause`: `raise … from exc` attaches it only after this ran."""
    if cause is not None:
        error.__cause__ = cause
    if not secret:
        return error
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for attribute in ("message", "ollama_message", "msg"):
            value = getattr(current, attribute, None)
            if isinstance(value, str):
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(current, attribute, redact(value, secret))
        current.args = tuple(redact(arg, secret) if isinstance(arg, str) else arg for arg in current.args)
        # httpcore wraps h11's error as an argument, not only as the cause.
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return error
