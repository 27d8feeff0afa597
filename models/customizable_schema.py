"""The schema that makes Dify list a model the user typed in (a customizable model) without LLM parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey, ModelType


def customizable_schema(
    model: str, model_type: ModelType, properties: Mapping[ModelPropertyKey, Any] | None = None
) -> AIModelEntity:
    return AIModelEntity(
        model=model,
        label=I18nObject(en_US=model),
        model_type=model_type,
        fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
        model_properties=dict(properties or {}),
        parameter_rules=[],
    )
