"""Order scored documents and apply Dify's `top_n` and `score_threshold`, the same way for every method.

Dify's daemon passes these as plain (non-pointer) Go fields, so "the user set nothing" arrives
as `top_n=0` and `score_threshold=0.0`: both mean "no limit" here, never "return nothing".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ollama_client.wire import whole_number


@dataclass(frozen=True)
class ScoredDocument:
    index: int  # position in the list Dify sent
    score: float


def top_n_limit(top_n: int | None) -> int | None:
    """The number of documents to return, or None for all of them."""
    limit = whole_number(top_n)
    return limit if limit is not None and limit > 0 else None


def threshold_limit(score_threshold: float | None) -> float | None:
    """The minimum score to keep, or None for no filter."""
    if score_threshold is None or not math.isfinite(score_threshold) or score_threshold <= 0:
        return None
    return float(score_threshold)


def rank(scored: Iterable[ScoredDocument], *, top_n: int | None, score_threshold: float | None) -> list[ScoredDocument]:
    """Highest score first (ties keep the original order), at least `score_threshold`, at most `top_n`."""
    minimum = threshold_limit(score_threshold)
    kept = [doc for doc in scored if minimum is None or doc.score >= minimum]
    kept.sort(key=lambda doc: (-doc.score, doc.index))
    limit = top_n_limit(top_n)
    return kept if limit is None else kept[:limit]
