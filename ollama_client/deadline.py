"""The moment by which one call (or one whole invoke) must be over, on the monotonic clock.

A read timeout alone bounds silence, not duration: a server that trickles a byte now and then keeps it
from ever firing. Every call therefore also carries a Deadline, checked between reads and used to shorten
each wait, so neither silence nor a trickle outlasts it.
"""

from __future__ import annotations

import time

# Metadata calls (/api/show, /api/version, /api/tags) answer in milliseconds when the server works; a server
# that accepts the connection and says nothing must not hold a form or a schema request for minutes.
METADATA_SECONDS = 10.0


class Deadline:
    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def sooner(self, seconds: float) -> Deadline:
        """This deadline, or `seconds` from now if that comes first."""
        return Deadline(min(self.at, time.monotonic() + seconds))

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def __repr__(self) -> str:
        return f"Deadline(in {self.at - time.monotonic():.3f} s)"
