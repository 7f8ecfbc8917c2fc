"""Serve the API: `python -m app [--host HOST] [--port PORT] [--reload]` (the image's command).

The address defaults to the HOST and PORT variables, else 0.0.0.0 and 8000, so a container can be
moved to another port by its environment alone (the image's healthcheck reads PORT too).

The same as `uvicorn app.main:app`, plus a clean exit: on SIGTERM or SIGINT the app's own
shutdown hooks run first (app.core.shutdown: WebSockets close with 1001), then uvicorn stops taking
connections, finishes requests in flight and runs the lifespan shutdown, then re-raises the signal
so that the process would report "killed by SIGTERM". Ignoring the signal once uvicorn has let go
of it makes a graceful stop exit 0, which process managers read as a clean stop.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from typing import Any

import uvicorn

from app.core.config import ConfigurationError, load_settings
from app.core.logging import configure_logging
from app.core.settings.service import SHUTDOWN_GRACE_SECONDS
from app.core.shutdown import run_before_server_shutdown


class Server(uvicorn.Server):
    """uvicorn's server, which lets the app close its connections its own way before it closes
    the rest (app.core.shutdown)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connection while the app closes the open ones
        await run_before_server_shutdown()
        await super().shutdown(sockets=sockets)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    # An empty variable (`PORT=`) means the default, as in the Node service's configuration.
    host = os.environ.get("HOST") or "0.0.0.0"  # noqa: S104 (a container's interface)
    parser.add_argument("--host", default=host)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--reload", action="store_true", help="restart on code changes (make run)")
    args = parser.parse_args()
    try:
        # Read here too, so that a bad setting stops start-up with one line, and for TRUST_PROXY
        # and the server's options (app.core.settings), which uvicorn applies before the app
        # sees a request.
        settings = load_settings()
    except ConfigurationError as error:
        sys.exit(f"error: {error}")
    # JSON from the first line: uvicorn's own start-up lines go through the app's handler too.
    configure_logging(settings.log_level)
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, signal.SIG_IGN)  # uvicorn installs its own while it serves
    trusted = settings.trust_proxy
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "access_log": False,  # app.core.middleware logs each request, with its id
        "log_config": None,  # configured above (app.core.logging), not uvicorn's plain text
        # X-Forwarded-For and X-Forwarded-Proto, from the TRUST_PROXY addresses only.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_SECONDS,
        **settings.server_options(),
    }
    if args.reload:
        # A development run: uvicorn's reloader starts a server of its own in a child process.
        uvicorn.run("app.main:app", reload=True, **options)
        return
    server = Server(uvicorn.Config("app.main:app", **options))
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn.run: the app did not start (its lifespan failed)


if __name__ == "__main__":
    main()
