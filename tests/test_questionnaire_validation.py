"""Bad answers are refused with a message a person understands, and a refused run writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import render

REJECTED = [
    # (answers, words the message must contain)
    ({"project_slug": "My Shop"}, '"My Shop" is not a valid slug'),
    ({"project_slug": "MyShop"}, "lowercase letters"),
    ({"project_slug": "9lives"}, "starting with a letter"),
    ({"project_slug": "shop/api"}, "not a valid slug"),
    ({"project_slug": "../escape"}, "not a valid slug"),
    ({"project_slug": "shop--api"}, "single dashes"),
    ({"project_slug": "shop-"}, "not ending with a dash"),
    ({"project_slug": "node_modules"}, "not a valid slug"),
    ({"project_slug": "node-modules"}, "is reserved"),
    ({"project_slug": "test"}, "is reserved"),
    ({"project_slug": "import"}, "is a Python keyword"),
    ({"project_slug": "a" * 41}, "at most 40"),
    ({"project_slug": ""}, "cannot be empty"),
    ({"project_name": "   "}, "cannot be empty"),
    ({"project_name": "x" * 65}, "keep it to 64 or fewer"),
    ({"project_name": 'Shop "Deluxe"'}, "may not contain quotes"),
    ({"project_name": "Shop $(rm -rf ~)"}, "may not contain quotes, backticks, $"),
    ({"description": "line one\nline two"}, "line breaks"),
    ({"description": "d" * 201}, "at most 200 characters"),
    ({"author_email": "not-an-email"}, '"not-an-email" is not a valid email address'),
    ({"author_email": "a@b"}, "not a valid email address"),
    ({"author_email": "team@example.com; rm -rf /"}, "not a valid email address"),
    ({"author_name": "Eve `whoami`"}, "may not contain quotes, backticks"),
    ({"consumers": "martians"}, "Invalid choice for 'consumers'"),
    ({"ml": "quantum"}, "Invalid choice for 'ml'"),
    ({"architecture": "django-monolith"}, "Invalid choice for 'architecture'"),
    ({"license": "GPL-9"}, "Invalid choice for 'license'"),
]


@pytest.mark.parametrize(("answers", "message"), REJECTED, ids=[str(a) for a, _ in REJECTED])
def test_bad_answer_is_refused_with_a_clear_message(
    tmp_path: Path, answers: dict[str, str], message: str
) -> None:
    """The validator (or Copier's choice check) names the problem, and no project is written."""
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=None) as refused:
        render(destination, **answers)
    assert message in str(refused.value)
    assert not destination.exists()


@pytest.mark.parametrize(
    ("project_name", "slug"),
    [
        ("Acme Orders", "acme-orders"),
        ("  2 Fast 2 Curious!! ", "fast-2-curious"),
        # Latin letters with diacritics become their base letters (no --trust, a Jinja table).
        ("Café Orders", "cafe-orders"),
        ("Café Crème", "cafe-creme"),
        ("CAFÉ ÀLA CARTE", "cafe-ala-carte"),
        ("Łódź Straße Œuvre", "lodz-strasse-oeuvre"),
        ("Ærø Færgeri", "aero-faergeri"),
        ("Škoda Čeština Ğüç", "skoda-cestina-guc"),
        # Other scripts are dropped as before; the Latin letters around them stay.
        ("Δέλτα Shop", "shop"),
        ("東京 Orders 2", "orders-2"),
        ("ACME/../Orders", "acme-orders"),
        ("A" * 64, "a" * 40),
    ],
)
def test_slug_is_derived_safely_from_any_name(tmp_path: Path, project_name: str, slug: str) -> None:
    """Unicode, punctuation, path tricks and long names still give a valid default slug."""
    project = render(
        tmp_path / "p", project_name=project_name, architecture="python-api", ml="none"
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert slug == answers["project_slug"]
