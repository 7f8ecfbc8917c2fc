"""A real OpenID provider on 127.0.0.1 for the tests: `oidc-provider` from npm (pinned, installed
once into a cache directory with this repo's npm), started with an RSA key the test made, so the
tests can ask it for genuine access tokens (client credentials grant, JWTs for the API's audience)
and also forge hostile ones with the very same key (PyJWT).

    with OpenIdProvider.start(workdir) as provider:
        provider.issuer, provider.audience
        provider.token(["notes:read"], client="alice")   # a JWT access token
        provider.private_key_pem                         # to sign forged tokens
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.net import http
from harness.toolchain import NODE, tool_env

OIDC_PROVIDER_VERSION = "9.13.3"
PROVIDER_SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
CACHE = Path.home() / ".cache" / "polyglot-scaffold" / f"oidc-provider-{OIDC_PROVIDER_VERSION}"

AUDIENCE = "https://api.example.test"
KID = "test-provider-key-1"
# Every scope a generated API declares (the contract of issue 19).
SCOPES = (
    "notes:read",
    "notes:write",
    "jobs:read",
    "jobs:write",
    "predictions:write",
    "models:read",
)
# Two clients, so the tests can show each one sees only its own notes; a client's subject (`sub`)
# is its id.
CLIENTS = ("alice", "bob")


# The provider of this test session, if one runs: services started by tests/processes.py get its
# settings (`service_env`).
active: OpenIdProvider | None = None


def service_env() -> dict[str, str]:
    """OIDC_ISSUER_URL and OIDC_AUDIENCE of the session's provider (none if it runs none)."""
    return active.env() if active is not None else {}


def install_provider() -> Path:
    """`oidc-provider` installed into CACHE (once per machine): the directory to run from."""
    marker = CACHE / "node_modules" / "oidc-provider" / "package.json"
    if not marker.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "package.json").write_text('{"private": true, "type": "module"}\n')
        result = subprocess.run(
            ["npm", "install", "--no-save", f"oidc-provider@{OIDC_PROVIDER_VERSION}"],
            cwd=CACHE, env=tool_env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0 or not marker.exists():
            raise RuntimeError(
                f"npm could not install oidc-provider@{OIDC_PROVIDER_VERSION} into {CACHE} "
                f"(is the npm registry reachable?): {result.stderr[-2000:]}"
            )
    return CACHE


@dataclass
class OpenIdProvider:
    """A running provider: its issuer, the API audience its tokens are for, and its key."""

    issuer: str
    audience: str
    private_key: rsa.RSAPrivateKey
    process: subprocess.Popen[str]
    secrets: dict[str, str]
    _cache: dict[tuple[str, tuple[str, ...]], tuple[float, str]] = field(default_factory=dict)

    @property
    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def env(self) -> dict[str, str]:
        """The settings a generated API needs to accept this provider's tokens."""
        return {"OIDC_ISSUER_URL": self.issuer, "OIDC_AUDIENCE": self.audience}

    def token(self, scopes: Sequence[str] = SCOPES, client: str = CLIENTS[0]) -> str:
        """A genuine access token (client credentials grant) for `client` with `scopes`; reused
        while it has more than a minute to live."""
        key = (client, tuple(sorted(scopes)))
        cached = self._cache.get(key)
        if cached and cached[0] > time.time() + 60:
            return cached[1]
        form = {
            "grant_type": "client_credentials",
            "client_id": client,
            "client_secret": self.secrets[client],
            "scope": " ".join(scopes),
            "resource": self.audience,
        }
        reply = http(
            "POST",
            f"{self.issuer}/token",
            urllib.parse.urlencode(form).encode(),
            {"content-type": "application/x-www-form-urlencoded"},
            anonymous=True,
        )
        if reply.status != 200:
            raise RuntimeError(f"the provider refused a token: {reply.status} {reply.body!r}")
        answer = reply.json()
        token: str = answer["access_token"]
        if token.count(".") != 2:
            raise RuntimeError(f"the provider issued an opaque token, not a JWT: {answer}")
        self._cache[key] = (time.time() + float(answer["expires_in"]), token)
        return token

    def forge(self, claims: dict[str, object], **header: object) -> str:
        """A token signed with the provider's own key (RS256, its kid) carrying `claims` as
        given: for tokens the provider would never issue (expired, another audience...)."""
        return jwt.encode(claims, self.private_key, "RS256", headers={"kid": KID, **header})

    def claims(self, **changes: object) -> dict[str, object]:
        """The claims of a valid token for the first client with every scope, with `changes`."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": CLIENTS[0],
            "iat": now,
            "exp": now + 300,
            "scope": " ".join(SCOPES),
        }
        claims.update(changes)
        return claims

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @classmethod
    @contextmanager
    def start(cls, workdir: Path) -> Iterator[OpenIdProvider]:
        """Install (once), start and stop a provider; its output goes to workdir/oidc.log."""
        cache = install_provider()
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key))
        # PyJWT marks a private JWK `key_ops: ["sign"]`; the provider would publish that on the
        # public key too, and verifiers rightly skip a key that may not `verify`.
        jwk.pop("key_ops", None)
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        client_secrets = {client: secrets.token_urlsafe(24) for client in CLIENTS}
        config = {
            "port": 0,
            "audience": AUDIENCE,
            "scopes": list(SCOPES),
            "clients": [
                {"id": client, "secret": secret, "scope": " ".join(SCOPES)}
                for client, secret in client_secrets.items()
            ],
            "jwks": {"keys": [jwk]},
        }
        workdir.mkdir(parents=True, exist_ok=True)
        config_path = workdir / "oidc-provider.json"
        config_path.write_text(json.dumps(config))
        log = (workdir / "oidc.log").open("w")
        # Beside its node_modules: an ES module resolves packages from where it is.
        script = shutil.copy(PROVIDER_SCRIPT, cache / PROVIDER_SCRIPT.name)
        process = subprocess.Popen(
            [str(NODE), str(script), str(config_path)],
            cwd=cache,
            env=tool_env({"NODE_ENV": "test"}),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("{"):
            process.kill()
            log.close()
            raise RuntimeError(
                f"the OpenID provider did not start: {(workdir / 'oidc.log').read_text()[-2000:]}"
            )
        provider = cls(json.loads(line)["issuer"], AUDIENCE, private_key, process, client_secrets)
        try:
            yield provider
        finally:
            provider.stop()
            log.close()
