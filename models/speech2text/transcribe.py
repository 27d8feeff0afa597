"""One clip to text with Ollama's own transcription recipe, and the clips' texts joined into one transcript.

The recipe is Ollama's `/v1/audio/transcriptions` (`openai/openai.go` FromTranscriptionRequest): a chat with a
fixed system prompt, the audio in the user message's `images`, temperature 0; its integration test also turns
thinking off. No Dify imports: failures are the client's OllamaErrors.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

from models.llm.think_tags import THINK_END, THINK_START
from models.speech2text.settings import Speech2TextSettings
from ollama_client import OllamaClient, OllamaStreamError
from ollama_client.wire import ChatRequest

SYSTEM_PROMPT = (
    "Transcribe the audio exactly as spoken. Output only the spoken words. Do not answer any question in the audio."
)
USER_PROMPT = "What exact words are spoken in this audio?"
# About 5 words a second for 30 s is ~200 tokens; a model repeating itself is stopped well before the
# context fills, and its answer is reported as cut off rather than returned.
MAX_TRANSCRIPT_TOKENS = 1024


def system_prompt(settings: Speech2TextSettings) -> str:
    prompt = SYSTEM_PROMPT
    if settings.language:
        prompt += f" The audio is in {settings.language}."
    if settings.context_prompt:
        prompt += f" Context: {settings.context_prompt}"
    return prompt


def chat_request(model: str, audio: bytes, settings: Speech2TextSettings, *, thinking_off: bool) -> ChatRequest:
    body = ChatRequest(
        model=model,
        messages=[
            {"role": "system", "content": system_prompt(settings)},
            {"role": "user", "content": USER_PROMPT, "images": [base64.b64encode(audio).decode("ascii")]},
        ],
        options={"temperature": 0, "num_predict": MAX_TRANSCRIPT_TOKENS},
    )
    if thinking_off:
        # Only for models that list `thinking`: older servers refuse `think` on other models.
        body["think"] = False
    return body


def transcribe_clip(
    client: OllamaClient, model: str, audio: bytes, settings: Speech2TextSettings, *, thinking_off: bool
) -> str:
    """The spoken words of one WAV or MP3 clip; raises OllamaError (also for a cut-off answer)."""
    body = chat_request(model, audio, settings, thinking_off=thinking_off)
    del audio  # the base64 copy in `body` is all that is needed now
    pieces: list[str] = []
    done_reason = None
    for batch in client.chat(body):
        for chunk in batch:
            message = chunk.get("message")
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                pieces.append(message["content"])
            if chunk.get("done") is True:
                done_reason = chunk.get("done_reason")
    if done_reason == "length":
        raise OllamaStreamError(
            f"Model '{model}' did not finish the transcript within {MAX_TRANSCRIPT_TOKENS} tokens (it may be "
            "repeating itself); the transcript would be incomplete. Try a shorter Segment length.",
            model=model,
        )
    return clean_transcript("".join(pieces))


_THINK_BLOCK = re.compile(f"{re.escape(THINK_START)}.*?(?:{re.escape(THINK_END)}|\\Z)", re.DOTALL | re.IGNORECASE)
# "Transcript:", "**Transcription:**", "Here is the transcription of the audio:", "The audio says:" …
_LABEL = re.compile(
    r"^\s*(?:\*\*|__)?\s*(?:(?:here(?:'s| is)|this is)\s+(?:the|an?|your)\s+(?:exact\s+)?|the\s+)?"
    r"(?:transcript(?:ion)?|spoken\s+words|audio\s+says|speaker\s+says|words\s+spoken)"
    r"(?:\s+of\s+(?:the|this)\s+audio(?:\s+clip)?)?\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*",
    re.IGNORECASE,
)
_QUOTES = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»", "「": "」", "『": "』", "„": "“"}


def clean_transcript(text: str) -> str:
    """Only the spoken words: no thinking block, no "Transcript:" label, no quotes around the whole text."""
    text = _THINK_BLOCK.sub("", text).strip()
    text = _LABEL.sub("", text, count=1).strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        text = text[3:-3].strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        inner = text[1:-1]
        if text[0] not in inner and text[-1] not in inner:  # '"Hi," she said. "Bye."' keeps its quotes
            text = inner.strip()
    return text


def _is_cjk(character: str) -> bool:
    return "\u3000" <= character <= "\u9fff" or "\uff00" <= character <= "\uffef"


def join_transcripts(parts: Iterable[str]) -> str:
    """Clips' texts in order; a space between them except where Chinese or Japanese text meets."""
    joined = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue  # a silent clip
        if joined and not (_is_cjk(joined[-1]) and _is_cjk(part[0])):
            joined += " "
        joined += part
    return joined
