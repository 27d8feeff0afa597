"""Every user-visible text the package ships is written in every language manifest.yaml declares.

Dify shows a label, placeholder, help or option in the admin's interface language and falls back to English
when that language is missing, so a gap is an English field in an otherwise Japanese or Portuguese form.
"""

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DIFY_LANGUAGES = {"en_US", "zh_Hans", "ja_JP", "pt_BR"}  # the keys Dify's I18nObject knows
LANGUAGE_KEY = re.compile(r"^[a-z]{2}_[A-Za-z]{2,4}$")
FILE_NAME_FIELDS = {"icon_small", "icon_large", "icon_small_dark", "icon_large_dark"}  # file names, not text
MIN_WORDS_TO_TRANSLATE = 3  # shorter texts (Ollama, Base URL, Chat) may rightly read the same in every language


def _load_package_tool() -> ModuleType:
    # tools/ is a plain folder, not a package: load the packager by path to ask it what it ships.
    spec = importlib.util.spec_from_file_location("dify_package_tool_for_languages", REPO_ROOT / "tools/package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def declared_languages() -> set[str]:
    manifest = yaml.safe_load((REPO_ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    return set(manifest["label"]) | set(manifest.get("description") or {})


def packaged_yaml_files() -> list[str]:
    files = _load_package_tool().collect_files(REPO_ROOT)
    return sorted(path for path in files if path.endswith((".yaml", ".yml")))


def _is_i18n_object(value: Any) -> bool:
    return isinstance(value, dict) and "en_US" in value and all(LANGUAGE_KEY.match(str(key)) for key in value)


def _item_name(item: Any, index: int) -> str:
    """A list item by what a reader knows it as: credential fields by variable, options by value."""
    if isinstance(item, dict):
        for key in ("variable", "value", "name", "model"):
            if isinstance(item.get(key), str):
                return item[key]
    return str(index)


def i18n_objects(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (field path, I18n object) for every translatable text under node."""
    if _is_i18n_object(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in FILE_NAME_FIELDS:
                yield from i18n_objects(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from i18n_objects(item, f"{path}[{_item_name(item, index)}]")


def language_problems(data: Any, languages: set[str]) -> list[str]:
    """One line per text that lacks a language, leaves it empty or copies the English of a longer text."""
    problems = []
    for path, text in i18n_objects(data):
        missing = sorted(languages - {key for key, value in text.items() if isinstance(value, str) and value.strip()})
        if missing:
            problems.append(f"{path} lacks {', '.join(missing)}")
        english = str(text["en_US"])
        if len(english.split()) >= MIN_WORDS_TO_TRANSLATE and not english.startswith(("http://", "https://")):
            copied = sorted(key for key, value in text.items() if key != "en_US" and value == english)
            if copied:
                problems.append(f"{path} has the English text as {', '.join(copied)}")
    return problems


def test_manifest_declares_every_language_dify_offers():
    assert declared_languages() == DIFY_LANGUAGES


def test_the_package_ships_the_provider_yaml_this_test_checks():
    files = packaged_yaml_files()
    assert "manifest.yaml" in files and "provider/ollama.yaml" in files


@pytest.mark.parametrize("relative_path", packaged_yaml_files())
def test_every_user_visible_text_has_every_declared_language(relative_path):
    data = yaml.safe_load((REPO_ROOT / relative_path).read_text(encoding="utf-8"))
    problems = language_problems(data, declared_languages())
    assert not problems, f"{relative_path}:\n  " + "\n  ".join(problems)


def test_every_credential_field_text_is_checked():
    """The walk reaches each field's label, placeholder and option labels (guards against a vacuous pass)."""
    provider = yaml.safe_load((REPO_ROOT / "provider/ollama.yaml").read_text(encoding="utf-8"))
    paths = {path for path, _ in i18n_objects(provider)}
    for field in provider["model_credential_schema"]["credential_form_schemas"]:
        prefix = f"model_credential_schema.credential_form_schemas[{field['variable']}]"
        assert f"{prefix}.label" in paths
        if "placeholder" in field:
            assert f"{prefix}.placeholder" in paths
        for option in field.get("options") or []:
            assert f"{prefix}.options[{option['value']}].label" in paths
    assert {"label", "description", "help.title", "help.url", "model_credential_schema.model.label"} <= paths


def test_a_missing_language_is_reported_with_the_field_path_and_the_languages():
    data = {
        "credential_form_schemas": [
            {
                "variable": "llm_mode",
                "label": {"en_US": "Mode", "zh_Hans": "模式"},
                "options": [
                    {"value": "chat", "label": {"en_US": "Chat", "zh_Hans": "对话", "ja_JP": "", "pt_BR": "Chat"}}
                ],
                "placeholder": {
                    "en_US": "Used for chat apps",
                    "zh_Hans": "用于聊天应用",
                    "ja_JP": "チャットアプリ向け",
                    "pt_BR": "Used for chat apps",
                },
            }
        ],
        "icon_small": {"en_US": "icon.svg"},
    }
    assert language_problems(data, DIFY_LANGUAGES) == [
        "credential_form_schemas[llm_mode].label lacks ja_JP, pt_BR",
        "credential_form_schemas[llm_mode].options[chat].label lacks ja_JP",
        "credential_form_schemas[llm_mode].placeholder has the English text as pt_BR",
    ]
