"""The files (images, audio) of all prompt messages -> raw base64, checked first and fetched together.

Every part is looked at before anything is downloaded: kinds Ollama cannot take, audio for a model
without the capability and too many files are refused first. Then the files are converted under one
budget for the request (count, total bytes, one deadline; models/media/limits.py), URL downloads
concurrently, a few at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypedDict, Unpack

from dify_plugin.entities.model.message import (
    AudioPromptMessageContent,
    ImagePromptMessageContent,
    MultiModalPromptMessageContent,
    PromptMessage,
    TextPromptMessageContent,
)

from models.input_errors import UserInputError
from models.llm.images import image_to_base64
from models.media.audio import AUDIO_MIN_OLLAMA_VERSION, audio_to_base64
from models.media.limits import MediaBudget

MediaFetcher = Callable[[MultiModalPromptMessageContent, MediaBudget], str]
MAX_PARALLEL_DOWNLOADS = 4


class UnsupportedContentError(UserInputError):
    """The message holds content Ollama's API cannot carry, or this model cannot take."""


def media_to_base64(part: MultiModalPromptMessageContent, budget: MediaBudget) -> str:
    if isinstance(part, AudioPromptMessageContent):
        return audio_to_base64(part, budget)
    if isinstance(part, ImagePromptMessageContent):
        return image_to_base64(part, budget)
    raise UnsupportedContentError(f"Ollama cannot take {part.type.value} input.")


def _parts(messages: Sequence[PromptMessage]) -> Iterator[object]:
    for message in messages:
        if isinstance(message.content, list):
            yield from message.content


def _kind_refusal(part: object) -> UnsupportedContentError:
    kind = getattr(part, "type", type(part).__name__)
    kind = getattr(kind, "value", kind)
    name = f" '{part.filename}'" if getattr(part, "filename", "") else ""
    return UnsupportedContentError(
        f"Ollama cannot take {kind} input (file{name}): its API accepts text, images and audio only. Remove "
        f"the {kind} file from the prompt, or turn off {kind} upload for this model."
    )


def audio_refusal(model: str, audio: bool | None, filename: str = "") -> UnsupportedContentError:
    name = f" (file '{filename}')" if filename else ""
    needs = (
        f"Audio input needs Ollama {AUDIO_MIN_OLLAMA_VERSION} or newer and a model with the 'audio' capability, "
        "such as gemma4:e4b"
    )
    if audio is None:
        return UnsupportedContentError(
            f"Ollama cannot take audio input{name} for model '{model}' as far as the plugin knows: Ollama did not "
            f"report the model's capabilities (servers older than 0.6.4 report none). {needs}. Upgrade Ollama, or "
            "set Audio input support to Yes if this server and model take audio."
        )
    return UnsupportedContentError(
        f"Ollama cannot take audio input{name} for model '{model}': Ollama does not list 'audio' among its "
        f"capabilities (or Audio input support is set to No). {needs}; upgrade Ollama if it is older "
        "(`ollama -v`), use such a model, or remove the audio file."
    )


def check_parts(messages: Sequence[PromptMessage], *, audio: bool | None, model: str) -> list[object]:
    """The image and audio parts in order; raises UnsupportedContentError for anything this model cannot take."""
    files: list[object] = []
    for part in _parts(messages):
        if isinstance(part, TextPromptMessageContent):
            continue
        if isinstance(part, AudioPromptMessageContent):
            if audio is not True:
                raise audio_refusal(model, audio, part.filename)
        elif not isinstance(part, ImagePromptMessageContent):
            raise _kind_refusal(part)
        files.append(part)
    return files


def _is_download(part: MultiModalPromptMessageContent) -> bool:
    return not part.base64_data and not (part.url or "").strip().lower().startswith("data:")


class FileOptions(TypedDict, total=False):
    """What decides which files a prompt may hold (keyword arguments of the converters)."""

    audio: bool | None  # the model's audio capability: True, False or unknown (None); default False
    model: str  # named in refusals


def convert_files(
    messages: Sequence[PromptMessage], fetch: MediaFetcher = media_to_base64, **options: Unpack[FileOptions]
) -> dict[int, str]:
    """id(part) -> raw base64 for every image and audio part of `messages`."""
    files = check_parts(messages, audio=options.get("audio", False), model=options.get("model") or "this model")
    if not files:
        return {}
    budget = MediaBudget()
    try:
        return _convert(files, fetch, budget)
    finally:
        budget.release_claim()  # the downloaded files stay counted until they are freed


def _convert(files: list[object], fetch: MediaFetcher, budget: MediaBudget) -> dict[int, str]:
    budget.check_count(len(files))
    converted: dict[int, str] = {}
    downloads = [part for part in files if _is_download(part)]
    for part in files:
        if not _is_download(part):
            converted[id(part)] = fetch(part, budget)
    if len(downloads) == 1:
        converted[id(downloads[0])] = fetch(downloads[0], budget)
    elif downloads:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_DOWNLOADS, len(downloads))) as pool:
            futures = [(part, pool.submit(fetch, part, budget)) for part in downloads]
            try:
                for part, future in futures:
                    converted[id(part)] = future.result()
            except BaseException:
                budget.stop()  # the others end at their next read instead of downloading for nothing
                for _, future in futures:
                    future.cancel()
                raise
    return converted
