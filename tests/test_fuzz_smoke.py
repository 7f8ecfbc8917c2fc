"""Hostile HTTP input against every generated service, running as a real process.

A property-based fuzz (schemathesis, from each service's committed OpenAPI document) finds no 5xx
and no response outside the document; hand-written hostile bodies (malformed JSON, wrong content
types, huge and deeply nested bodies, unknown fields, invalid UTF-8) all get 4xx problem answers;
and the production defaults hold on the real process: no docs, CORS closed, security headers.

FUZZ_EXAMPLES sets the generated cases per operation (5 here; `scripts/fuzz` runs this file's fuzz
with 200). The projects are the default renders the other tests use, with PostgreSQL, so the
fuzz also reaches the database paths (a duplicate title is a 409, never a 500).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from processes import SERVICES, RunningServices, Service, fuzz

from harness.net import Reply, http

pytestmark = pytest.mark.generated

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
# A warning the runtime printed: Node's `(node:<pid>) [FSTDEP023] FastifyDeprecation: ...` or
# `(node:<pid>) Warning: ...`, Python's `<file>:<line>: DeprecationWarning: ...`.
RUNTIME_WARNING = re.compile(r"^\(node:\d+\) .*$|^.*\b[A-Z]\w*Warning: .*$", re.MULTILINE)


# The fuzz #########################################################################################


@pytest.mark.parametrize("name", SERVICES)
def test_schemathesis_finds_no_5xx_and_no_response_outside_the_schema(
    services: RunningServices, tmp_path: Path, name: str
) -> None:
    """Every operation of the committed OpenAPI document, fed generated valid and invalid input,
    never answers 5xx and always answers what the document declares."""
    service = services(name)

    report = fuzz(name, service.openapi, service.url, tmp_path, EXAMPLES)

    print(f"\nfuzz {report.summary()}")
    assert report.cases > 0, report.output[-4000:]
    assert [] == report.problems, f"{report.output[-6000:]}\n{service.process.output()}"
    # The jobs the fuzz submitted ran on the architecture's workers, and none took one down.
    for worker in services.workers(name):
        assert worker.running(), worker.output()
    # Nor did the runtime warn of anything (a deprecation today breaks at the next major).
    for process in [service.process, *services.workers(name)]:
        warnings = RUNTIME_WARNING.findall(process.log.read_text(errors="replace"))
        assert [] == [line for line in warnings if not is_root_warning(line)]
    # Every line the service wrote, from its first, is one JSON object: what log shippers parse.
    lines = service.process.log.read_text(errors="replace").splitlines()
    assert [] == [line for line in lines if not is_json_object(line)]


def is_root_warning(line: str) -> bool:
    """Celery's warning that it runs as root: so do these tests, where the machine gives them
    root; the images run the worker as a user of its own (tests/test_containers.py)."""
    return os.geteuid() == 0 and "SecurityWarning: You're running the worker with superuser" in line


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


# Hostile bodies ###################################################################################

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
# The route each service's hostile bodies go to, and a body it accepts.
TARGETS = {
    "node": ("/v1/notes", {"title": "Hostile input"}),
    "python": ("/v1/predictions", {"instances": [SETOSA]}),
}
JSON = "application/json"
TWO_MIB = 2 * 1024 * 1024


def valid_json(language: str) -> bytes:
    return json.dumps(TARGETS[language][1]).encode()


def with_field(language: str, **extra: object) -> bytes:
    return json.dumps({**TARGETS[language][1], **extra}).encode()


def invalid_utf8(language: str) -> bytes:
    """The accepted body with two bytes that are not UTF-8 in a string: the title of a note, or an
    extra field of the prediction body (the bytes are refused before any field is looked at)."""
    if language == "node":
        return valid_json(language).replace(b"Hostile input", b"Hostile \xff\xfe input")
    return valid_json(language)[:-1] + b', "note": "\xff\xfe"}'


HOSTILE: dict[str, tuple[Callable[[str], bytes], str, int | None]] = {
    # name: (body for the service's language, content type, the status it must get; None: a 4xx)
    "malformed-json": (lambda _: b'{"title": "unfinished', JSON, None),
    "trailing-garbage": (lambda lang: valid_json(lang) + b" trailing", JSON, None),
    "empty-body": (lambda _: b"", JSON, None),
    "json-array-not-object": (lambda _: b"[]", JSON, None),
    "json-null": (lambda _: b"null", JSON, None),
    "text-plain": (valid_json, "text/plain", None),
    "xml": (lambda _: b"<note><title>x</title></note>", "application/xml", None),
    "form-urlencoded": (lambda _: b"title=x", "application/x-www-form-urlencoded", None),
    "no-content-type": (valid_json, "", None),
    "huge-body": (lambda lang: with_field(lang, padding="x" * TWO_MIB), JSON, 413),
    "deep-nesting-unclosed": (lambda _: b"[" * 10_000, JSON, None),
    "deep-nesting-closed": (lambda _: b"[" * 10_000 + b"]" * 10_000, JSON, None),
    "deep-object-nesting": (lambda _: b'{"a":' * 10_000 + b"1" + b"}" * 10_000, JSON, None),
    "unknown-field": (lambda lang: with_field(lang, isAdmin=True), JSON, None),
    "prototype-pollution": (lambda lang: with_field(lang, __proto__={"isAdmin": True}), JSON, None),
    "invalid-utf8": (invalid_utf8, JSON, 400),
    "number-overflow": (lambda _: b'{"title": 1e400, "instances": [1e400]}', JSON, None),
}


def is_problem(reply: Reply) -> bool:
    return reply.content_type.split(";")[0] == "application/problem+json"


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("name", SERVICES)
def test_hostile_body_gets_a_4xx_problem(
    services: Callable[[str], Service], name: str, case: str
) -> None:
    """Bodies no client should send are refused with a 4xx application/problem+json, never a 5xx
    and never accepted."""
    service = services(name)
    body, content_type, expected = HOSTILE[case]
    path = TARGETS[service.language][0]
    headers = {"content-type": content_type} if content_type else {}

    reply = http("POST", f"{service.url}{path}", body(service.language), headers)

    assert service.process.running(), service.process.output()
    assert 400 <= reply.status < 500, (reply.status, reply.body[:300])
    assert expected in (None, reply.status), (reply.status, reply.body[:300])
    assert is_problem(reply), reply.headers
    assert reply.status == reply.json()["status"]


def test_a_valid_body_is_accepted(services: Callable[[str], Service]) -> None:
    """The hostile bodies above are refused for what they are: the same route takes a good one."""
    for name in SERVICES:
        service = services(name)
        path, body = TARGETS[service.language]
        reply = http(
            "POST", f"{service.url}{path}", json.dumps(body).encode(), {"content-type": JSON}
        )
        assert reply.status in (200, 201), (name, reply.status, reply.body[:300])


# Documented media types ###########################################################################

# Requests that make a service answer each status its document lists, by language: (method,
# the document's path, the path sent, JSON body or None, the status it must get). `{unique}` in a
# body is one value per test run; the second create with it is the conflict. A request whose
# operation a service lacks (no jobs in a variant, no predictions outside hybrid) is skipped.
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"
ANSWERS: dict[str, list[tuple[str, str, str, Any, int]]] = {
    "node": [
        ("GET", "/healthz", "/healthz", None, 200),
        ("GET", "/readyz", "/readyz", None, 200),
        ("POST", "/v1/notes", "/v1/notes", {"title": "{unique}"}, 201),
        ("POST", "/v1/notes", "/v1/notes", {"title": "{unique}"}, 409),
        ("POST", "/v1/notes", "/v1/notes", {}, 400),
        ("POST", "/v1/notes", "/v1/notes", {"title": "big", "padding": "{big}"}, 413),
        ("GET", "/v1/notes", "/v1/notes", None, 200),
        ("GET", "/v1/notes", "/v1/notes?limit=0", None, 400),
        ("GET", "/v1/notes/{id}", "/v1/notes/not-a-uuid", None, 400),
        ("GET", "/v1/notes/{id}", f"/v1/notes/{NO_SUCH_ID}", None, 404),
        ("POST", "/v1/jobs", "/v1/jobs", {}, 400),
        ("POST", "/v1/jobs", "/v1/jobs", {"padding": "{big}"}, 413),
        ("GET", "/v1/jobs/{id}", "/v1/jobs/no-such-job", None, 404),
        ("POST", "/v1/predictions", "/v1/predictions", {"instances": [SETOSA]}, 200),
        ("POST", "/v1/predictions", "/v1/predictions", {}, 400),
    ],
    "python": [
        ("GET", "/healthz", "/healthz", None, 200),
        ("GET", "/readyz", "/readyz", None, 200),
        ("POST", "/v1/notes", "/v1/notes", {"title": "{unique}"}, 201),
        ("POST", "/v1/notes", "/v1/notes", {"title": "{unique}"}, 409),
        ("POST", "/v1/notes", "/v1/notes", {}, 400),
        ("POST", "/v1/notes", "/v1/notes", {"title": "big", "padding": "{big}"}, 413),
        ("GET", "/v1/notes", "/v1/notes", None, 200),
        ("GET", "/v1/notes", "/v1/notes?limit=0", None, 400),
        ("GET", "/v1/notes/{id}", "/v1/notes/not-a-uuid", None, 400),
        ("GET", "/v1/notes/{id}", f"/v1/notes/{NO_SUCH_ID}", None, 404),
        ("POST", "/v1/items", "/v1/items", {"name": "{unique}-item"}, 201),
        ("POST", "/v1/items", "/v1/items", {"name": "{unique}-item"}, 409),
        ("POST", "/v1/items", "/v1/items", {}, 400),
        ("GET", "/v1/items", "/v1/items", None, 200),
        ("GET", "/v1/items/{item_id}", "/v1/items/not-a-uuid", None, 400),
        ("GET", "/v1/items/{item_id}", f"/v1/items/{NO_SUCH_ID}", None, 404),
        ("POST", "/v1/predictions", "/v1/predictions", {"instances": [SETOSA]}, 200),
        ("POST", "/v1/predict", "/v1/predict", {"instances": [SETOSA]}, 200),
        ("POST", "/v1/predictions", "/v1/predictions", {}, 400),
        ("POST", "/v1/predictions", "/v1/predictions", {"padding": "{big}"}, 413),
        ("GET", "/v1/models/{name}", "/v1/models/no-such-model", None, 404),
        ("POST", "/v1/jobs", "/v1/jobs", {}, 400),
        ("GET", "/v1/jobs/{id}", "/v1/jobs/no-such-job", None, 404),
        ("GET", "/v1/jobs/{id}", f"/v1/jobs/{NO_SUCH_ID}", None, 404),
    ],
}


@pytest.mark.parametrize("name", SERVICES)
def test_each_answer_has_the_media_type_its_document_declares(
    services: Callable[[str], Service], name: str
) -> None:
    """Successes and errors alike: the status is documented for the operation, and the
    content-type sent is the one documented for that status (errors: application/problem+json)."""
    service = services(name)
    document = json.loads(service.openapi.read_text())
    unique = f"media-{uuid.uuid4().hex[:12]}"
    checked = []
    for method, path, sent, body, expected in ANSWERS[service.language]:
        operation = document["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue
        payload = None
        if body is not None:
            text = json.dumps(body).replace("{unique}", unique).replace("{big}", "x" * TWO_MIB)
            payload = text.encode()
        headers = {"content-type": JSON} if payload is not None else {}
        reply = http(method, f"{service.url}{sent}", payload, headers)
        where = f"{method} {sent} -> {reply.status}"
        assert expected == reply.status, (where, reply.body[:300])
        documented = operation["responses"].get(str(reply.status))
        assert documented is not None, f"{where}: status not in the document"
        assert reply.content_type.split(";")[0] in documented.get("content", {}), (
            where,
            reply.content_type,
            sorted(documented.get("content", {})),
        )
        checked.append(where)
    assert len(checked) >= 10, checked


# Production defaults on the real process ##########################################################


@pytest.mark.parametrize("name", SERVICES)
def test_docs_are_not_served_by_default(services: Callable[[str], Service], name: str) -> None:
    """Started with no DOCS_ENABLED, a service serves neither a docs UI nor its schema."""
    service = services(name)
    for path in ["/docs", "/docs/json", "/openapi.json", "/redoc", "/documentation"]:
        reply = http("GET", f"{service.url}{path}")
        assert (404, True) == (reply.status, is_problem(reply)), path


@pytest.mark.parametrize("name", SERVICES)
def test_cors_is_closed_by_default(services: Callable[[str], Service], name: str) -> None:
    """With no CORS_ORIGINS, neither a preflight nor a request from a foreign origin is let in."""
    service = services(name)
    origin = {"origin": "https://evil.example"}
    preflight = http(
        "OPTIONS",
        f"{service.url}{TARGETS[service.language][0]}",
        headers={**origin, "access-control-request-method": "POST"},
    )
    simple = http("GET", f"{service.url}/healthz", headers=origin)

    for reply in (preflight, simple):
        assert "access-control-allow-origin" not in reply.headers, reply.headers


@pytest.mark.parametrize("name", SERVICES)
def test_services_send_security_headers(services: Callable[[str], Service], name: str) -> None:
    """Every service sets helmet's headers (the Node API through helmet, the Python services the
    same list) on successes and errors alike."""
    service = services(name)
    for path in ["/healthz", "/no-such-route"]:
        headers = http("GET", f"{service.url}{path}").headers
        assert "nosniff" == headers.get("x-content-type-options"), path
        assert "default-src 'self'" in headers.get("content-security-policy", ""), path
        assert "max-age=" in headers.get("strict-transport-security", ""), path
