"""Settings: a bad or missing variable stops start-up and names the variable."""

import pytest
from fastapi.testclient import TestClient

from app.core.config import ConfigurationError
from app.main import create_app


class TestSettings:
    def test_bad_variable_stops_start_up(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An invalid LOG_LEVEL fails the lifespan with a message naming LOG_LEVEL."""
        monkeypatch.setenv("LOG_LEVEL", "loud")

        with pytest.raises(ConfigurationError, match="LOG_LEVEL"), TestClient(create_app()):
            pass

    def test_cors_origins_open_only_to_listed_origins(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """CORS_ORIGINS (comma-separated) lets exactly those origins in."""
        monkeypatch.setenv("CORS_ORIGINS", "https://app.example, https://admin.example")

        with TestClient(create_app()) as client:
            allowed = client.get("/healthz", headers={"origin": "https://admin.example"})
            other = client.get("/healthz", headers={"origin": "https://evil.example"})

        assert "https://admin.example" == allowed.headers["access-control-allow-origin"]
        assert "access-control-allow-origin" not in other.headers

    def test_bad_cors_origin_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An origin without a scheme is refused, naming CORS_ORIGINS."""
        monkeypatch.setenv("CORS_ORIGINS", "app.example")

        with pytest.raises(ConfigurationError, match="CORS_ORIGINS"), TestClient(create_app()):
            pass
