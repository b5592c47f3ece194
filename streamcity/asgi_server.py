"""Daphne with outbound flow control for WebSockets: the ASGI server StreamCity runs.

Daphne hands every `websocket.send` to the socket's Twisted transport at once, which buffers
whatever the client does not read, without limit. This server gives each WebSocket's application a
`streamcity.outbound` scope extension (OutboundFlow): a Twisted push producer registered on the
transport, which Twisted pauses once the transport buffers more than the bound and resumes when it
has drained (Twisted's public producer/consumer interface). The consumers (streamcity.kernel.sockets)
withhold frames while it is paused and send the latest state once it resumes.

Run it as Daphne: `python -m streamcity.asgi_server -b 0.0.0.0 -p 8000 streamcity.asgi:application`
(the same options as the `daphne` command); `runstreamcity` uses it too. Under the plain `daphne`
command the sockets still work, without the outbound bound (a warning says so once).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable

import daphne.server  # installs the asyncio Twisted reactor: before anything imports Twisted's reactor
from daphne.cli import CommandLineInterface
from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer

from streamcity.kernel.sockets import FLOW_EXTENSION

logger = logging.getLogger(__name__)

DEFAULT_BUFFER_BYTES = 2 * 1024 * 1024


@implementer(IPushProducer)
class OutboundFlow:
    """Whether a WebSocket's send buffer is over `limit` bytes (`paused`), with a callback on change.

    Registered as the transport's streaming producer: Twisted calls pauseProducing() when its write
    buffer exceeds the transport's bufferSize (set to `limit`) and resumeProducing() when it has all
    been written to the socket. With `kernel_limit`, the socket's kernel send buffer is fixed at
    that size (Linux reserves twice as much), so the bytes a client has not read are at most about
    2 x kernel_limit + limit + the last message queued. After the upgrade from HTTP the transport's producer is the HTTP
    channel, which does nothing for a WebSocket; this flow takes its place.
    """

    def __init__(self, transport, limit: int = DEFAULT_BUFFER_BYTES, kernel_limit: int | None = None):
        self.transport = transport
        self.limit = limit
        if kernel_limit:  # the kernel's send buffer, fixed: autotuned, it takes up to tcp_wmem's 4 MiB a socket
            try:
                transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, kernel_limit)
            except (AttributeError, OSError):
                logger.warning("could not bound a WebSocket's kernel send buffer", exc_info=True)
        self.paused = False
        self.stopped = False
        self.pauses = 0
        self._watcher: Callable[[bool], None] | None = None
        transport.bufferSize = limit
        if getattr(transport, "producer", None) is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)

    def watch(self, callback: Callable[[bool], None]) -> None:
        """`callback(paused)` on every change, on the server's event loop."""
        self._watcher = callback
        if self.paused:
            callback(True)

    def unwatch(self) -> None:
        self._watcher = None

    def pauseProducing(self) -> None:
        if self.paused:
            return
        self.paused = True
        self.pauses += 1
        self._notify()

    def resumeProducing(self) -> None:
        if not self.paused:
            return
        self.paused = False
        # A transport with a producer closes only once its producer is unregistered (or resumed
        # and then drained again): register anew, so that a close requested meanwhile goes ahead.
        self.transport.unregisterProducer()
        if not self.stopped:
            self.transport.registerProducer(self, True)
        self._notify()

    def stopProducing(self) -> None:  # the connection is gone
        self.stopped = True
        self._watcher = None

    def _notify(self) -> None:
        watcher = self._watcher
        if watcher is None:
            return
        try:
            watcher(self.paused)
        except Exception:
            logger.exception("outbound flow watcher failed")


class Server(daphne.server.Server):
    """Daphne, with an OutboundFlow in the scope of every WebSocket (see the module docstring)."""

    def __init__(self, *args, send_buffer_bytes: int | None = None, socket_send_buffer_bytes: int | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.send_buffer_bytes = send_buffer_bytes
        self.socket_send_buffer_bytes = socket_send_buffer_bytes

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket" and getattr(protocol, "transport", None) is not None:
            from django.conf import settings

            limit = self.send_buffer_bytes
            if limit is None:
                limit = settings.STREAMCITY_WS_SEND_BUFFER_BYTES
            kernel = self.socket_send_buffer_bytes
            if kernel is None:
                kernel = settings.STREAMCITY_WS_SOCKET_SEND_BUFFER_BYTES
            try:
                flow = OutboundFlow(protocol.transport, limit, kernel)
            except Exception:  # a transport without producer support (never seen): no bound, but no failure
                logger.warning("no outbound flow control for this socket", exc_info=True)
            else:
                scope = {**scope, "extensions": {**(scope.get("extensions") or {}), FLOW_EXTENSION: flow}}
        return super().create_application(protocol, scope)


class CommandLine(CommandLineInterface):
    """The `daphne` command, running this server."""

    server_class = Server


def main(argv: list[str] | None = None) -> None:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcity.settings")
    CommandLine().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
