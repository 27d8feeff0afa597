"""Every reason a plugin cannot be packaged or installed: the manifest and provider rules, then whether
every file the plugin needs at runtime survives the ignore file (dify-plugin-daemon, read at bdb5642a,
packages only what pkg/plugin_packager/decoder/fs.go Walk keeps).
"""

from pathlib import Path

from .declaration_checks import Problem, Report
from .go_ignore import collect_files, ignore_file_name
from .manifest_rules import check_manifest
from .provider_rules import check_provider


def _check_packaged(report: Report) -> None:
    """Every file the plugin needs at runtime must survive the ignore file."""
    packaged = set(collect_files(report.plugin_dir))
    ignore_name = ignore_file_name(report.plugin_dir) or "the packager"
    for where, relative_path in report.needed_files:
        if relative_path not in packaged:
            message = f"needs {relative_path}, which {ignore_name} excludes from the package"
            report.add(where.file, where.field, message)


def find_problems(plugin_dir: Path) -> list[Problem]:
    report = Report(plugin_dir.resolve())
    for provider in check_manifest(report):
        check_provider(report, provider)
    if (report.plugin_dir / "requirements.txt").is_file():
        report.need("requirements.txt", None, "requirements.txt")
    else:
        # The CLI could generate it with `uv export` (packager.go); we require it so what Dify installs
        # is the reviewed, committed list.
        report.add("requirements.txt", None, "does not exist; the daemon installs the plugin's dependencies from it")
    _check_packaged(report)
    return list(dict.fromkeys(report.problems))


def validate_plugin(plugin_dir: Path) -> list[str]:
    """Every reason the plugin cannot be packaged or installed, one line each; empty when it is valid."""
    return [str(problem) for problem in find_problems(Path(plugin_dir))]
