"""Errors are problem details (RFC 9457), never a 500 for a bad request."""

import json

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.examples import BODY_ROUTE, INVALID_READ_ROUTE, READ_ROUTE, VALID_BODY


class TestProblems:
    def test_malformed_json_is_a_400_problem(self, client: TestClient) -> None:
        """A body that is not JSON is a 400 problem saying where the JSON broke (as on Node)."""
        response = client.post(
            BODY_ROUTE, content=b'{"title": ', headers={"content-type": "application/json"}
        )

        assert 400 == response.status_code
        assert "application/problem+json" == response.headers["content-type"]
        problem = response.json()
        assert (400, "The body is not valid JSON.") == (problem["status"], problem["detail"])
        assert problem["errors"][0]["path"].startswith("body")

    @pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b'{"title": 5}'])
    def test_wrong_json_shape_is_a_400_problem(self, client: TestClient, body: bytes) -> None:
        """Well-formed JSON of the wrong shape is a 400 problem listing what is wrong."""
        response = client.post(
            BODY_ROUTE, content=body, headers={"content-type": "application/json"}
        )

        assert 400 == response.status_code
        assert all({"path", "message"} == error.keys() for error in response.json()["errors"])

    def test_problem_has_the_node_services_fields(self, client: TestClient) -> None:
        """A problem carries the request id and points at each field as `body.<field>`."""
        response = client.post(
            BODY_ROUTE, json={**VALID_BODY, "isAdmin": True}, headers={"x-request-id": "req-7"}
        )

        problem = response.json()
        assert {"type": "about:blank", "title": "Bad Request", "status": 400}.items() <= (
            problem.items()
        )
        assert (BODY_ROUTE, "req-7") == (problem["instance"], problem["requestId"])
        assert ["body.isAdmin"] == [error["path"] for error in problem["errors"]]

    @pytest.mark.parametrize(
        "body",
        [b"[" * 10_000, b"[" * 10_000 + b"]" * 10_000, b'{"title": "\xff\xfe"}'],
        ids=["deep-unclosed", "deep-closed", "invalid-utf8"],
    )
    def test_unparseable_body_is_a_400_problem(self, client: TestClient, body: bytes) -> None:
        """JSON nested 10,000 deep or not UTF-8 is a 400 problem, never a 500."""
        response = client.post(
            BODY_ROUTE, content=body, headers={"content-type": "application/json"}
        )

        assert 400 == response.status_code
        assert "application/problem+json" == response.headers["content-type"]

    @pytest.mark.parametrize(
        "content_type",
        [None, "text/plain", "text/plain; charset=utf-8", "application/xml", "application/jsonx"],
    )
    def test_body_in_another_media_type_is_a_415_problem(
        self, client: TestClient, content_type: str | None
    ) -> None:
        """A JSON body sent as anything but application/json (or as nothing) is a 415 problem,
        as on the Node service, not a validation error."""
        headers = {"content-type": content_type} if content_type else {}
        response = client.post(BODY_ROUTE, content=json.dumps(VALID_BODY), headers=headers)

        assert 415 == response.status_code
        assert "application/problem+json" == response.headers["content-type"]

    @pytest.mark.parametrize(
        "body",
        [
            b'{"title": "x\\ud800y"}',
            b'{"title": "\\udfff"}',
            b'{"title": "ok", "body": "\\ud83d"}',
            b'{"title": "ok", "\\udc00": 1}',
            b'{"title": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes
        ],
        ids=["high", "low", "other-field", "key", "utf8-encoded"],
    )
    def test_lone_surrogate_is_a_400_problem(self, client: TestClient, body: bytes) -> None:
        """A string that is not Unicode text is refused before any field sees it."""
        response = client.post(
            BODY_ROUTE, content=body, headers={"content-type": "application/json"}
        )

        assert 400 == response.status_code
        assert "surrogate" in response.json()["detail"]

    @pytest.mark.parametrize("path", ["/healthz", READ_ROUTE, INVALID_READ_ROUTE])
    def test_head_answers_like_get_without_a_body(self, client: TestClient, path: str) -> None:
        """HEAD works on every GET route: the GET's status and headers, no body."""
        get, head = client.get(path), client.head(path)

        assert (get.status_code, get.headers["content-type"]) == (
            head.status_code,
            head.headers["content-type"],
        )
        assert b"" == head.content

    def test_undecodable_target_is_a_problem_with_the_request_id(self, client: TestClient) -> None:
        """A path that decodes to no route is a problem like any other error."""
        response = client.get(f"{READ_ROUTE}/%", headers={"x-request-id": "bad-target-1"})

        assert 400 <= response.status_code < 500
        assert "application/problem+json" == response.headers["content-type"]
        assert "bad-target-1" == response.headers["x-request-id"]

    def test_unknown_route_is_a_404_problem(self, client: TestClient) -> None:
        """Unknown paths answer a problem body with the path as instance."""
        response = client.get("/nowhere")

        assert 404 == response.status_code
        assert {"status": 404, "instance": "/nowhere"}.items() <= response.json().items()

    def test_request_id_is_echoed(self, client: TestClient) -> None:
        """A caller's request id comes back; without one, the service makes one."""
        given = client.get("/healthz", headers={"x-request-id": "abc-123"})
        made = client.get("/healthz")

        assert "abc-123" == given.headers["x-request-id"]
        assert 32 == len(made.headers["x-request-id"])

    def test_cors_is_closed_by_default(self, client: TestClient) -> None:
        """With no CORS_ORIGINS, no origin gets CORS headers."""
        response = client.get("/healthz", headers={"origin": "https://evil.example"})

        assert "access-control-allow-origin" not in response.headers


class TestDocs:
    def test_docs_are_off_unless_configured(self) -> None:
        """Production serves no docs UI or schema unless DOCS_ENABLED is set."""
        assert Settings.model_fields["docs_enabled"].default is False

    @pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/redoc"])
    def test_disabled_docs_answer_404_problems(
        self, monkeypatch: pytest.MonkeyPatch, path: str
    ) -> None:
        """With DOCS_ENABLED=false the docs paths look like any unknown path."""
        monkeypatch.setenv("DOCS_ENABLED", "false")
        with TestClient(create_app()) as client:
            response = client.get(path)

        assert 404 == response.status_code
        assert "application/problem+json" == response.headers["content-type"]

    def test_enabled_docs_serve_the_ui_and_the_schema(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """DOCS_ENABLED=true (as in .env.example) serves /docs and /openapi.json."""
        monkeypatch.setenv("DOCS_ENABLED", "true")
        with TestClient(create_app()) as client:
            ui, schema = client.get("/docs"), client.get("/openapi.json")

        assert (200, 200) == (ui.status_code, schema.status_code)
        assert "swagger-ui" in ui.text
        assert create_app().openapi()["paths"].keys() == schema.json()["paths"].keys()
