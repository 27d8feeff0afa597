"""The rules a model provider YAML and its predefined model YAMLs must follow.

Icons are checked as dify-plugin-daemon (read at bdb5642a) pkg/plugin_packager/decoder/helper.go
CheckAssetsValid does; model YAMLs are found the way the SDK's ProviderEntity.validate_models
(dify_plugin entities/model/provider.py) globs them, and every file is loaded with the SDK's own models.
"""

from typing import Any

from pydantic import ValidationError

from .declaration_checks import (
    MISSING,
    Report,
    check_asset,
    check_plugin_file,
    check_with_sdk,
    error_field_path,
    load_yaml,
    lookup,
    plugin_relative,
)

# The daemon checks icon_small/icon_large (decoder/helper.go CheckAssetsValid); Dify also shows the dark ones.
PROVIDER_ICON_FIELDS = ("icon_small", "icon_large", "icon_small_dark", "icon_large_dark")
MODEL_TYPES = ("llm", "text_embedding", "rerank", "tts", "speech2text", "moderation")


def _check_model_schemas(report: Report, models: Any) -> bool:
    """Validate predefined model YAMLs one by one so errors name their file; returns True if all are valid.

    Mirrors the globbing of the SDK's ProviderEntity.validate_models (entities/model/provider.py).
    """
    from dify_plugin.entities.model import AIModelEntity

    all_valid = True
    if not isinstance(models, dict):
        return all_valid
    for model_type in MODEL_TYPES:
        settings = models.get(model_type)
        globs = settings.get("predefined", []) if isinstance(settings, dict) else []
        for pattern in globs if isinstance(globs, list) else []:
            try:
                matches = sorted(report.plugin_dir.glob(str(pattern)))
            except (NotImplementedError, ValueError):
                continue  # the SDK fails on such a glob too; its error is reported with the provider
            for path in matches:
                if path.name.endswith("_position.yaml"):
                    continue
                file = plugin_relative(report.plugin_dir, path)
                report.need(file, None, file)
                data, error = load_yaml(path)
                try:
                    if error:
                        raise ValueError(error)
                    AIModelEntity(**(data or {}))
                except ValidationError as invalid:
                    all_valid = False
                    for item in invalid.errors():
                        message = f"{item['msg']} (dify_plugin AIModelEntity)"
                        report.add(file, error_field_path(item["loc"]) or None, message)
                except Exception as failure:
                    all_valid = False
                    report.add(file, None, f"is rejected by dify_plugin AIModelEntity: {failure}")
    return all_valid


def check_provider(report: Report, file: str) -> None:
    data, error = load_yaml(report.plugin_dir / file)
    if error or not isinstance(data, dict):
        report.add(file, None, error or "must be a YAML mapping")
        return
    for icon_field in PROVIDER_ICON_FIELDS:
        icons = data.get(icon_field)
        if isinstance(icons, dict):
            for language, name in icons.items():
                if name:
                    check_asset(report, file, f"{icon_field}.{language}", name)
    source = lookup(data, "extra.python.provider_source")
    if source is not MISSING:
        check_plugin_file(report, file, "extra.python.provider_source", source, "Python source file")
    model_sources = lookup(data, "extra.python.model_sources")
    if isinstance(model_sources, list):
        for index, model_source in enumerate(model_sources):
            dotted = f"extra.python.model_sources[{index}]"
            check_plugin_file(report, file, dotted, model_source, "Python source file")
    models_valid = _check_model_schemas(report, data.get("models"))
    # Invalid model files were reported by name; keep the SDK from repeating them without the file name.
    sdk_data = data if models_valid else {key: value for key, value in data.items() if key != "models"}

    from dify_plugin.entities.model.provider import ModelProviderConfiguration

    check_with_sdk(report, file, ModelProviderConfiguration, sdk_data, "ModelProviderConfiguration")
