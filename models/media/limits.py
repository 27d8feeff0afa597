"""How many files, how many bytes and how much time one request may spend on the files in its prompt.

One plugin process serves every workspace, and its memory is capped (256 MiB in the manifest): without
these bounds one chat with many large images could take the process down for everyone. The limits are
environment variables of the plugin process (set them on the plugin daemon), read on each request.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass

from models.media.base64_data import FileInputError

logger = logging.getLogger(__name__)

MAX_FILES_ENV = "OLLAMA_PLUGIN_MAX_FILES_PER_REQUEST"
MAX_FILE_MB_ENV = "OLLAMA_PLUGIN_MAX_FILE_MB"
MAX_TOTAL_MB_ENV = "OLLAMA_PLUGIN_MAX_FILES_TOTAL_MB"
FETCH_SECONDS_ENV = "OLLAMA_PLUGIN_FILE_FETCH_SECONDS"

DEFAULT_MAX_FILES = 16
DEFAULT_MAX_FILE_MB = 20.0
DEFAULT_MAX_TOTAL_MB = 24.0
DEFAULT_FETCH_SECONDS = 60.0
MIB = 1024 * 1024


class MediaLimitError(FileInputError):
    """The files of one request exceed a limit (a bad request for Dify)."""


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and value > 0:
        return value
    logger.warning("%s=%r is not a positive number; using %g", name, raw, default)
    return default


@dataclass(frozen=True)
class MediaLimits:
    max_files: int = DEFAULT_MAX_FILES
    max_file_bytes: int = int(DEFAULT_MAX_FILE_MB * MIB)
    max_total_bytes: int = int(DEFAULT_MAX_TOTAL_MB * MIB)
    fetch_seconds: float = DEFAULT_FETCH_SECONDS

    @classmethod
    def from_environment(cls) -> MediaLimits:
        return cls(
            max_files=int(_positive(MAX_FILES_ENV, DEFAULT_MAX_FILES)),
            max_file_bytes=int(_positive(MAX_FILE_MB_ENV, DEFAULT_MAX_FILE_MB) * MIB),
            max_total_bytes=int(_positive(MAX_TOTAL_MB_ENV, DEFAULT_MAX_TOTAL_MB) * MIB),
            fetch_seconds=_positive(FETCH_SECONDS_ENV, DEFAULT_FETCH_SECONDS),
        )


def megabytes(size: int) -> str:
    return f"{size / MIB:g} MB"


class MediaBudget:
    """What is left of one request's limits; shared by the downloads running at the same time."""

    def __init__(self, limits: MediaLimits | None = None) -> None:
        self.limits = limits or MediaLimits.from_environment()
        self.deadline = time.monotonic() + self.limits.fetch_seconds
        self._used = 0
        self._lock = threading.Lock()

    def check_count(self, files: int) -> None:
        if files > self.limits.max_files:
            raise MediaLimitError(
                f"The prompt holds {files} files (images and audio); this plugin sends at most "
                f"{self.limits.max_files} per request. Send fewer files, or shorten the conversation memory. "
                f"An administrator can raise the limit with {MAX_FILES_ENV}."
            )

    def take_file(self, size: int, kind: str, what: str) -> None:
        """Count a whole file (sent as data) against the per-file and the per-request limits."""
        if size > self.limits.max_file_bytes:
            raise MediaLimitError(
                f"The {kind} {what} is larger than {megabytes(self.limits.max_file_bytes)}; send a smaller {kind}."
            )
        self.take(size, f"the {kind} {what}")

    def take(self, size: int, what: str) -> None:
        """Count `size` more bytes of file data; raises MediaLimitError past the per-request total."""
        with self._lock:
            self._used += size
            over = self._used > self.limits.max_total_bytes
        if over:
            raise MediaLimitError(
                f"The files in the prompt add up to more than {megabytes(self.limits.max_total_bytes)} "
                f"(reached at {what}); send fewer or smaller files. An administrator can raise the limit with "
                f"{MAX_TOTAL_MB_ENV}."
            )

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()

    def stop(self) -> None:
        """End the downloads still running (another file of the request has failed)."""
        self.deadline = 0.0
