"""A small plugin written under tmp_path for the packager's tests, and ways to break one field of it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.tools.support import load_tool

package = load_tool("package.py")

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16"/></svg>\n'
PNG = package.PNG_MAGIC + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
DELETE = object()  # as the value given to with_field: remove the field

VALID_MANIFEST: dict[str, Any] = {
    "version": "0.1.0",
    "type": "plugin",
    "author": "someone",
    "name": "demo",
    "label": {"en_US": "Demo", "zh_Hans": "演示"},
    "description": {"en_US": "A demo model provider."},
    "icon": "icon.svg",
    "created_at": "2026-01-31T00:00:00Z",
    "resource": {"memory": 268435456, "permission": {"model": {"enabled": True, "llm": True}}},
    "plugins": {"models": ["provider/demo.yaml"]},
    "meta": {
        "version": "0.1.0",
        "arch": ["amd64", "arm64"],
        "runner": {"language": "python", "version": "3.12", "entrypoint": "main"},
    },
}

VALID_PROVIDER: dict[str, Any] = {
    "provider": "demo",
    "label": {"en_US": "Demo"},
    "icon_small": {"en_US": "icon.svg"},
    "icon_large": {"en_US": "icon.svg"},
    "supported_model_types": ["llm"],
    "configurate_methods": ["customizable-model"],
    "model_credential_schema": {
        "model": {"label": {"en_US": "Model name"}},
        "credential_form_schemas": [
            {"variable": "base_url", "label": {"en_US": "Base URL"}, "type": "text-input", "required": True},
        ],
    },
    "extra": {"python": {"provider_source": "provider/demo.py", "model_sources": ["models/llm/llm.py"]}},
}


def with_field(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of document with one dotted field replaced (or removed when value is DELETE)."""
    changed = copy.deepcopy(document)
    *parents, last = dotted.split(".")
    target = changed
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return changed


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_plugin(root: Path, manifest: dict[str, Any] | None = None, provider: dict[str, Any] | None = None) -> Path:
    write_files(
        root,
        {
            "manifest.yaml": yaml.safe_dump(manifest or VALID_MANIFEST, allow_unicode=True, sort_keys=False),
            "provider/demo.yaml": yaml.safe_dump(provider or VALID_PROVIDER, allow_unicode=True, sort_keys=False),
            "provider/demo.py": "class DemoProvider:\n    pass\n",
            "models/llm/llm.py": "class DemoLLM:\n    pass\n",
            "_assets/icon.svg": SVG,
            "main.py": "print('plugin')\n",
            "requirements.txt": "dify_plugin>=0.10.2,<0.11\n",
        },
    )
    return root


def assert_a_problem_contains(problems: list[str], expected: str) -> None:
    """At least one of the problems found contains `expected`."""
    assert any(expected in problem for problem in problems), f"{expected!r} not in {problems}"
