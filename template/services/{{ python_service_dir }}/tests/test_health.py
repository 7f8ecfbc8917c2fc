"""Liveness and readiness."""

from fastapi.testclient import TestClient


class TestProbes:
    def test_read_health(self, client: TestClient) -> None:
        """Liveness answers ok without checking dependencies."""
        response = client.get("/healthz")

        assert 200 == response.status_code
        assert "ok" == response.json()["status"]

    def test_read_readiness(self, client: TestClient) -> None:
        """Readiness answers ok once every dependency is available, naming each."""
        response = client.get("/readyz")

        assert 200 == response.status_code
