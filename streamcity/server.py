"""The ASGI server every command that serves pages builds: `runstreamcity` and the benchmarks.

It is Daphne with outbound flow control for WebSockets (streamcity.asgi_server.Server). Importing
this module installs Twisted's asyncio reactor (daphne.server does it on import), so import it
before anything else imports Twisted."""

from __future__ import annotations

from collections.abc import Callable

import daphne.server
from django.conf import settings


def asgi_server(host: str, port: int, *, ready: Callable[[], None] | None = None,
                signal_handlers: bool = True) -> daphne.server.Server:
    """Daphne serving the project's ASGI application on host:port (not started: call .run())."""
    from channels.routing import get_default_application
    from daphne.endpoints import build_endpoint_description_strings

    from streamcity.asgi_server import Server

    return Server(
        application=get_default_application(),
        endpoints=build_endpoint_description_strings(host=host, port=port),
        signal_handlers=signal_handlers,
        ready_callable=ready,
        verbosity=0,
        ping_interval=settings.STREAMCITY_WS_PING_INTERVAL,
        ping_timeout=settings.STREAMCITY_WS_PING_TIMEOUT,
    )


def server_loop():
    """The event loop the server runs on (the channel layer must be used from it)."""
    return daphne.server.twisted_loop
