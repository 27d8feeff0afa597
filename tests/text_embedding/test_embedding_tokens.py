"""The offline token estimate used by get_num_tokens and for answers without prompt_eval_count."""

from __future__ import annotations

import pytest

from ollama_client.token_estimate import estimate_tokens, estimate_tokens_each


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("abcd", 1),
        ("abcde", 2),
        ("知识库检索", 5),  # one per CJK character
        ("Привет", 3),  # one per 2 characters of other scripts
        ("RAG 知识库", 4),  # 4 ASCII characters -> 1, plus 3 CJK
        ("한국어 かな", 6),  # Hangul and kana count like Han
        ("😀😀", 2),  # characters outside the BMP: one each
        ("\ud800 broken", 3),  # a lone surrogate (bad input) is counted, not an error
    ],
)
def test_estimate_by_script(text, tokens):
    assert estimate_tokens(text) == tokens


def test_the_estimate_is_in_the_right_range_for_english_prose():
    # ~100 words of English: real tokenizers give 110-140 tokens.
    prose = (
        "Knowledge-base indexing is where users feel speed: thousands of chunks per document set. "
        "Each chunk is embedded once, and the vectors are stored so that questions can later be matched "
        "against them. Batching many chunks into one request lets the server work on them together, "
        "which saves a round trip per chunk and keeps the GPU busy. The token count of every batch is "
        "also recorded, so that the cost of a document can be shown to the person who uploaded it. "
    ) * 1
    words = len(prose.split())
    assert 1.0 * words <= estimate_tokens(prose) <= 1.6 * words


def test_a_mixed_script_batch_gets_one_positive_count_per_chunk():
    # Speed is measured in bench/, not asserted here (timed tests flake on shared machines).
    batch = [f"chunk {i} " * 60 for i in range(32)] + ["中文分段" * 125 for _ in range(32)]
    batch += ["Привет, 知识库! " * 35 for _ in range(32)]
    counts = estimate_tokens_each(batch)
    assert len(counts) == 96 and all(count > 0 for count in counts)
    assert counts[32] > counts[0], "500 CJK characters are more tokens than 500 ASCII characters"
