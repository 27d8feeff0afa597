"""How many files, how many bytes and how much time one request may spend on the files in its prompt.

One plugin process serves every workspace, and its memory is capped (256 MiB in the manifest): without
these bounds one chat with many large images could take the process down for everyone. The limits are
environment variables of the plugin process (set them on the plugin daemon), read on each request.

The per-request limits do not bound the process: many requests at once would. So downloaded file bytes are
also counted process-wide (ProcessFileMemory) from the first byte until the base64 text is freed, after
the request to Ollama; a download that would go past that bound waits briefly for room, then is refused
as busy (a rate limit for Dify: try again), not as bad input.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from dataclasses import dataclass

from dify_plugin.errors.model import InvokeRateLimitError

from models.media.base64_data import FileInputError

logger = logging.getLogger(__name__)

MAX_FILES_ENV = "OLLAMA_PLUGIN_MAX_FILES_PER_REQUEST"
MAX_FILE_MB_ENV = "OLLAMA_PLUGIN_MAX_FILE_MB"
MAX_TOTAL_MB_ENV = "OLLAMA_PLUGIN_MAX_FILES_TOTAL_MB"
FETCH_SECONDS_ENV = "OLLAMA_PLUGIN_FILE_FETCH_SECONDS"
MAX_IN_MEMORY_MB_ENV = "OLLAMA_PLUGIN_MAX_FILES_IN_MEMORY_MB"

DEFAULT_MAX_FILES = 16
DEFAULT_MAX_FILE_MB = 20.0
DEFAULT_MAX_TOTAL_MB = 24.0
DEFAULT_FETCH_SECONDS = 60.0
# One request's 24 MB and a little more: each downloaded MB costs about 5 MB at the peak (base64 text, the
# JSON body, its bytes); two 24 MB chats at once peaked at 316 MiB against the manifest's 256 MiB.
DEFAULT_MAX_IN_MEMORY_MB = 32.0
MEMORY_WAIT_SECONDS = 15.0  # how long a download waits for other requests' files to be freed
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
    max_in_memory_bytes: int = int(DEFAULT_MAX_IN_MEMORY_MB * MIB)

    @classmethod
    def from_environment(cls) -> MediaLimits:
        return cls(
            max_files=int(_positive(MAX_FILES_ENV, DEFAULT_MAX_FILES)),
            max_file_bytes=int(_positive(MAX_FILE_MB_ENV, DEFAULT_MAX_FILE_MB) * MIB),
            max_total_bytes=int(_positive(MAX_TOTAL_MB_ENV, DEFAULT_MAX_TOTAL_MB) * MIB),
            fetch_seconds=_positive(FETCH_SECONDS_ENV, DEFAULT_FETCH_SECONDS),
            max_in_memory_bytes=int(_positive(MAX_IN_MEMORY_MB_ENV, DEFAULT_MAX_IN_MEMORY_MB) * MIB),
        )


def megabytes(size: int) -> str:
    return f"{size / MIB:g} MB"


class HeldBase64(str):
    """Downloaded base64 text; its bytes stay counted process-wide until it is freed (a str subclass so that
    a release can be tied to its lifetime, built straight from the download buffer without another copy)."""


class ProcessFileMemory:
    """Bytes of downloaded files the whole process holds, across all requests."""

    def __init__(self) -> None:
        self._held = 0
        self._room = threading.Condition()

    @property
    def held(self) -> int:
        return self._held

    def reserve(self, size: int, limit: int, wait_seconds: float, what: str) -> None:
        """Count `size` more bytes, waiting up to `wait_seconds` for room; raises InvokeRateLimitError."""
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        with self._room:
            while self._held + size > limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise InvokeRateLimitError(
                        f"The plugin already holds {megabytes(limit)} of downloaded files for requests in progress "
                        f"(reached at {what}); try again in a moment. An administrator can raise the limit with "
                        f"{MAX_IN_MEMORY_MB_ENV}, within the plugin's 256 MiB memory cap."
                    )
                self._room.wait(left)
            self._held += size

    def release(self, size: int) -> None:
        with self._room:
            self._held -= size
            self._room.notify_all()

    def hold_until_freed(self, text: HeldBase64, size: int) -> HeldBase64:
        """Release `size` bytes when `text` is freed."""
        weakref.finalize(text, self.release, size)
        return text


PROCESS_FILE_MEMORY = ProcessFileMemory()


def _give_back(claim: list[int]) -> None:
    unused, claim[0] = claim[0], 0
    if unused:
        PROCESS_FILE_MEMORY.release(unused)


class MediaBudget:
    """What is left of one request's limits; shared by the downloads running at the same time."""

    def __init__(self, limits: MediaLimits | None = None) -> None:
        self.limits = limits or MediaLimits.from_environment()
        self.deadline = time.monotonic() + self.limits.fetch_seconds
        self._used = 0
        self._lock = threading.Lock()
        # Room claimed from the process-wide bound and not used yet (a list, so the finalizer can see it).
        self._claim = [0]
        self._claimed = False
        self._claim_lock = threading.Lock()
        weakref.finalize(self, _give_back, self._claim)

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

    def reserve_memory(self, size: int, what: str) -> None:
        """Count `size` downloaded bytes process-wide (the caller releases them when they are freed).

        The first download of a request claims room for the request's whole total at once, waiting briefly
        for it; later bytes come out of that claim. A request holding room never waits for more, so two
        requests cannot each hold half and wait for the other (past its claim it is refused at once)."""
        limit = self.limits.max_in_memory_bytes
        with self._claim_lock:
            if not self._claimed:
                claim = min(self.limits.max_total_bytes, limit)
                PROCESS_FILE_MEMORY.reserve(claim, limit, min(MEMORY_WAIT_SECONDS, self.seconds_left()), what)
                self._claim[0] = claim
                self._claimed = True
            from_claim = min(size, self._claim[0])
            self._claim[0] -= from_claim
        if size > from_claim:
            PROCESS_FILE_MEMORY.reserve(size - from_claim, limit, 0.0, what)

    def release_claim(self) -> None:
        """Give back the room claimed and not used (the request's downloads are over)."""
        with self._claim_lock:
            _give_back(self._claim)

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()

    def stop(self) -> None:
        """End the downloads still running (another file of the request has failed)."""
        self.deadline = 0.0
