"""Dify adapter for speech to text with Ollama's audio models (gemma4 and others listing `audio`).

The SDK hands `_invoke` the uploaded file (a temp file it wrote from Dify's hex-encoded bytes). The file is
planned into clips of at most the Segment length (segments.py), each clip transcribed with Ollama's own
recipe (transcribe.py) one after another, and the texts joined. Any failure fails the whole call: a
transcript with a hole in it is never returned as if it were complete. The whole call shares one deadline
(the Request timeout, at most 590 s): Dify's daemon ends a call after 600 s and cancels nothing.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
import wave
from collections.abc import Iterator, Mapping
from typing import IO, Any

from dify_plugin import Speech2TextModel
from dify_plugin.config.logger_format import plugin_logger_handler
from dify_plugin.entities.model import AIModelEntity, ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError, InvokeError

from models.connection import TIMEOUT, ollama_client, parse_timeout
from models.customizable_schema import customizable_schema
from models.input_errors import UserInputError
from models.invoke_errors import OllamaInvokeErrors, to_invoke_error
from models.speech2text.audio_capability import AUDIO, missing_audio_message
from models.speech2text.segments import AudioInputError, AudioPlan, Segment, plan_segments, segment_audio
from models.speech2text.settings import Speech2TextSettings
from models.speech2text.transcribe import join_transcripts, transcribe_clip
from models.validation import check_model
from ollama_client import Deadline, OllamaClient, OllamaTimeoutError, get_model_info

# Dify's daemon ends a speech-to-text call after 600 s without cancelling it; stop first, with a clear error.
MAX_CALL_SECONDS = 590.0

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
            limit = min(parse_timeout(credentials.get(TIMEOUT)), MAX_CALL_SECONDS)
        except UserInputError as error:
            raise InvokeBadRequestError(str(error)) from error
        deadline = Deadline.after(limit)
        client = ollama_client(credentials, deadline=deadline)
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
            for segment in plan.segments:
                if deadline.expired:
                    raise _out_of_time(client, model, segment, plan, limit)
                try:
                    clip = segment_audio(audio, plan, segment)
                except (AudioInputError, wave.Error) as error:  # the header promised what the samples are not
                    raise _failed_in(segment, plan, InvokeBadRequestError(str(error))) from error
                except Exception as error:
                    raise _failed_in(segment, plan, to_invoke_error(error)) from error
                try:
                    texts.append(transcribe_clip(client, model, clip, settings, thinking_off=thinking_off))
                except OllamaTimeoutError as error:
                    if deadline.remaining() < 0.1:  # the call's deadline, not one silent read
                        raise _out_of_time(client, model, segment, plan, limit) from error
                    raise _failed_in(segment, plan, to_invoke_error(error)) from error
                except Exception as error:
                    raise _failed_in(segment, plan, to_invoke_error(error)) from error
                del clip
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


def _out_of_time(client: OllamaClient, model: str, segment: Segment, plan: AudioPlan, limit: float) -> InvokeError:
    """The call's one deadline ran out: say how far it got and what to change."""
    if limit >= MAX_CALL_SECONDS:
        why = f"{limit:g} s, the most a call may take (Dify ends a speech-to-text call after 600 s)"
        fix = "Upload shorter audio (split the recording into parts)"
    else:
        why = f"the Request timeout of {limit:g} s"
        fix = (
            "Upload shorter audio, or raise 'Request timeout' in the model settings (speech to text uses up to "
            f"{MAX_CALL_SECONDS:g} s of it)"
        )
    end = segment.start_seconds + segment.seconds
    return to_invoke_error(
        OllamaTimeoutError(
            f"Model '{model}' on {client.config.base_url} did not transcribe the whole {plan.format} audio within "
            f"{why}: it stopped at segment {segment.number} of {len(plan.segments)} ({segment.start_seconds:.0f}–"
            f"{end:.0f} s) and no transcript was returned. {fix}.",
            url=client.config.base_url,
            model=model,
        )
    )


@contextlib.contextmanager
def _seekable(file: IO[bytes]) -> Iterator[IO[bytes]]:
    """The file itself when it can seek (the SDK's temp file does); otherwise a spooled copy."""
    if file.seekable():
        yield file
        return
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as copy:
        shutil.copyfileobj(file, copy)
        yield copy
