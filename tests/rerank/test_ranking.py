"""top_n, score_threshold and ordering, shared by every rerank method."""

from __future__ import annotations

import pytest

from models.rerank.ranking import ScoredDocument, rank

SCORED = [ScoredDocument(0, 0.2), ScoredDocument(1, 0.9), ScoredDocument(2, 0.5), ScoredDocument(3, 0.5)]


def indexes(ranked: list[ScoredDocument]) -> list[int]:
    return [doc.index for doc in ranked]


@pytest.mark.parametrize("top_n", [0, -1, None])
def test_top_n_of_zero_or_less_returns_every_document(top_n):
    # Dify's daemon sends top_n=0 when the user set nothing; the official plugin returned nothing then.
    assert indexes(rank(SCORED, top_n=top_n, score_threshold=0.0)) == [1, 2, 3, 0]


def test_highest_score_first_and_ties_keep_the_original_order():
    assert indexes(rank(reversed(SCORED), top_n=None, score_threshold=None)) == [1, 2, 3, 0]


def test_top_n_keeps_the_best():
    assert indexes(rank(SCORED, top_n=2, score_threshold=0.0)) == [1, 2]
    assert indexes(rank(SCORED, top_n=10, score_threshold=0.0)) == [1, 2, 3, 0]


def test_a_zero_threshold_filters_nothing_even_negative_cosine_scores():
    scored = [ScoredDocument(0, -0.3), ScoredDocument(1, 0.0)]
    assert indexes(rank(scored, top_n=0, score_threshold=0.0)) == [1, 0]


def test_a_threshold_keeps_scores_at_or_above_it_before_top_n_applies():
    assert indexes(rank(SCORED, top_n=0, score_threshold=0.5)) == [1, 2, 3]
    assert indexes(rank(SCORED, top_n=1, score_threshold=0.5)) == [1]
    assert rank(SCORED, top_n=0, score_threshold=0.95) == []
