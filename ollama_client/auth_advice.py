"""Advice for a 401/403 or a model not found that fits the case: a local server not signed in to
ollama.com, no API key entered, a key refused, or a cloud model (which `ollama pull` cannot fetch)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_CLOUD_SUFFIX = re.compile(r"(:cloud|-cloud)$", re.IGNORECASE)
CLOUD_MODELS_PAGE = "https://ollama.com/search?c=cloud"


def on_ollama_com(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in ("ollama.com", "www.ollama.com")


def is_cloud_model(model: str | None, url: str) -> bool:
    """A model run on ollama.com: called there directly, or a `-cloud` / `:cloud` name on a local server."""
    return on_ollama_com(url) or bool(_CLOUD_SUFFIX.search((model or "").strip()))


def cloud_model_not_found_advice(model: str | None, url: str) -> str:
    name = (model or "").strip()
    if on_ollama_com(url):
        bare = _CLOUD_SUFFIX.sub("", name)
        if bare != name:
            return (
                "On https://ollama.com itself cloud models are named without the '-cloud' suffix or ':cloud' tag: "
                f"use '{bare}' (with its size tag, as listed at {CLOUD_MODELS_PAGE})."
            )
        return (
            f"That is not a cloud model name on ollama.com: use the exact name and size tag listed at "
            f"{CLOUD_MODELS_PAGE}."
        )
    return (
        f"'{name}' is a cloud model, which is not downloaded: use its exact name with its size tag and '-cloud' "
        f"suffix as listed at {CLOUD_MODELS_PAGE} (e.g. gpt-oss:120b-cloud), and sign this server in with "
        "`ollama signin` on its machine. Or set the Base URL to https://ollama.com with an API key and use the "
        "name without '-cloud'."
    )


def unauthorized_advice(url: str, model: str | None, body: bytes, api_key_sent: bool | None) -> str:
    if b"signin_url" in body or (not on_ollama_com(url) and is_cloud_model(model, url)):
        # A local server proxies cloud models to ollama.com with its own sign-in, not with our key.
        return (
            "This server is not signed in to ollama.com, which its cloud models need: run `ollama signin` on the "
            "machine running Ollama (the API key field does not sign in a local server)."
        )
    if api_key_sent is False:
        if on_ollama_com(url):
            return (
                "No API key was entered, and https://ollama.com needs one: create a key at "
                "ollama.com/settings/keys and paste it into the API key field."
            )
        return (
            "No API key was entered, but the server (or a proxy in front of it) asks for one: put it into the "
            "API key field (a key for https://ollama.com comes from ollama.com/settings/keys)."
        )
    if api_key_sent:
        if on_ollama_com(url):
            return (
                "The API key was refused: it is wrong or was revoked. Create or copy a key at "
                "ollama.com/settings/keys and paste it again, without 'Bearer' or spaces."
            )
        return (
            "The API key was refused: enter the key that the proxy in front of this server expects (Ollama "
            "itself checks no key), without 'Bearer' or spaces."
        )
    return (
        "Check the API key field: https://ollama.com needs a key from ollama.com/settings/keys; "
        "a local Ollama needs none unless a proxy in front of it checks one. For a ':cloud' model "
        "on a local server, run `ollama signin` there."
    )
