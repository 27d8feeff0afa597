"""The text embedding step: a few texts embedded as Dify indexes documents."""

from __future__ import annotations

from dify_plugin.entities.model import EmbeddingInputType, ModelPropertyKey

from models.text_embedding.text_embedding import OllamaTextEmbeddingModel

from .server_models import can_embed, first
from .session import Outcome, Session, choose_model

EMBED_TEXTS = [
    "Ollama runs large language models on your own machine.",
    "Dify builds AI applications on top of model providers.",
    "Bananas are rich in potassium.",
]


def embedding_model_choice(session: Session) -> tuple[str | None, str]:
    if session.args.embedding_model:
        return session.args.embedding_model, "from the command line"
    found = first(session.models, can_embed)
    return (found.name, "picked: first embedding model") if found else (None, "")


def embedding_step(session: Session) -> Outcome:
    terminal, credentials = session.terminal, session.credentials
    model = choose_model(session, session.args.embedding_model, "embedding", [("first embedding model", can_embed)])
    if model is None:
        return Outcome.SKIPPED
    embedder = session.accepted(OllamaTextEmbeddingModel, model)
    schema = embedder.get_model_schema(model, credentials)
    if schema is not None:
        properties = schema.model_properties
        terminal.mark(
            "ok",
            f"get_model_schema: context {properties.get(ModelPropertyKey.CONTEXT_SIZE)} tokens, "
            f"up to {properties.get(ModelPropertyKey.MAX_CHUNKS)} texts per call",
        )
    result = embedder.invoke(model, credentials, EMBED_TEXTS, input_type=EmbeddingInputType.DOCUMENT)
    for text, vector in zip(EMBED_TEXTS, result.embeddings, strict=False):
        head = ", ".join(f"{value:+.4f}" for value in vector[:3])
        terminal.line(f"  [{head}, …]  {text}")
    dimensions = sorted({len(vector) for vector in result.embeddings})
    shown = " or ".join(str(size) for size in dimensions) or "0"
    terminal.mark(
        "ok",
        f"{len(result.embeddings)} vectors of {shown} dimensions, {result.usage.total_tokens} tokens, "
        f"{result.usage.latency:.2f} s",
    )
    return Outcome.PASSED
