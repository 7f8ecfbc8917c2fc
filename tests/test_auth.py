"""Every public API (node-api, the hybrid gateway, python-api) as an OpenID Connect resource server,
against a REAL provider (oidc-provider from npm, harness/oidc.py, started by tests/conftest.py):
genuine tokens by the client credentials grant are accepted with the scopes they carry, and the
hostile ones, forged with the provider's own key where that matters, are each refused with 401 and
an RFC 6750 challenge, never a 5xx.

Libraries under test: jose (Node), PyJWT (Python). The services are the session's shared ones
(tests/processes.py), started with the provider's OIDC_ISSUER_URL and OIDC_AUDIENCE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import run, run_once
from cryptography.hazmat.primitives.asymmetric import rsa
from processes import Service, start_node_service, stop_all, wait_until

from harness.net import Reply, delete_redis_keys, http
from harness.oidc import CLIENTS, KID, OpenIdProvider
from harness.toolchain import NODE

pytestmark = pytest.mark.generated

PUBLIC_APIS = ["node-api/api", "hybrid/api", "python-api/api"]
NOTES = "/v1/notes"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`: a token with no signature at all."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(provider: OpenIdProvider) -> str:
    """The algorithm-confusion attack: HMAC-SHA256 keyed with the provider's PUBLIC key (PEM),
    which a verifier that takes the algorithm from the token would check with that same key.
    Made by hand: PyJWT refuses to use an asymmetric key as an HMAC secret."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = b64(json.dumps(provider.claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(provider.public_key_pem, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def another_key(provider: OpenIdProvider) -> str:
    """Signed by a key the provider never published, under the provider's own kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(provider.claims(), key, "RS256", headers={"kid": KID})


# name -> the token, made from the session's provider.
HOSTILE: dict[str, Callable[[OpenIdProvider], str]] = {
    "expired": lambda p: p.forge(p.claims(iat=int(time.time()) - 900, exp=int(time.time()) - 120)),
    "not yet valid": lambda p: p.forge(p.claims(nbf=int(time.time()) + 120)),
    "wrong audience": lambda p: p.forge(p.claims(aud="https://another-api.example.test")),
    "wrong issuer": lambda p: p.forge(p.claims(iss="https://evil.example.test")),
    "signed by another key": another_key,
    "unknown kid": lambda p: p.forge(p.claims(), kid="no-such-key"),
    "alg none": lambda p: unsigned(p.claims()),
    "HS256 signed with the public key": hs256_with_public_key,
    "oversized": lambda p: p.forge(p.claims(padding="x" * 9000)),
    "garbage": lambda _p: "this-is.not-a.jwt",
}


def get(service: Service, path: str, token: str | None) -> Reply:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return http("GET", service.url + path, headers=headers, anonymous=True)


def post_note(service: Service, token: str, title: str) -> Reply:
    body = json.dumps({"title": title}).encode()
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return http("POST", service.url + NOTES, body, headers, anonymous=True)


def assert_problem(reply: Reply, status: int, title: str) -> dict[str, Any]:
    assert reply.status == status, (reply.status, reply.body[:500])
    assert reply.content_type.startswith("application/problem+json"), reply.headers
    body: dict[str, Any] = reply.json()
    assert (body["type"], body["title"], body["status"]) == ("about:blank", title, status), body
    return body


@pytest.fixture(scope="session")
def provider(oidc_provider: OpenIdProvider | None) -> OpenIdProvider:
    assert oidc_provider is not None, "tests/conftest.py starts the provider for generated tests"
    return oidc_provider


@pytest.mark.parametrize("name", PUBLIC_APIS)
def test_a_request_without_a_token_is_refused_with_a_bare_bearer_challenge(
    services: Callable[[str], Service], name: str
) -> None:
    reply = get(services(name), NOTES, None)
    body = assert_problem(reply, 401, "Unauthorized")
    assert reply.headers.get("www-authenticate") == "Bearer"
    assert body["detail"] == "A bearer token is required"


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("name", PUBLIC_APIS)
def test_a_hostile_token_is_refused_with_401_invalid_token(
    services: Callable[[str], Service], provider: OpenIdProvider, name: str, case: str
) -> None:
    token = HOSTILE[case](provider)
    reply = get(services(name), NOTES, token)
    assert_problem(reply, 401, "Unauthorized")
    challenge = reply.headers.get("www-authenticate", "")
    assert challenge.startswith('Bearer error="invalid_token"'), challenge
    # The answer never echoes the token (or any long piece of it).
    assert token[:32].encode() not in reply.body and token[:32] not in challenge


@pytest.mark.parametrize("name", PUBLIC_APIS)
def test_a_genuine_token_without_the_scope_is_refused_with_403(
    services: Callable[[str], Service], provider: OpenIdProvider, name: str
) -> None:
    reply = post_note(services(name), provider.token(["notes:read"]), f"No {uuid.uuid4()}")
    assert_problem(reply, 403, "Forbidden")
    assert reply.headers.get("www-authenticate") == (
        'Bearer error="insufficient_scope", scope="notes:write"'
    )


@pytest.mark.parametrize("name", PUBLIC_APIS)
def test_genuine_tokens_work_and_each_client_sees_only_its_own_notes(
    services: Callable[[str], Service], provider: OpenIdProvider, name: str
) -> None:
    service = services(name)
    alice, bob = (provider.token(["notes:read", "notes:write"], client) for client in CLIENTS)
    created = post_note(service, alice, f"Alice's {uuid.uuid4()}")
    assert created.status == 201, created.body
    note_id = created.json()["id"]

    alice_list = get(service, f"{NOTES}?limit=100", alice)
    assert alice_list.status == 200, alice_list.body
    assert note_id in [note["id"] for note in alice_list.json()["items"]]
    assert get(service, f"{NOTES}/{note_id}", alice).status == 200

    bob_list = get(service, f"{NOTES}?limit=100", bob)
    assert bob_list.status == 200, bob_list.body
    assert note_id not in [note["id"] for note in bob_list.json()["items"]]
    # Another caller's note does not exist, as far as bob can tell.
    assert_problem(get(service, f"{NOTES}/{note_id}", bob), 404, "Not Found")


@pytest.mark.parametrize("name", PUBLIC_APIS)
def test_probes_stay_open(services: Callable[[str], Service], name: str) -> None:
    for path in ("/healthz", "/readyz"):
        assert get(services(name), path, None).status == 200, path


@pytest.mark.parametrize("name", PUBLIC_APIS)
def test_the_openapi_document_declares_the_scheme_and_each_scope(
    services: Callable[[str], Service], name: str
) -> None:
    document = services(name).document()
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    create = next(
        item["post"] for path, item in document["paths"].items() if path.rstrip("/") == NOTES
    )
    assert create["security"] == [{"bearerAuth": ["notes:write"]}]
    assert {"401", "403"} <= set(create["responses"])


# The WebSocket (node-api with realtime): the handshake needs a token too ##########################


@pytest.fixture(scope="module")
def realtime_api(
    rendered_project: Callable[..., Path],
    redis_url: str,
    create_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    project = rendered_project(architecture="node-api", realtime=True)
    run_once(["npm", "ci"], project)
    run_once(["npm", "run", "build"], project)
    database = {"DATABASE_URL": create_database("auth_realtime")}
    run([str(NODE), "dist/migrate.js"], project / "services/api", database)
    prefix = f"auth-{uuid.uuid4().hex[:12]}"
    env = {"REDIS_URL": redis_url, "QUEUE_PREFIX": prefix, **database}
    service = start_node_service(project, "auth/api", tmp_path_factory.mktemp("auth-ws"), env)
    wait_until(
        lambda: http("GET", f"{service.url}/readyz").status == 200,
        "the realtime API to be ready",
        [service.process],
    )
    yield service
    stop_all([service.process])
    delete_redis_keys(redis_url, f"{prefix}*")


def handshake(service: Service, query: str = "", token: str | None = None) -> Reply:
    headers = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": base64.b64encode(uuid.uuid4().bytes).decode(),
    }
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return http("GET", f"{service.url}/v1/realtime{query}", headers=headers, anonymous=True)


def test_the_websocket_handshake_needs_a_valid_token(
    realtime_api: Service, provider: OpenIdProvider
) -> None:
    refused = handshake(realtime_api)
    assert_problem(refused, 401, "Unauthorized")
    assert refused.headers.get("www-authenticate") == "Bearer"
    forged = handshake(realtime_api, token=HOSTILE["signed by another key"](provider))
    assert_problem(forged, 401, "Unauthorized")
    # Accepted: 101 Switching Protocols, with the token in the header or in `access_token`.
    assert handshake(realtime_api, token=provider.token(["notes:read"])).status == 101
    query = f"?access_token={provider.token(['notes:read'])}"
    assert handshake(realtime_api, query).status == 101
