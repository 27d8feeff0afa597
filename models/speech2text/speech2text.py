"""Dify adapter for speech to text with Ollama's audio models (gemma4 and others listing `audio`).

The SDK hands `_invoke` the uploaded file (a temp file it wrote from Dify's hex-encoded bytes). The file is
planned into clips of at most the Segment length (segments.py), each clip transcribed with Ollama's own
recipe (transcribe.py) one after another, and the texts joined. Any failure fails the whole call: a
transcript with a hole in it is never returned as if it were complete.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import IO, Any

from dify_plugin import Speech2TextModel
from dify_plugin.config.logger_format import plugin_logger_handler
from dify_plugin.entities.model import AIModelEntity, ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError, InvokeError

from models.connection import ollama_client
from models.customizable_schema import customizable_schema
from models.input_errors import UserInputError
from models.invoke_errors import OllamaInvokeErrors, to_invoke_error
from models.speech2text.audio_capability import AUDIO, missing_audio_message
from models.speech2text.segments import AudioInputError, AudioPlan, Segment, iter_segment_audio, plan_segments
from models.speech2text.settings import Speech2TextSettings
from models.speech2text.transcribe import join_transcripts, transcribe_clip
from models.validation import check_model
from ollama_client import get_model_info

# Dify's daemon keeps the plugin's log events (stdout); plain `logging` would go nowhere in the plugin process.
logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)
if plugin_logger_handler not in logger.handlers:
    logger.addHandler(plugin_logger_handler)


class OllamaSpeech2TextModel(OllamaInvokeErrors, Speech2TextModel):
    def _invoke(self, model: str, credentials: dict, file: IO[bytes], user: str | None = None) -> str:
        started = time.perf_counter()
        try:
            settings = Speech2TextSettings.from_credentials(credentials)
        except UserInputError as error:
            raise InvokeBadRequestError(str(error)) from error
        client = ollama_client(credentials)
        info = get_model_info(client, model)
        if info.has(AUDIO) is not True:
            raise InvokeBadRequestError(missing_audio_message(client, info))
        thinking_off = info.has("thinking") is True
        with _seekable(file) as audio:
            try:
                plan = plan_segments(audio, max_seconds=settings.segment_seconds)
            except AudioInputError as error:
                raise InvokeBadRequestError(str(error)) from error
            texts = []
            for segment, clip in iter_segment_audio(audio, plan):
                try:
                    texts.append(transcribe_clip(client, model, clip, settings, thinking_off=thinking_off))
                except Exception as error:
                    raise _failed_in(segment, plan, to_invoke_error(error)) from error
        transcript = join_transcripts(texts)
        logger.info(
            "speech2text: model %s transcribed %d segment(s), %.1f s of %s audio (%d bytes) into %d characters "
            "in %.2f s",
            model,
            len(plan.segments),
            plan.seconds,
            plan.format,
            plan.size,
            len(transcript),
            time.perf_counter() - started,
        )
        return transcript

    def validate_credentials(self, model: str, credentials: Mapping[str, Any]) -> None:
        try:
            Speech2TextSettings.from_credentials(credentials)
        except UserInputError as error:
            raise CredentialsValidateFailedError(str(error)) from error
        check_model(credentials, model, needs=AUDIO, advice=missing_audio_message)

    def get_customizable_model_schema(self, model: str, credentials: Mapping[str, Any]) -> AIModelEntity:
        return customizable_schema(model, ModelType.SPEECH2TEXT)


def _failed_in(segment: Segment, plan: AudioPlan, error: InvokeError) -> InvokeError:
    """The same error class, its message saying where in the recording the call stopped."""
    end = segment.start_seconds + segment.seconds
    where = (
        f" (while transcribing segment {segment.number} of {len(plan.segments)}, {segment.start_seconds:.0f}–"
        f"{end:.0f} s of the {plan.format} audio; no transcript was returned)"
    )
    return type(error)(str(error) + where)


@contextlib.contextmanager
def _seekable(file: IO[bytes]) -> Iterator[IO[bytes]]:
    """The file itself when it can seek (the SDK's temp file does); otherwise a spooled copy."""
    if file.seekable():
        yield file
        return
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as copy:
        shutil.copyfileobj(file, copy)
        yield copy
