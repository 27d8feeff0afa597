"""What tools/package.py refuses to package, each problem named by file and field: manifest.yaml, the provider
YAML and its model YAMLs, and the icons they name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools.demo_plugin import (
    DELETE,
    PNG,
    SVG,
    VALID_MANIFEST,
    VALID_PROVIDER,
    assert_a_problem_contains,
    make_plugin,
    package,
    with_field,
    write_files,
)

# ---------------------------------------------------------------------------------------------------------
# Manifest validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        (
            "author",
            "LangGenius",
            "manifest.yaml: field 'author' must match ^[a-z0-9_-]{1,64}$ (got 'LangGenius')",
        ),
        ("author", "123e4567-e89b-12d3-a456-426614174000", "field 'author' must not look like a UUID"),
        ("name", "Demo Plugin", "field 'name' must match ^[a-z0-9_-]{1,128}$"),
        ("version", "1.0", "field 'version' must match"),
        ("meta.version", "v1.0.0", "field 'meta.version' must match"),
        ("type", "tool", "field 'type' must be 'plugin'"),
        ("icon", "missing.svg", "field 'icon' names _assets/missing.svg, which does not exist"),
        ("icon", "../main.py", "field 'icon' must be a path inside _assets/"),
        ("label", {"en_US": "Demo", "fr_FR": "Démo"}, "field 'label.fr_FR' is not a supported language"),
        ("label", {"zh_Hans": "演示"}, "field 'label.en_US' is required and must not be empty"),
        ("description", {"en_US": "x" * 1024}, "field 'description.en_US' must be shorter than 1024"),
        ("meta.arch", ["x86_64"], "field 'meta.arch[0]' must be one of amd64, arm64 (got 'x86_64')"),
        ("meta.arch", [], "field 'meta.arch' must be a non-empty list"),
        ("meta.runner.language", "go", "field 'meta.runner.language' must be 'python'"),
        ("meta.runner.version", 3.12, "field 'meta.runner.version' must be a quoted string"),
        ("meta.runner.entrypoint", "app", "field 'meta.runner.entrypoint' names module 'app', but app.py"),
        ("created_at", DELETE, "field 'created_at' is required"),
        ("created_at", "31/01/2026", "field 'created_at' must be an RFC 3339 time"),
        ("resource.memory", 0, "field 'resource.memory' must be a positive integer"),
        ("plugins.models", [], "field 'plugins.models' must be a non-empty list"),
        ("plugins.models", ["provider/nope.yaml"], "field 'plugins.models[0]' names provider/nope.yaml"),
        ("plugins.tools", ["tools/t.yaml"], "field 'plugins.tools' must be empty"),
        ("tags", ["nonsense"], "field 'tags[0]' must be one of"),
        # Rules only the SDK's pydantic model knows are reported with its field path too.
        ("meta.minimum_dify_version", "not a version", "field 'meta.minimum_dify_version' Value error"),
    ],
)
def test_broken_manifest_field_is_named(tmp_path: Path, dotted: str, value: Any, expected: str) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=with_field(VALID_MANIFEST, dotted, value))

    problems = package.validate_plugin(plugin)

    assert_a_problem_contains(problems, expected)
    with pytest.raises(package.PackageError):
        package.build_package(plugin)
    assert not (plugin / "dist").exists()


def test_cli_refuses_a_broken_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=with_field(VALID_MANIFEST, "author", "LangGenius"))

    assert package.main(["--plugin-dir", str(plugin)]) == 1

    assert "error: manifest.yaml: field 'author'" in capsys.readouterr().err
    assert not (plugin / "dist").exists()


def test_sdk_errors_are_not_repeated_for_fields_already_reported(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=with_field(VALID_MANIFEST, "meta.arch", ["x86_64"]))

    problems = package.validate_plugin(plugin)

    assert problems == ["manifest.yaml: field 'meta.arch[0]' must be one of amd64, arm64 (got 'x86_64')"]


def test_missing_requirements_txt_is_refused(plugin_dir: Path) -> None:
    (plugin_dir / "requirements.txt").unlink()

    assert_a_problem_contains(package.validate_plugin(plugin_dir), "requirements.txt: does not exist")


def test_needed_file_excluded_by_difyignore_is_refused(plugin_dir: Path) -> None:
    write_files(plugin_dir, {".difyignore": "_assets/\n"})

    problems = package.validate_plugin(plugin_dir)

    assert_a_problem_contains(problems, "field 'icon' needs _assets/icon.svg, which .difyignore excludes")


# ---------------------------------------------------------------------------------------------------------
# Provider YAML validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        (
            "configurate_methods",
            ["magic-model"],
            "provider/demo.yaml: field 'configurate_methods[0]' Input should",
        ),
        ("label", DELETE, "provider/demo.yaml: field 'label' Field required"),
        ("extra", DELETE, "provider/demo.yaml: field 'extra' Field required"),
        ("supported_model_types", ["llm", "video"], "field 'supported_model_types[1]'"),
        (
            "model_credential_schema.credential_form_schemas",
            [{"variable": "key", "label": {"en_US": "Key"}, "type": "password"}],
            "field 'model_credential_schema.credential_form_schemas[0].type'",
        ),
        (
            "icon_small",
            {"en_US": "icon.svg", "zh_Hans": "nope.svg"},
            "field 'icon_small.zh_Hans' names _assets/nope",
        ),
        (
            "extra.python.provider_source",
            "provider/nope.py",
            "field 'extra.python.provider_source' names provider/",
        ),
        (
            "extra.python.model_sources",
            ["models/nope.py"],
            "field 'extra.python.model_sources[0]' names models/",
        ),
    ],
)
def test_broken_provider_field_is_named(tmp_path: Path, dotted: str, value: Any, expected: str) -> None:
    plugin = make_plugin(tmp_path / "plugin", provider=with_field(VALID_PROVIDER, dotted, value))

    assert_a_problem_contains(package.validate_plugin(plugin), expected)


def test_broken_predefined_model_yaml_is_named(plugin_dir: Path) -> None:
    provider = with_field(VALID_PROVIDER, "models", {"llm": {"predefined": ["models/llm/*.yaml"]}})
    make_plugin(plugin_dir, provider=provider)
    write_files(plugin_dir, {"models/llm/broken.yaml": yaml.safe_dump({"model": "x", "label": {"en_US": "X"}})})

    problems = package.validate_plugin(plugin_dir)

    assert_a_problem_contains(problems, "models/llm/broken.yaml: field 'model_type' Field required")
    assert not any(problem.startswith("provider/demo.yaml") for problem in problems)


# ---------------------------------------------------------------------------------------------------------
# Icons
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>", "which is not a valid SVG (XML parse error"),
        ("<html><body/></html>", "which is not a valid SVG (root element is <html>)"),
        ("", "which is not a valid SVG"),
    ],
)
def test_invalid_svg_is_refused(plugin_dir: Path, content: str, expected: str) -> None:
    write_files(plugin_dir, {"_assets/icon.svg": content})

    problems = package.validate_plugin(plugin_dir)

    assert_a_problem_contains(problems, f"manifest.yaml: field 'icon' names _assets/icon.svg, {expected}")
    assert_a_problem_contains(
        problems, f"provider/demo.yaml: field 'icon_small.en_US' names _assets/icon.svg, {expected}"
    )


def test_png_icons_are_checked_by_signature(tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path / "plugin", manifest=with_field(VALID_MANIFEST, "icon", "icon.png"))
    write_files(plugin, {"_assets/icon.png": PNG})
    assert package.validate_plugin(plugin) == []

    write_files(plugin, {"_assets/icon.png": SVG})

    assert_a_problem_contains(
        package.validate_plugin(plugin), "field 'icon' names _assets/icon.png, which is not a valid PNG"
    )
