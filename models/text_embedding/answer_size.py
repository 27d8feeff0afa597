"""How many vectors one embedding answer may hold: it leaves the plugin as one stdout line, and Dify's
plugin daemon drops the plugin process on a line over 5 MiB (every workspace's requests with it).

Ollama's vectors are float32: as JSON each value takes at most about 16 bytes ("-1.2345678e-05,"), which
decides in advance. What a server really sent is measured only when it could matter: a hostile or unusual
server may send longer numbers (up to 24 bytes each), and measuring costs about as much as the SDK's own
serialisation, so answers that fit even at 24 bytes a value (all of Dify's indexing batches) skip it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pydantic_core

from models.input_errors import UserInputError
from models.text_embedding.settings import DAEMON_LINE_LIMIT_BYTES

OLLAMA_BYTES_PER_FLOAT = 16
WORST_CASE_BYTES_PER_FLOAT = 24  # "-1.2345678901234567e-05,"
ENVELOPE_BYTES = 64 * 1024  # usage, model name, session id around the vectors
BUDGET_BYTES = DAEMON_LINE_LIMIT_BYTES - ENVELOPE_BYTES


def most_vectors(dimensions: int) -> int:
    """The most vectors of this length one message to Dify can hold (Ollama's float32 values)."""
    return max(1, BUDGET_BYTES // (max(dimensions, 1) * OLLAMA_BYTES_PER_FLOAT))


def check_count_fits(model: str, count: int, dimensions: int) -> None:
    """Raise before Ollama does the work when the answer could not be sent, naming the limit and the fix."""
    if count * max(dimensions, 1) * OLLAMA_BYTES_PER_FLOAT > BUDGET_BYTES:
        raise _too_large(model, count, dimensions, count * dimensions * OLLAMA_BYTES_PER_FLOAT)


def check_vectors_fit(model: str, vectors: Sequence[Sequence[float]]) -> None:
    """Raise when the vectors as JSON would not fit in one message to Dify."""
    values = sum(len(vector) for vector in vectors)
    if values * WORST_CASE_BYTES_PER_FLOAT <= BUDGET_BYTES:
        return
    size = len(pydantic_core.to_json(vectors))
    if size > BUDGET_BYTES:
        raise _too_large(model, len(vectors), len(vectors[0]), size)


def _too_large(model: str, count: int, dimensions: int, size: int) -> UserInputError:
    return UserInputError(
        f"{count} texts embedded by '{model}' as {dimensions}-dimensional vectors make an answer of about "
        f"{size / 2**20:.1f} MiB, more than the {DAEMON_LINE_LIMIT_BYTES // 2**20} MiB one message from a plugin "
        f"to Dify may hold. Send at most {most_vectors(dimensions)} texts per call (Dify's knowledge bases split "
        "by themselves, 'Batch size' texts at a time), or set Dimensions lower."
    )
