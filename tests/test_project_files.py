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
    assert names == {"dify-plugin", "httpx", "httpcore", "pydantic", "pyyaml"}


def test_versions_agree_between_manifest_and_pyproject():
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert manifest["version"] == manifest["meta"]["version"] == project["version"]
    assert f"/{project['version']}" in (ROOT / "ollama_client" / "pool.py").read_text(), "User-Agent version"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# README field tables: the "Shown for" column must say what the form in Dify does (show_on in provider/ollama.yaml).

MODEL_TYPE_NAMES = {
    "llm": "LLM",
    "text-embedding": "Text embedding",
    "rerank": "Rerank",
    "speech2text": "Speech to text",
    "tts": "Text to speech",
    "moderation": "Moderation",
}


def _short_option_label(field: dict, value: str) -> str:
    """'Compatible rerank service (Jina, …): Base URL = …' -> 'Compatible rerank service', as README names it."""
    option = next(option for option in field["options"] if option["value"] == value)
    return re.split(r" \(|:", option["label"]["en_US"], maxsplit=1)[0].strip()


def _form_fields() -> list[tuple[str, str, str, list[str]]]:
    """(variable, English label, model type name or 'All', short labels of the other show_on conditions)."""
    schema = yaml.safe_load((ROOT / "provider" / "ollama.yaml").read_text())["model_credential_schema"]
    by_variable = {field["variable"]: field for field in schema["credential_form_schemas"]}
    fields = [("model", schema["model"]["label"]["en_US"], "All", [])]
    for field in schema["credential_form_schemas"]:
        model_type, conditions = "All", []
        for condition in field.get("show_on") or []:
            if condition["variable"] == "__model_type":
                model_type = MODEL_TYPE_NAMES[condition["value"]]
            else:
                conditions.append(_short_option_label(by_variable[condition["variable"]], condition["value"]))
        fields.append((field["variable"], field["label"]["en_US"], model_type, conditions))
    return fields


def _split_row(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _readme_field_rows() -> list[tuple[set[str], str]]:
    """(field labels, 'Shown for' cell) for each row of the README tables that have a 'Shown for' column.

    A row may name several fields: 'Query prefix / Document prefix', or 'Vision / Tool calling / Thinking /
    Structured output support', where the last word applies to every name.
    """
    rows, column = [], None
    for line in (ROOT / "README.md").read_text().splitlines():
        if not line.startswith("|"):
            column = None
            continue
        cells = _split_row(line)
        if column is None:
            column = cells.index("Shown for") if "Shown for" in cells else -1
        elif column >= 0 and not set(line) <= set("|-: "):
            names = [name.strip() for name in cells[0].split(" / ")]
            suffix = names[-1].split()[-1]
            labels = {name if name.endswith(suffix) else f"{name} {suffix}" for name in names}
            rows.append((labels, cells[column]))
    return rows


def _shown_for_matches(cell: str, model_type: str, conditions: list[str]) -> bool:
    if model_type == "All":
        return cell == "All"
    return cell.split(",")[0].strip() == model_type and all(f"*{condition}*" in cell for condition in conditions)


def test_readme_tables_say_which_model_types_show_each_credential_field():
    rows = _readme_field_rows()
    assert len(rows) >= 20, "the README field tables lost their 'Shown for' column"
    undocumented = [
        f"{variable} ('{label}', shown for {model_type}{''.join(f', {c}' for c in conditions)})"
        for variable, label, model_type, conditions in _form_fields()
        if not any(label in labels and _shown_for_matches(cell, model_type, conditions) for labels, cell in rows)
    ]
    assert not undocumented, "README has no field-table row with this label and 'Shown for' value: " + "; ".join(
        undocumented
    )


def test_readme_field_rows_name_fields_that_exist_where_the_form_shows_them():
    fields = _form_fields()
    stale = [
        f"'{label}' marked '{cell}'"
        for labels, cell in _readme_field_rows()
        for label in labels
        if not any(
            label == field_label and _shown_for_matches(cell, model_type, conditions)
            for _, field_label, model_type, conditions in fields
        )
    ]
    assert not stale, "README field rows that match no credential field of provider/ollama.yaml: " + "; ".join(stale)


def test_provider_help_link_is_titled_for_the_page_it_opens():
    """The link under the credential form used to promise a Dify set-up guide and open Ollama's API reference."""
    help_link = yaml.safe_load((ROOT / "provider" / "ollama.yaml").read_text())["help"]
    assert set(help_link["url"].values()) == {"https://docs.ollama.com/faq"}
    assert help_link["title"]["en_US"].startswith("Ollama FAQ")
    assert "Dify" not in help_link["title"]["en_US"]
