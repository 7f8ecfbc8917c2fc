"""Every service behind a real reverse proxy: nginx on loopback, in front of each running service.

nginx is the edge, as an ingress is: it appends the address of whoever connected to it to
`X-Forwarded-For` and says the scheme was https (TLS ends there). Each service trusts it by
TRUST_PROXY=127.0.0.1 and allows 3 requests a minute per client, so:

- clients are told apart by the address nginx forwards, not by nginx's own (every client would
  share one budget), and a client cannot pick its own address by sending `X-Forwarded-For`;
- the address in the service's logs is the client's;
- probes are never throttled, however their URL is written (`/healthz/`, `/healthz?probe=1`);
- an absolute URL the service makes (the Python services' trailing-slash redirect) names the
  scheme and host the client used.

Clients on loopback differ by source address: each test connects from its own 127.0.0.x.
NGINX names the binary (scripts/test finds it, or unpacks Debian's package); the processes are
separate from the conformance table's, which run without a proxy and without a rate limit.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from processes import SERVICES, Process, RunningServices, Service, start_process, wait_until

from harness.net import free_port, http

pytestmark = pytest.mark.generated

RATE_LIMIT_MAX = 3
# The address the services trust: nginx connects to them from loopback.
PROXY_ADDRESS = "127.0.0.1"
# Source addresses of the test clients (127.0.0.0/8 is all loopback), one per use.
_CLIENTS = (f"127.0.0.{n}" for n in itertools.count(10))

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass {upstream};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host $http_host;
    }}
  }}
}}
"""


def nginx_binary() -> str:
    nginx = os.environ.get("NGINX") or shutil.which("nginx")
    if not nginx or not Path(nginx).exists():
        pytest.fail(
            "nginx is not available: run the tests with scripts/test (it unpacks Debian's "
            "package), apt-get install nginx, or set NGINX",
            pytrace=False,
        )
    return nginx


def start_nginx(upstream: str, directory: Path) -> tuple[str, Process]:
    """nginx in the foreground, with its own config, temp files and logs in `directory`."""
    directory.mkdir()
    port = free_port()
    config = directory / "nginx.conf"
    config.write_text(NGINX_CONF.format(dir=directory, port=port, upstream=upstream))
    command = [nginx_binary(), "-p", str(directory), "-e", str(directory / "error.log")]
    command += ["-c", str(config), "-g", "daemon off;"]
    process = start_process("nginx", command, directory, os.environ, directory)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http("GET", f"{url}/healthz").status == 200, "nginx", [process])
    return url, process


@dataclass
class Proxied:
    """A service, and nginx in front of it."""

    service: Service
    url: str

    def get(self, path: str, client: str, **headers: str) -> int:
        return http("GET", f"{self.url}{path}", headers=headers, source=client).status


@pytest.fixture(scope="module")
def proxied(
    rendered_project: Callable[..., Path],
    redis_url: str,
    create_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Proxied]]:
    """`proxied("node-api/api")`: that service with TRUST_PROXY and a small rate limit, started
    on first use, behind an nginx of its own."""
    running = RunningServices(
        rendered_project,
        redis_url,
        create_database,
        lambda architecture: tmp_path_factory.mktemp(f"proxied-{architecture}"),
        {
            "TRUST_PROXY": PROXY_ADDRESS,
            "RATE_LIMIT_MAX": str(RATE_LIMIT_MAX),
            # On for the ML service too (off by default there: only the gateway calls it).
            "RATE_LIMIT_ENABLED": "true",
            # Every request logged, with its client's address.
            "LOG_LEVEL": "info",
        },
    )
    proxies: dict[str, Proxied] = {}
    nginxes: list[Process] = []

    def get(name: str) -> Proxied:
        if name not in proxies:
            service = running(name)
            directory = tmp_path_factory.mktemp("nginx") / name.replace("/", "-")
            url, nginx = start_nginx(service.url, directory)
            nginxes.append(nginx)
            proxies[name] = Proxied(service, url)
        return proxies[name]

    yield get
    for nginx in nginxes:
        nginx.stop()
    running.stop()


@pytest.mark.parametrize("name", SERVICES)
def test_clients_behind_the_proxy_have_budgets_of_their_own(
    proxied: Callable[[str], Proxied], name: str
) -> None:
    """Three requests from one client use up its budget, not the next client's; a forged
    X-Forwarded-For does not buy a new one."""
    proxy = proxied(name)
    first, second = next(_CLIENTS), next(_CLIENTS)

    used = [proxy.get("/v1/no-such-route", first) for _ in range(RATE_LIMIT_MAX)]
    throttled = proxy.get("/v1/no-such-route", first)
    forged = proxy.get("/v1/no-such-route", first, **{"x-forwarded-for": "198.51.100.9"})
    other = proxy.get("/v1/no-such-route", second)

    assert [404] * RATE_LIMIT_MAX == used
    assert (429, 429, 404) == (throttled, forged, other), proxy.service.process.output()


@pytest.mark.parametrize("name", SERVICES)
def test_every_throttled_operation_documents_its_429(
    proxied: Callable[[str], Proxied], name: str
) -> None:
    """With the client's budget spent, every documented operation but the probes answers a 429
    problem, and its document says so (status and media type), so typed clients expect it."""
    proxy = proxied(name)
    client = next(_CLIENTS)
    for _ in range(RATE_LIMIT_MAX):
        proxy.get("/v1/no-such-route", client)
    document = proxy.service.document()
    undocumented = {}
    for path, item in document["paths"].items():
        if path in {"/healthz", "/readyz"}:
            continue
        target = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for method, operation in item.items():
            body = b"{}" if "requestBody" in operation else None
            headers = {"content-type": "application/json"} if body else {}
            reply = http(method.upper(), f"{proxy.url}{target}", body, headers, source=client)
            documented = operation["responses"].get(str(reply.status), {}).get("content", {})
            media_type = reply.content_type.split(";")[0]
            if (reply.status, media_type) != (429, "application/problem+json") or (
                media_type not in documented
            ):
                undocumented[f"{method.upper()} {path}"] = (reply.status, media_type)
    assert {} == undocumented


@pytest.mark.parametrize("name", SERVICES)
def test_probes_are_never_throttled_however_written(
    proxied: Callable[[str], Proxied], name: str
) -> None:
    """With the client's budget spent, every spelling of a probe still reaches its route."""
    proxy = proxied(name)
    client = next(_CLIENTS)
    for _ in range(RATE_LIMIT_MAX + 1):
        proxy.get("/v1/no-such-route", client)
    assert 429 == proxy.get("/v1/no-such-route", client)

    spellings = ["/healthz", "/healthz/", "/healthz?probe=1", "/readyz", "/readyz/", "/readyz?x"]
    statuses = {path: proxy.get(path, client) for path in spellings}

    assert {path: status for path, status in statuses.items() if status == 429} == {}
    # The Node services match a trailing slash; the Python ones redirect to the route.
    assert set(statuses.values()) <= {200, 307}, statuses


@pytest.mark.parametrize("name", SERVICES)
def test_the_log_names_the_client_not_the_proxy(
    proxied: Callable[[str], Proxied], name: str
) -> None:
    """The service logs the address nginx forwards for the request."""
    proxy = proxied(name)
    client = next(_CLIENTS)

    request_id = f"proxied-{uuid.uuid4().hex}"
    assert 404 == proxy.get("/v1/no-such-route", client, **{"x-request-id": request_id})

    process = proxy.service.process
    wait_until(lambda: request_id in process.log.read_text(), "the request's log line", [process])
    lines = [line for line in process.log.read_text().splitlines() if request_id in line]
    assert any(client in line for line in lines), "\n".join(lines)


@pytest.mark.parametrize("name", ["python-api/api", "hybrid/ml"])
def test_redirects_name_the_scheme_and_host_the_client_used(
    proxied: Callable[[str], Proxied], name: str
) -> None:
    """The Python services' trailing-slash redirect is absolute: https (from nginx's
    X-Forwarded-Proto) and the host the client asked for, not the service's own."""
    proxy = proxied(name)

    reply = http(
        "GET", f"{proxy.url}/healthz/", headers={"host": "api.example"}, source=next(_CLIENTS)
    )

    assert 307 == reply.status
    assert "https://api.example/healthz" == reply.headers["location"]
