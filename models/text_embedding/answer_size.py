"""How many vectors one embedding answer may hold: it leaves the plugin as one stdout line, and Dify's
plugin daemon drops the plugin process on a line over 5 MiB (every workspace's requests with it)."""

from __future__ import annotations

from models.input_errors import UserInputError
from models.text_embedding.settings import DAEMON_LINE_LIMIT_BYTES

# The longest a float of a vector gets as JSON ("-1.2345678901234567e-05," is 24 bytes); the envelope
# around the vectors (usage, model name, session) stays far under 64 KiB.
WORST_CASE_BYTES_PER_FLOAT = 24
ENVELOPE_BYTES = 64 * 1024


def most_vectors(dimensions: int) -> int:
    """The most vectors of this length that always fit in one message to Dify."""
    return max(1, (DAEMON_LINE_LIMIT_BYTES - ENVELOPE_BYTES) // (max(dimensions, 1) * WORST_CASE_BYTES_PER_FLOAT))


def check_answer_fits(model: str, count: int, dimensions: int) -> None:
    """Raise before a too-large answer is computed or written, naming the limit and the fix."""
    allowed = most_vectors(dimensions)
    if count > allowed:
        raise UserInputError(
            f"{count} texts embedded by '{model}' as {dimensions}-dimensional vectors make an answer of up to "
            f"{count * dimensions * WORST_CASE_BYTES_PER_FLOAT / 2**20:.0f} MiB, more than the "
            f"{DAEMON_LINE_LIMIT_BYTES // 2**20} MiB one message from a plugin to Dify may hold. Send at most "
            f"{allowed} texts per call (Dify's knowledge bases split by themselves, 'Batch size' texts at a time), "
            "or set Dimensions lower."
        )
