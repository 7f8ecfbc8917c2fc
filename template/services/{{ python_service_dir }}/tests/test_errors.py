"""Errors are problem details (RFC 9457), never a 500 for a bad request."""

import pytest
from fastapi.testclient import TestClient


class TestProblems:
    def test_malformed_json_is_a_422_problem(self, client: TestClient) -> None:
        """A body that is not JSON is a 422 problem saying where the JSON broke."""
        response = client.post(
            "/v1/items", content=b'{"name": ', headers={"content-type": "application/json"}
        )

        assert 422 == response.status_code
        assert "application/problem+json" == response.headers["content-type"]
        problem = response.json()
        assert 422 == problem["status"]
        assert "json_invalid" == problem["errors"][0]["type"]

    @pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b'{"name": 5}'])
    def test_wrong_json_shape_is_a_422_problem(self, client: TestClient, body: bytes) -> None:
        """Well-formed JSON of the wrong shape is a 422 problem too."""
        response = client.post(
            "/v1/items", content=body, headers={"content-type": "application/json"}
        )

        assert 422 == response.status_code
        assert response.json()["errors"]

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
