"""The recommendation: the guide's five rules, their precedence, and how the choice reaches the project."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import yaml
from conftest import copied
from pytest_copie.plugin import Copie

from harness.repo import TEMPLATE_ROOT

MACROS = (
    jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_ROOT))
    .get_template("includes/recommendation.jinja")
    .module
)

NEUTRAL = {
    "consumers": "none-yet",
    "realtime": False,
    "ml": "none",
    "team": "both",
    "priority": "balanced",
}


def recommend(**answers: object) -> tuple[str, str]:
    """(rule, architecture) the macros give for the neutral answers overridden by `answers`."""
    a = {**NEUTRAL, **answers}
    args = (a["consumers"], a["realtime"], a["ml"], a["team"], a["priority"])
    return str(MACROS.fired_rule(*args)), str(MACROS.recommended_architecture(*args))


class TestRules:
    @pytest.mark.parametrize(
        ("answers", "expected"),
        [
            # Rule 1: core ML plus any pull towards TypeScript -> use both.
            ({"ml": "core", "consumers": "typescript-web"}, ("1", "hybrid")),
            ({"ml": "data-pipelines", "realtime": True}, ("1", "hybrid")),
            ({"ml": "core", "team": "typescript"}, ("1", "hybrid")),
            # Rule 2: core ML, nothing pulling towards TypeScript.
            ({"ml": "core"}, ("2", "python-api")),
            (
                {"ml": "data-pipelines", "consumers": "internal", "team": "python"},
                ("2", "python-api"),
            ),
            ({"ml": "core", "consumers": "mobile-or-public", "team": "both"}, ("2", "python-api")),
            # Rule 3: a Python team with no TypeScript frontend and no real-time.
            ({"team": "python", "consumers": "internal"}, ("3", "python-api")),
            (
                {"team": "python", "consumers": "mobile-or-public", "ml": "hosted-apis"},
                ("3", "python-api"),
            ),
            # Rule 4: prototyping in Python even with a TS frontend.
            (
                {"team": "python", "consumers": "typescript-web", "priority": "prototyping"},
                ("4", "python-api"),
            ),
            ({"team": "python", "realtime": True, "priority": "prototyping"}, ("4", "python-api")),
            # Rule 5: everything else.
            ({}, ("5", "node-api")),
            ({"consumers": "typescript-web", "ml": "hosted-apis"}, ("5", "node-api")),
            ({"team": "python", "consumers": "typescript-web"}, ("5", "node-api")),
            ({"team": "python", "realtime": True}, ("5", "node-api")),
            ({"priority": "prototyping", "team": "typescript"}, ("5", "node-api")),
            (
                {"priority": "throughput", "team": "python", "consumers": "typescript-web"},
                ("5", "node-api"),
            ),
        ],
    )
    def test_rule_fired(self, answers: dict[str, object], expected: tuple[str, str]) -> None:
        """Each answer set fires the first rule that matches it, and that rule's architecture."""
        assert expected == recommend(**answers)

    def test_core_ml_outranks_a_python_team(self) -> None:
        """Rule 2 comes before rule 3: with core ML the reason given is the ML, not the team."""
        assert ("2", "python-api") == recommend(ml="core", team="python", consumers="internal")

    def test_typescript_pull_outranks_core_ml_alone(self) -> None:
        """Rule 1 comes before rule 2: core ML behind a TypeScript frontend is hybrid, not Python."""
        assert ("1", "hybrid") == recommend(ml="core", team="python", consumers="typescript-web")

    def test_realtime_keeps_a_python_team_on_node(self) -> None:
        """Rule 3 requires no real-time; a Python team with live updates but no prototyping rush gets Node."""
        assert ("5", "node-api") == recommend(team="python", realtime=True, consumers="internal")


def answers_of(project: Path) -> dict[str, object]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


class TestRecommendationInProject:
    def test_defaults_recommend_node_api(self, copie: Copie) -> None:
        """With every default (a TS frontend, a TS team) the project is node-api, and the ADR says rule 5."""
        project = copied(copie)
        assert "node-api" == answers_of(project)["architecture"]
        adr = (project / "docs/adr/0001-architecture.md").read_text()
        assert "We use **node-api**, as the framework recommends." in adr
        assert "**Rule 5.**" in adr

    def test_answers_pick_the_default_architecture(self, copie: Copie) -> None:
        """Answering core ML with a TS frontend makes hybrid the architecture without asking for it."""
        project = copied(copie, ml="core", consumers="typescript-web")
        assert "hybrid" == answers_of(project)["architecture"]
        assert (project / "services/ml").is_dir()
        assert "**Rule 1.**" in (project / "docs/adr/0001-architecture.md").read_text()

    def test_override_is_recorded_in_the_adr(self, copie: Copie) -> None:
        """Choosing against the recommendation is allowed, and the ADR says what was recommended."""
        project = copied(copie, architecture="python-api")
        adr = (project / "docs/adr/0001-architecture.md").read_text()
        assert "overriding the recommendation of **node-api**" in adr
        assert "**Rule 5.**" in adr
        assert "Recommended by rule 5" in adr

    def test_computed_values_are_not_saved_as_answers(self, copie: Copie) -> None:
        """Only real answers go to .copier-answers.yml, so updates recompute the derived values."""
        saved = answers_of(copied(copie))
        for computed in (
            "recommended_architecture",
            "node_service_dir",
            "python_service_dir",
            "model_serving",
        ):
            assert computed not in saved
