"""The rerank step: a few documents ranked for a query, by the method the plugin would use."""

from __future__ import annotations

import os

from models.rerank import auto
from models.rerank.rerank import OllamaRerankModel
from models.rerank.settings import JUDGE_PROMPT, METHOD_LABELS, RerankMethod

from .console import plugin_logs_off_stdout
from .embedding_step import embedding_model_choice
from .server_models import PULL_HINTS, can_chat, first
from .session import Outcome, Session

RERANK_QUERY = "What is the capital of France?"
RERANK_DOCUMENTS = [
    "Bananas are rich in potassium.",
    "Paris is the capital and largest city of France.",
    "France is a country in Western Europe.",
]


def rerank_setup(session: Session) -> tuple[RerankMethod, str, dict[str, str]] | None:
    """(method, model, credentials) for the rerank step, or None after printing why it is skipped."""
    terminal, args = session.terminal, session.args
    embedding_model, embedding_reason = embedding_model_choice(session)
    method = RerankMethod(args.rerank_method) if args.rerank_method else RerankMethod.AUTO
    source = "from the command line" if args.rerank_method else "the default; choose another with --rerank-method"
    terminal.line(f"  method: {METHOD_LABELS[method]} ({source})")
    credentials = {**session.credentials, "rerank_method": method.value}
    if method is RerankMethod.LLM_JUDGE and args.judge_prompt:
        credentials[JUDGE_PROMPT] = args.judge_prompt
    if method is RerankMethod.COMPATIBLE_SERVICE or (method is RerankMethod.AUTO and args.rerank_url):
        if not args.rerank_url or not args.rerank_model:
            terminal.mark("skip", "a rerank service needs --rerank-url and --rerank-model")
            return None
        credentials.update(base_url=args.rerank_url, api_key=os.environ.get("RERANK_API_KEY", ""))
        terminal.line(f"  model: {args.rerank_model} (from the command line)")
        return method, args.rerank_model, credentials
    if args.rerank_model:
        terminal.line(f"  model: {args.rerank_model} (from the command line)")
        return method, args.rerank_model, credentials
    if method is not RerankMethod.LLM_JUDGE and embedding_model is not None:
        terminal.line(f"  model: {embedding_model} ({embedding_reason})")
        return method, embedding_model, credentials
    if method is RerankMethod.EMBEDDING_SIMILARITY:
        terminal.mark("skip", f"no embedding model on this server; pull one, e.g. {PULL_HINTS['embedding']}")
        return None
    if args.model:
        terminal.line(f"  model: {args.model} (--model)")
        return method, args.model, credentials
    judge = first(session.models, can_chat, lambda m: "rerank" in m.name.lower()) or first(session.models, can_chat)
    if judge is None:
        terminal.mark("skip", f"no chat model to judge with; pull one, e.g. {PULL_HINTS['chat']}")
        return None
    terminal.line(f"  model: {judge.name} (picked: first chat model, a '*rerank*' one preferred)")
    return method, judge.name, credentials


def rerank_step(session: Session) -> Outcome:
    terminal = session.terminal
    setup = rerank_setup(session)
    if setup is None:
        return Outcome.SKIPPED
    method, model, credentials = setup
    with plugin_logs_off_stdout(auto.__name__):  # Auto logs its choice for Dify; here it is printed below
        reranker = session.accepted(OllamaRerankModel, model, credentials)
        if method is RerankMethod.AUTO:  # validation has just resolved it; this reads the cached choice
            terminal.line(f"  Auto chose: {auto.resolve_method(credentials, model).describe()}")
        result = reranker.invoke(model, credentials, RERANK_QUERY, RERANK_DOCUMENTS)
    terminal.line(f"  query: {RERANK_QUERY}")
    for rank, document in enumerate(result.docs, start=1):
        terminal.line(f"  {rank}. {document.score:.4f}  {document.text}  (document #{document.index})")
    terminal.mark("ok", f"{len(result.docs)} of {len(RERANK_DOCUMENTS)} documents ranked")
    return Outcome.PASSED
