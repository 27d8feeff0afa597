"""What one OllamaClient needs to know: the server, the key, the timeout, and how to retry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ollama_client.base_url import normalise_base_url
from ollama_client.errors import OllamaConfigError
from ollama_client.redaction import api_key_problem, secret_digest

DEFAULT_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # the first try plus two retries
    backoff_seconds: float = 0.5  # doubled after each retry
    max_retry_after_seconds: float = 5.0

    def delay(self, retry_number: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                seconds = float(retry_after)
            except ValueError:
                seconds = math.nan  # an HTTP date or garbage: the usual back-off
            if math.isfinite(seconds) and seconds >= 0:  # "nan" or "-1" would make time.sleep() raise
                return min(seconds, self.max_retry_after_seconds)
        return self.backoff_seconds * (2**retry_number)


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        problem = api_key_problem(self.api_key)
        if problem:
            raise OllamaConfigError(problem)

    @classmethod
    def create(cls, base_url: str | None, api_key: str | None = None, timeout: float | None = None) -> ClientConfig:
        return cls(
            base_url=normalise_base_url(base_url),
            api_key=(api_key or "").strip() or None,
            timeout=float(timeout) if timeout else DEFAULT_TIMEOUT_SECONDS,
        )

    def credentials_key(self) -> tuple[str, str, float]:
        """(Base URL, digest of the key, timeout): these credentials in a cache key, without the secret."""
        return (self.base_url, secret_digest(self.api_key), self.timeout)
