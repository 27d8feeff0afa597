"""The audio steps: speech to text, and audio in a chat message, with the MP3 sample the SDK ships."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import dify_plugin
from dify_plugin.entities.model import ModelFeature
from dify_plugin.entities.model.message import AudioPromptMessageContent, TextPromptMessageContent, UserPromptMessage
from dify_plugin.interfaces.model.ai_model import AIModel

from models.llm.llm import OllamaLargeLanguageModel
from models.speech2text.speech2text import OllamaSpeech2TextModel

from .chat_steps import describe_llm_schema
from .console import SECTION_LABELS, plugin_logs_off_stdout
from .replies import ReplyPrinter, describe_finish
from .server_models import ServerModel
from .session import Outcome, Session, choose_model

AUDIO_SAMPLE = Path(dify_plugin.__file__).parent / "interfaces" / "model" / "audio.mp3"  # ships with the SDK
AUDIO_CHAT_PROMPT = "Listen to this recording. In one short sentence: what is said?"


def can_hear(model: ServerModel) -> bool:
    return model.has("audio") is True


def accepted_audio_model[M: AIModel](session: Session, model_class: type[M], as_type: str) -> tuple[str, M] | None:
    """The audio model to use and the plugin's class for it, once Dify would accept it; None: skip the step."""
    model = choose_model(session, session.args.audio_model, "audio", [("first model with audio input", can_hear)])
    return None if model is None else (model, session.accepted(model_class, model, as_type=as_type))


def speech_to_text_step(session: Session) -> Outcome:
    if (chosen := accepted_audio_model(session, OllamaSpeech2TextModel, " as Speech2text")) is None:
        return Outcome.SKIPPED
    model, transcriber = chosen
    terminal, credentials = session.terminal, session.credentials
    terminal.line(f"  audio: {AUDIO_SAMPLE.name} from dify_plugin (MP3, {AUDIO_SAMPLE.stat().st_size:,} bytes)")
    started = time.perf_counter()
    with plugin_logs_off_stdout(OllamaSpeech2TextModel.__module__), AUDIO_SAMPLE.open("rb") as audio:
        text = transcriber.invoke(model, credentials, audio)
    elapsed = time.perf_counter() - started
    terminal.line(f"  {SECTION_LABELS['transcript']}", "cyan")
    terminal.write((text or "(no words)") + "\n", indent="    ")
    if not text.strip():
        terminal.mark("note", "the model heard no words in the sample")
    terminal.mark("ok", f"transcribed in {elapsed:.2f} s")
    return Outcome.PASSED


def audio_chat_step(session: Session) -> Outcome:
    if (chosen := accepted_audio_model(session, OllamaLargeLanguageModel, " as LLM")) is None:
        return Outcome.SKIPPED
    model, llm = chosen
    terminal, credentials = session.terminal, session.credentials
    schema = llm.get_model_schema(model, credentials)
    terminal.mark("ok", describe_llm_schema(schema))
    if schema is None or ModelFeature.AUDIO not in (schema.features or []):
        terminal.mark(
            "skip",
            f"Dify would not give audio to '{model}' as an LLM: its schema has no audio feature (this plugin "
            "version, or the model's audio switch, does not declare it)",
        )
        return Outcome.SKIPPED
    audio = base64.b64encode(AUDIO_SAMPLE.read_bytes()).decode("ascii")
    terminal.line(f"  you> {AUDIO_CHAT_PROMPT}  [+ {AUDIO_SAMPLE.name}]")
    message = UserPromptMessage(
        content=[
            TextPromptMessageContent(data=AUDIO_CHAT_PROMPT),
            AudioPromptMessageContent(base64_data=audio, format="mp3", mime_type="audio/mpeg"),
        ]
    )
    reply = ReplyPrinter(terminal).print_stream(llm.invoke(model, credentials, [message], {}, stream=True))
    if not reply.answer.strip():
        terminal.mark("note", "the model sent no answer text")
    terminal.mark("ok", describe_finish(reply))
    return Outcome.PASSED
