"""Files in docs/ that users copy into their own systems stay valid and in step with copier.yml."""

from __future__ import annotations

import subprocess
import sys

import yaml

from harness.repo import TEMPLATE_ROOT

BACKSTAGE = TEMPLATE_ROOT / "docs/backstage"


def questions() -> dict[str, dict[str, object]]:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    return {name: spec for name, spec in config.items() if not name.startswith("_")}


def test_backstage_template_offers_the_questionnaires_choices_and_defaults() -> None:
    """Every guidance question appears in the portal form with copier.yml's choices and default."""
    template = yaml.safe_load((BACKSTAGE / "template.yaml").read_text())
    fields: dict[str, dict[str, object]] = {}
    for page in template["spec"]["parameters"]:
        fields.update(page["properties"])
    for name in ("consumers", "realtime", "ml", "team", "priority", "background_jobs"):
        spec = questions()[name]
        assert spec["default"] == fields[name]["default"], name
        if "choices" in spec:
            assert sorted(spec["choices"].values()) == sorted(fields[name]["enum"]), name
    architectures = set(questions()["architecture"]["choices"].values())
    assert architectures | {"recommended"} == set(fields["architecture"]["enum"])


def test_backstage_dispatch_matches_the_workflow_inputs() -> None:
    """The template sends exactly the inputs scaffold.yml declares (GitHub allows at most 10)."""
    template = yaml.safe_load((BACKSTAGE / "template.yaml").read_text())
    sent = set(template["spec"]["steps"][0]["input"]["workflowInputs"])
    workflow = yaml.safe_load((BACKSTAGE / "scaffold.yml").read_text())
    declared = set(workflow[True]["workflow_dispatch"]["inputs"])  # YAML reads `on:` as True
    assert declared == sent
    assert len(sent) <= 10


def test_scaffold_workflow_matches_the_github_schema() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(BACKSTAGE / "scaffold.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == result.returncode, result.stdout + result.stderr
