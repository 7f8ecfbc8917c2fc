"""Render tier: a curated matrix of architectures and options renders into well-formed projects."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import copied
from pytest_copie.plugin import Copie

# Curated, not exhaustive: every architecture, every dependency set, each option on and off once.
MATRIX: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api"},
    "node-api-realtime-mit": {"architecture": "node-api", "realtime": True, "license": "MIT"},
    "node-api-no-jobs-apache": {
        "architecture": "node-api",
        "background_jobs": False,
        "license": "Apache-2.0",
    },
    "python-api-web": {"architecture": "python-api", "ml": "none", "background_jobs": False},
    "python-api-jobs-realtime": {
        "architecture": "python-api",
        "ml": "hosted-apis",
        "realtime": True,
    },
    "python-api-model": {"architecture": "python-api", "ml": "core", "consumers": "internal"},
    "hybrid": {"architecture": "hybrid", "ml": "core", "realtime": True},
    "hybrid-no-jobs": {"architecture": "hybrid", "ml": "core", "background_jobs": False},
}

# A Jinja delimiter left in the output, but not GitHub Actions' `${{ ... }}` expressions.
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#")


@pytest.fixture(scope="module")
def rendered_project(copie_session: Copie) -> Callable[..., Path]:
    """Renders of this module's own, one per variant, by pytest-copie: the generated-project tier
    installs dependencies into the session-wide renders, and this tier checks only what Copier
    wrote."""
    cache: dict[tuple[tuple[str, Any], ...], Path] = {}

    def _rendered(**answers: Any) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            cache[key] = copied(copie_session, **answers)
        return cache[key]

    return _rendered


@pytest.fixture(params=sorted(MATRIX), scope="module")
def variant(
    request: pytest.FixtureRequest, rendered_project: Callable[..., Path]
) -> tuple[str, Path]:
    return request.param, rendered_project(**MATRIX[request.param])


def files_of(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts)


def relative_paths(project: Path) -> set[str]:
    return {p.relative_to(project).as_posix() for p in files_of(project)}


class TestEveryVariant:
    def test_no_jinja_is_left_unrendered(self, variant: tuple[str, Path]) -> None:
        """No `{{`, `{%` or `{#` survives rendering in any text file."""
        _, project = variant
        leftovers = []
        for path in files_of(project):
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                continue  # binary files (the ONNX model)
            leftovers += [
                f"{path.relative_to(project)}:{m.group()}" for m in LEFTOVER_JINJA.finditer(text)
            ]
        assert [] == leftovers

    def test_structured_files_parse(self, variant: tuple[str, Path]) -> None:
        """Every YAML, JSON and TOML file is well-formed."""
        _, project = variant
        parsers = {
            ".yml": yaml.safe_load,
            # Kubernetes manifests hold several documents per file.
            ".yaml": lambda text: list(yaml.safe_load_all(text)),
            ".json": json.loads,
            ".toml": tomllib.loads,
            ".lock": tomllib.loads,  # uv.lock is TOML
        }
        for path in files_of(project):
            parse = parsers.get(path.suffix)
            if parse is not None:
                try:
                    parse(path.read_text())
                except Exception as error:  # noqa: BLE001 - report which file, whatever the parser
                    pytest.fail(f"{path.relative_to(project)} does not parse: {error}")

    def test_compose_and_workflows_match_their_published_schemas(
        self, variant: tuple[str, Path]
    ) -> None:
        """compose.yaml passes the Compose spec and each workflow the GitHub Actions schema (offline)."""
        _, project = variant
        checks = [
            ("vendor.compose-spec", [project / "compose.yaml"]),
            ("vendor.github-workflows", sorted((project / ".github/workflows").glob("*.yml"))),
        ]
        for schema, paths in checks:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "check_jsonschema",
                    "--builtin-schema",
                    schema,
                    *map(str, paths),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            assert 0 == result.returncode, result.stdout + result.stderr

    def test_compose_builds_only_services_that_exist(self, variant: tuple[str, Path]) -> None:
        """Every build context and Dockerfile that compose.yaml names is in the project."""
        _, project = variant
        services = yaml.safe_load((project / "compose.yaml").read_text())["services"]
        for name, service in services.items():
            build = service.get("build")
            if build:
                context = project / build["context"]
                dockerfile = project / build.get(
                    "dockerfile", Path(build["context"]) / "Dockerfile"
                )
                assert context.is_dir(), name
                assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"

    def test_compose_observability_profile_is_wired(self, variant: tuple[str, Path]) -> None:
        """The `observability` profile: the collector's config (compose `configs:`) defines every
        receiver, processor and exporter its pipelines use; it receives OTLP/HTTP where the
        services' comments point (otel-collector:4318) and sends traces to the Jaeger service of
        the same profile, whose UI is published on loopback only. The images cannot be pulled
        here, so this is what the render tier checks of it."""
        _, project = variant
        compose = yaml.safe_load((project / "compose.yaml").read_text())
        services = compose["services"]
        for name in ("otel-collector", "jaeger"):
            assert ["observability"] == services[name]["profiles"], name
        collector = services["otel-collector"]
        source = collector["configs"][0]["source"]
        config = yaml.safe_load(compose["configs"][source]["content"])
        for pipeline in config["service"]["pipelines"].values():
            for kind in ("receivers", "processors", "exporters"):
                assert set(pipeline.get(kind, [])) <= set(config.get(kind) or {}), (kind, pipeline)
        assert "0.0.0.0:4318" == config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        assert "4318" in collector["expose"]
        jaeger = config["exporters"]["otlp/jaeger"]["endpoint"]
        assert "jaeger:4317" == jaeger and "4317" in services["jaeger"]["expose"]
        assert ["127.0.0.1:${JAEGER_UI_PORT:-16686}:16686"] == services["jaeger"]["ports"]
        for name, service in services.items():
            if "OTEL_EXPORTER_OTLP_ENDPOINT" in service.get("environment", {}):
                assert "observability" not in service.get("profiles", []), name

    def test_ci_calls_only_workflows_that_exist(self, variant: tuple[str, Path]) -> None:
        """ci.yml's reusable workflows are all rendered, and every rendered one is called."""
        _, project = variant
        workflows = project / ".github/workflows"
        jobs = yaml.safe_load((workflows / "ci.yml").read_text())["jobs"]
        called = {
            job["uses"].removeprefix("./.github/workflows/")
            for job in jobs.values()
            if "uses" in job
        }
        reusable = {p.name for p in workflows.glob("_*.yml")}
        assert reusable == called

    def test_shell_files_are_present(self, variant: tuple[str, Path]) -> None:
        """Every architecture gets the same project shell."""
        _, project = variant
        shell = {
            ".copier-answers.yml",
            "README.md",
            "LICENSE",
            ".gitignore",
            ".editorconfig",
            ".env.example",
            "compose.yaml",
            ".github/workflows/ci.yml",
            "docs/adr/0001-architecture.md",
            "docs/architecture.md",
        }
        assert shell <= relative_paths(project)
        assert not (project / ".env").exists()

    def test_answers_file_can_drive_updates(self, variant: tuple[str, Path]) -> None:
        """The answers file records the template source and commit that `copier update` needs."""
        name, project = variant
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert {"_src_path", "_commit"} <= answers.keys()
        assert MATRIX[name]["architecture"] == answers["architecture"]


class TestArchitectures:
    def test_node_api_renders_only_the_node_half(
        self, rendered_project: Callable[..., Path]
    ) -> None:
        """node-api has the Node service and contracts, and nothing of the Python service."""
        paths = relative_paths(rendered_project(**MATRIX["node-api"]))
        assert {"package.json", "package-lock.json", "services/api/package.json"} <= paths
        assert any(p.startswith("packages/contracts/") for p in paths)
        # scripts/lint.py is the project's lint gate (run with uv), not part of a Python service.
        assert not any(p.endswith((".py", "uv.lock")) for p in paths - {"scripts/lint.py"})

    def test_python_api_renders_only_the_python_half(
        self, rendered_project: Callable[..., Path]
    ) -> None:
        """python-api puts the Python service at services/api and renders no Node files."""
        paths = relative_paths(rendered_project(**MATRIX["python-api-web"]))
        assert {"services/api/pyproject.toml", "services/api/uv.lock"} <= paths
        assert not any(p.endswith((".ts", "package.json", "package-lock.json")) for p in paths)

    def test_model_is_served_only_when_ml_is_core(
        self, rendered_project: Callable[..., Path]
    ) -> None:
        """The ONNX model ships with python-api when ML is core, and not for plain web APIs."""
        with_model = relative_paths(rendered_project(**MATRIX["python-api-model"]))
        without = relative_paths(rendered_project(**MATRIX["python-api-web"]))
        assert any(p.endswith(".onnx") for p in with_model)
        assert not any(p.endswith(".onnx") for p in without)

    @pytest.mark.parametrize("options", [{}, {"background_jobs": False}, {"realtime": True}])
    def test_hybrid_is_a_superset_of_node_api(
        self, rendered_project: Callable[..., Path], options: dict[str, Any]
    ) -> None:
        """Every path node-api renders, hybrid renders too: node-api -> hybrid never deletes a file."""
        common = {"ml": "core", **options}
        node = relative_paths(rendered_project(architecture="node-api", **common))
        hybrid = relative_paths(rendered_project(architecture="hybrid", **common))
        assert set() == node - hybrid

    def test_hybrid_puts_the_python_service_at_services_ml(
        self, rendered_project: Callable[..., Path]
    ) -> None:
        """In hybrid the Python source lands at services/ml, with the model, next to the Node gateway."""
        paths = relative_paths(rendered_project(**MATRIX["hybrid"]))
        assert "services/ml/pyproject.toml" in paths
        assert any(p.startswith("services/ml/") and p.endswith(".onnx") for p in paths)
        assert "services/api/package.json" in paths


@pytest.mark.parametrize(
    ("license_id", "words"),
    [
        ("Proprietary", "All rights reserved"),
        ("MIT", "MIT License"),
        ("Apache-2.0", "Apache License, Version 2.0"),
    ],
)
def test_license_matches_the_answer(
    rendered_project: Callable[..., Path], license_id: str, words: str
) -> None:
    """The LICENSE file is the licence chosen, with the author's name."""
    variant = next(
        answers
        for answers in MATRIX.values()
        if answers.get("license", "Proprietary") == license_id
    )
    text = (rendered_project(**variant) / "LICENSE").read_text()
    assert words in text
    assert "Demo Team" in text


# Answers whose ADR and SECURITY.md must not promise what the project does not do: clients that do
# not import the contracts, no database, an ML service with no authentication in front of it.
HONEST_DOCS: dict[str, dict[str, Any]] = {
    "hybrid-public-realtime": {
        "architecture": "hybrid",
        "ml": "core",
        "consumers": "mobile-or-public",
        "realtime": True,
    },
    "node-api-no-database": {"architecture": "node-api", "database": "none"},
    "node-api-public-no-database": {
        "architecture": "node-api",
        "consumers": "mobile-or-public",
        "database": "none",
    },
    "python-api-internal": {"architecture": "python-api", "consumers": "internal", "ml": "core"},
    "node-api-open": {"architecture": "node-api", "auth": "none"},
    "hybrid-open": {"architecture": "hybrid", "ml": "core", "auth": "none"},
}


@pytest.mark.parametrize("name", sorted(HONEST_DOCS))
def test_adr_and_security_say_what_the_project_does_and_does_not(
    rendered_project: Callable[..., Path], name: str
) -> None:
    """Authentication (or, with auth=none, that the API is open), no TLS and (when so) no
    persistence are stated; nothing more is claimed."""
    answers = {
        "consumers": "typescript-web",
        "database": "postgres",
        "auth": "oidc",
        **HONEST_DOCS[name],
    }
    project = rendered_project(**HONEST_DOCS[name])
    adr = " ".join((project / "docs/adr/0001-architecture.md").read_text().split())
    security = " ".join((project / "SECURITY.md").read_text().split())
    if answers["auth"] == "none":
        assert "No authentication or authorisation: the API is open." in security
        assert "No authentication: the API is open" in adr
    else:
        assert "No user accounts of its own." in security
        assert "## Authentication" in security and "OIDC_ISSUER_URL" in security
        assert "Callers authenticate with bearer tokens from our OpenID provider" in adr
        hybrid_oidc = answers["architecture"] == "hybrid"
        assert ("## Identity behind the gateway" in adr) == hybrid_oidc
        assert ("X-Enduser-Id" in security) == hybrid_oidc
    assert "No TLS." in security
    assert ("No persistence." in security) == (answers["database"] == "none")
    hybrid = answers["architecture"] == "hybrid"
    assert ("between the gateway and the ML service" in security) == hybrid
    assert "owns users" not in adr
    shares_contracts = answers["consumers"] == "typescript-web" and answers["architecture"] != (
        "python-api"
    )
    assert ("which our TypeScript frontend imports too" in adr) == shares_contracts
