"""Task prefixes some embedding models expect, chosen by Dify's `input_type`.

nomic-embed-text, for example, is trained on "search_query: …" for questions and
"search_document: …" for the passages it should find; without them retrieval quality drops.
Dify says which one a call is: QUERY when it embeds a user's question, DOCUMENT when it indexes.
"""

from __future__ import annotations

from dify_plugin.entities.model import EmbeddingInputType

from models.text_embedding.settings import EmbeddingSettings


def prefix_for(input_type: EmbeddingInputType | str | None, settings: EmbeddingSettings) -> str:
    value = input_type.value if isinstance(input_type, EmbeddingInputType) else input_type
    if value == EmbeddingInputType.QUERY.value:
        return settings.query_prefix
    return settings.document_prefix  # Dify's default input type is DOCUMENT


def apply_prefix(texts: list[str], prefix: str) -> list[str]:
    if not prefix:
        return texts
    return [prefix + text for text in texts]
