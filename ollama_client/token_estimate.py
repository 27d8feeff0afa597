"""An offline token estimate: no tokenizer files, no downloads, under a microsecond per 500-character text.

Used only where Ollama gives no count: Dify's `get_num_tokens` for embeddings (called for every
batch while a knowledge base is split and indexed) and `/api/embed` answers without
`prompt_eval_count`. The rule, by the length of each character in UTF-8:

- ASCII (1 byte): one token per 4 characters, as BPE and WordPiece vocabularies average on English;
- 2-byte characters (accented Latin, Greek, Cyrillic, Hebrew, Arabic…): one token per 2 characters;
- 3-byte characters (Han, kana, Hangul, CJK punctuation, Thai, Indic scripts…): one token each;
- 4-byte characters (emoji, rare Han): one token each.

For ASCII, CJK and the 2-byte scripts this gives the same numbers as `models/llm/tokens.py`. The
byte classes are counted with three encodes done in C, so even CJK text costs no per-character
Python or regex work (Dify counts every candidate chunk while it splits a document).

>>> estimate_tokens("")
0
>>> estimate_tokens("Hello, world!")
4
>>> estimate_tokens("知识库")
3
"""

from __future__ import annotations

from collections.abc import Iterable

ASCII_CHARS_PER_TOKEN = 4
TWO_BYTE_CHARS_PER_TOKEN = 2


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def estimate_tokens(text: str) -> int:
    """Estimated token count of one text."""
    if text.isascii():  # the common case: no encoding at all
        return _ceil_div(len(text), ASCII_CHARS_PER_TOKEN)
    chars = len(text)
    ascii_chars = len(text.encode("ascii", "ignore"))
    # UTF-16 spends 4 bytes on characters outside the BMP (the 4-byte ones in UTF-8), 2 on the rest.
    four_byte = len(text.encode("utf-16-le", "surrogatepass")) // 2 - chars
    # What is left splits into 2- and 3-byte characters; their UTF-8 size tells how many of each.
    rest = chars - ascii_chars - four_byte
    rest_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars - 4 * four_byte
    three_byte = rest_bytes - 2 * rest
    two_byte = rest - three_byte
    return (
        _ceil_div(ascii_chars, ASCII_CHARS_PER_TOKEN)
        + _ceil_div(two_byte, TWO_BYTE_CHARS_PER_TOKEN)
        + three_byte
        + four_byte
    )


def estimate_tokens_each(texts: Iterable[str]) -> list[int]:
    return [estimate_tokens(text) for text in texts]
