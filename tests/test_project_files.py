"""The files Dify's daemon and packaging read stay consistent with each other."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def normalise(requirement: str) -> str:
    name, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", requirement.strip()).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + ":" + ",".join(sorted(spec.replace(" ", "").split(",")))


def test_requirements_txt_and_pyproject_dependencies_agree():
    lines = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(map(normalise, lines)) == sorted(map(normalise, project["dependencies"]))


def test_runtime_dependencies_are_only_the_allowed_ones():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {normalise(d).split(":")[0] for d in project["dependencies"]}
    assert names == {"dify-plugin", "httpx", "pydantic", "pyyaml"}


def test_versions_agree_between_manifest_and_pyproject():
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert manifest["version"] == manifest["meta"]["version"] == project["version"]
    assert f"/{project['version']}" in (ROOT / "ollama_client" / "client.py").read_text(), "User-Agent version"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
