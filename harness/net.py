"""HTTP and Redis over the standard library (the repo's venv has no HTTP or Redis client), all to
127.0.0.1: free ports, requests whose error statuses are answers too, one Redis command."""

from __future__ import annotations

import http.client as httpclient
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Headers every request of `http` carries unless it passes its own (or `anonymous=True`): the
# generated-project tiers set a valid bearer token here (tests/conftest.py), so every tier talks to
# APIs with authentication on.
default_headers: Callable[[], Mapping[str, str]] | None = None


def auth_headers() -> dict[str, str]:
    """`default_headers` as they are now (a valid token, in the generated-project tiers), for
    clients other than `http`: raw connections, urllib, schemathesis."""
    return dict(default_headers()) if default_headers is not None else {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-case names) and the raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
    source: str | None = None,
    anonymous: bool = False,
) -> Reply:
    """One HTTP request; error statuses are answers too (only connection failures raise).

    A server may answer (413) and close before it has read a large body: the send then fails
    with a broken pipe, but the answer is already there to read. `source` is the local address
    to send from: any of 127.0.0.0/8 makes another client on loopback. `default_headers` are
    added to the ones given (which win), unless `anonymous`.
    """
    given = {name.lower(): value for name, value in (headers or {}).items()}
    if default_headers is not None and not anonymous:
        given = {**{k.lower(): v for k, v in default_headers().items()}, **given}
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = httpclient.HTTPConnection(
        parts.hostname or "127.0.0.1",
        parts.port,
        timeout=timeout,
        source_address=(source, 0) if source else None,
    )
    try:
        try:
            conn.request(method, path or "/", body, given)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = conn.getresponse()
        raw = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
    finally:
        conn.close()


def post_json(url: str, payload: object, timeout: float = 30, **headers: str) -> Reply:
    body = json.dumps(payload).encode()
    return http("POST", url, body, {"content-type": "application/json", **headers}, timeout)


def redis_command(redis_url: str, *args: str) -> bytes:
    """One RESP command over a socket."""
    parts = urlsplit(redis_url)
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 5) as conn:
        conn.sendall(payload.encode())
        return conn.recv(4096)


_DELETE_KEYS = "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end"


def delete_redis_keys(redis_url: str, pattern: str) -> None:
    """Delete every key matching `pattern` (a test's own prefix) from the shared Redis."""
    redis_command(redis_url, "EVAL", _DELETE_KEYS, "0", pattern)
