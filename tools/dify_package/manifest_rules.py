"""The rules manifest.yaml must follow, as Dify's daemon checks them at packaging and install time.

Confirmed in dify-plugin-daemon (read at bdb5642a) pkg/entities/plugin_entities/plugin_declaration.go
(struct tags, and ManifestValidate, which runs at install time), manifest_entities/version.go and
internal/service/plugin_decoder.go; the file names are cited next to each rule. Go's regexp is RE2: \\d and
\\w are ASCII-only, hence re.ASCII.
"""

import datetime
import re
from typing import Any

from .declaration_checks import (
    MISSING,
    Report,
    check_asset,
    check_i18n,
    check_plugin_file,
    check_regex,
    check_with_sdk,
    load_yaml,
    lookup,
    plugin_relative,
)

VERSION_PATTERN = r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$"
AUTHOR_PATTERN = r"^[a-z0-9_-]{1,64}$"
NAME_PATTERN = r"^[a-z0-9_-]{1,128}$"
# The upload endpoint rejects authors that google/uuid.Parse accepts ("cannot set author to an UUID",
# internal/service/plugin_decoder.go); of its accepted forms only these two can pass AUTHOR_PATTERN.
UUID_PATTERN = r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$"
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
ENTRYPOINT_PATTERN = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"
ARCHES = ("amd64", "arm64")
OTHER_PLUGIN_KINDS = ("tools", "endpoints", "agent_strategies", "datasources", "triggers")
PLUGIN_TAGS = frozenset(
    [
        "search",
        "image",
        "videos",
        "weather",
        "finance",
        "design",
        "travel",
        "social",
        "news",
        "medical",
        "productivity",
        "education",
        "business",
        "entertainment",
        "utilities",
        "agent",
        "rag",
        "other",
        "trigger",
    ]
)
STORAGE_SIZE_RANGE = (1024, 1024**3)


def _check_rfc3339(report: Report, file: str, value: Any) -> None:
    if isinstance(value, datetime.datetime):  # PyYAML turns an unquoted timestamp into a datetime
        if value.tzinfo is None:
            report.add(file, "created_at", f"must be an RFC 3339 time with a timezone (got {value.isoformat()})")
        return
    if value is MISSING or value is None:
        report.add(file, "created_at", "is required (RFC 3339 time, e.g. 2026-01-31T00:00:00Z)")
        return
    valid = isinstance(value, str) and re.fullmatch(RFC3339_PATTERN, value, re.ASCII)
    if valid:
        try:
            datetime.datetime.fromisoformat(value.upper())
        except ValueError:
            valid = False
    if not valid:
        report.add(file, "created_at", f"must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z (got {value!r})")


def _check_identity_fields(report: Report, file: str, data: dict[str, Any]) -> None:
    check_regex(report, file, data, "version", VERSION_PATTERN)
    if data.get("type") != "plugin":
        report.add(file, "type", f"must be 'plugin' (got {data.get('type')!r})")
    author = check_regex(report, file, data, "author", AUTHOR_PATTERN)
    if author and re.fullmatch(UUID_PATTERN, author):
        report.add(file, "author", f"must not look like a UUID; Dify rejects such packages (got {author!r})")
    check_regex(report, file, data, "name", NAME_PATTERN)
    check_i18n(report, file, "label", data.get("label", MISSING))
    check_i18n(report, file, "description", data.get("description", MISSING))
    check_asset(report, file, "icon", data.get("icon"), max_length=128)
    if data.get("icon_dark") is not None:
        check_asset(report, file, "icon_dark", data["icon_dark"], max_length=128)
    _check_rfc3339(report, file, data.get("created_at", MISSING))
    tags = data.get("tags") or []
    if not isinstance(tags, list):
        report.add(file, "tags", f"must be a list (got {tags!r})")
        tags = []
    for index, tag in enumerate(tags):
        if tag not in PLUGIN_TAGS:
            report.add(file, f"tags[{index}]", f"must be one of {', '.join(sorted(PLUGIN_TAGS))} (got {tag!r})")
    repo = data.get("repo")
    if repo is not None and not (isinstance(repo, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S", repo)):
        report.add(file, "repo", f"must be a URL (got {repo!r})")


def _check_resource(report: Report, file: str, data: dict[str, Any]) -> None:
    memory = lookup(data, "resource.memory")
    if isinstance(memory, bool) or not isinstance(memory, int) or memory <= 0:
        shown = "nothing" if memory is MISSING else repr(memory)
        report.add(file, "resource.memory", f"must be a positive integer number of bytes (got {shown})")
    storage_size = lookup(data, "resource.permission.storage.size")
    low, high = STORAGE_SIZE_RANGE
    if (
        storage_size is not MISSING
        and storage_size is not None
        and not (isinstance(storage_size, int) and not isinstance(storage_size, bool) and low <= storage_size <= high)
    ):
        report.add(file, "resource.permission.storage.size", f"must be {low}..{high} bytes (got {storage_size!r})")


def _check_plugins(report: Report, file: str, data: dict[str, Any]) -> list[str]:
    """Check `plugins`; returns the provider YAML paths that exist, for the provider checks."""
    models = lookup(data, "plugins.models")
    if not isinstance(models, list) or not models:
        shown = "nothing" if models is MISSING else repr(models)
        report.add(file, "plugins.models", f"must be a non-empty list of provider YAML paths (got {shown})")
        models = []
    for kind in OTHER_PLUGIN_KINDS:
        if lookup(data, f"plugins.{kind}") not in (MISSING, None, []):
            report.add(file, f"plugins.{kind}", "must be empty: a models plugin cannot provide other kinds")
    providers = []
    for index, entry in enumerate(models):
        dotted = f"plugins.models[{index}]"
        if isinstance(entry, str) and len(entry) > 128:
            report.add(file, dotted, f"must be at most 128 characters (got {len(entry)})")
        elif path := check_plugin_file(report, file, dotted, entry, "provider YAML file"):
            providers.append(plugin_relative(report.plugin_dir, path))
    return providers


def _check_meta(report: Report, file: str, data: dict[str, Any]) -> None:
    check_regex(report, file, data, "meta.version", VERSION_PATTERN)
    arch = lookup(data, "meta.arch")
    if not isinstance(arch, list) or not arch:
        report.add(file, "meta.arch", f"must be a non-empty list of {' / '.join(ARCHES)} (got {arch!r})")
    else:
        for index, value in enumerate(arch):
            if value not in ARCHES:
                report.add(file, f"meta.arch[{index}]", f"must be one of {', '.join(ARCHES)} (got {value!r})")
    language = lookup(data, "meta.runner.language")
    if language != "python":
        report.add(file, "meta.runner.language", f"must be 'python' (got {language!r})")
    version = lookup(data, "meta.runner.version")
    if not isinstance(version, str) or not version or len(version) > 128:
        report.add(file, "meta.runner.version", f"must be a quoted string of 1..128 characters (got {version!r})")
    _check_entrypoint(report, file, lookup(data, "meta.runner.entrypoint"))


def _check_entrypoint(report: Report, file: str, entrypoint: Any) -> None:
    """The daemon runs `python -m <entrypoint>` (local_runtime/subprocess.go), so the module must exist."""
    dotted = "meta.runner.entrypoint"
    if not isinstance(entrypoint, str) or len(entrypoint) > 256 or not re.fullmatch(ENTRYPOINT_PATTERN, entrypoint):
        report.add(file, dotted, f"must be a Python module name such as 'main' (got {entrypoint!r})")
        return
    module_path = entrypoint.replace(".", "/")
    for candidate in (f"{module_path}.py", f"{module_path}/__main__.py"):
        if (report.plugin_dir / candidate).is_file():
            report.need(file, dotted, candidate)
            return
    report.add(file, dotted, f"names module {entrypoint!r}, but {module_path}.py does not exist")


def check_manifest(report: Report) -> list[str]:
    """Validate manifest.yaml; returns the provider YAML paths it references that exist."""
    file = "manifest.yaml"
    path = report.plugin_dir / file
    if not path.is_file():
        report.add(file, None, "does not exist")
        return []
    report.need(file, None, file)
    data, error = load_yaml(path)
    if error or not isinstance(data, dict):
        report.add(file, None, error or "must be a YAML mapping")
        return []
    _check_identity_fields(report, file, data)
    _check_resource(report, file, data)
    providers = _check_plugins(report, file, data)
    _check_meta(report, file, data)

    from dify_plugin.core.entities.plugin.setup import PluginConfiguration

    check_with_sdk(report, file, PluginConfiguration, data, "PluginConfiguration")
    return providers
