"""Bounds for the public WebSocket consumers: what a client may send, and what the server queues for it.

- **Client messages**: each socket has a token bucket (STREAMCITY_WS_MESSAGE_BURST messages at once,
  refilled at STREAMCITY_WS_MESSAGES_PER_SECOND). A message past the budget gets an error frame and
  the socket is closed (4008): a `resync` or `subscribe` costs the server a
  database query and a snapshot, so a client cannot make it send megabytes for a few bytes.
- **Message shape**: a text over STREAMCITY_WS_MAX_MESSAGE_CHARS characters, nested deeper than
  STREAMCITY_WS_MAX_MESSAGE_DEPTH, not JSON or not an object is answered with an error frame before
  (or instead of) `json.loads`: no RecursionError, no traceback, the socket stays open.
- **Outbound bytes**: the ASGI server (streamcity.asgi_server, Daphne with flow control) tells the
  consumer when the socket's send buffer holds more than STREAMCITY_WS_SEND_BUFFER_BYTES. While it
  does, frames of changes and requested snapshots are not queued (the consumer only notes that the
  client is behind); once the buffer has drained, the client gets a fresh snapshot, the latest
  state, instead of a backlog.
  A socket that stays over the bound for STREAMCITY_WS_STALL_SECONDS is closed (4009). A unit already
  begun (all parts of one snapshot) is sent whole, so a socket holds at most the bound plus one
  snapshot.

Consumers subclass `BoundedWebsocketConsumer`, implement `receive_message(message: dict)` and
`send_latest()`, and send state through `send_state(text)`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from streamcity.kernel.schemas import json_depth

logger = logging.getLogger(__name__)

FLOW_EXTENSION = "streamcity.outbound"  # scope["extensions"] key of an OutboundFlow (streamcity.asgi_server)
# Close codes (the application range of RFC 6455: Daphne's autobahn refuses 1008 from an application)
CLOSE_TOO_MANY_MESSAGES = 4008  # the client spent its message budget
CLOSE_NOT_READING = 4009  # the send buffer stayed over its bound for STREAMCITY_WS_STALL_SECONDS
_warned_unbounded = False


class TokenBucket:
    """`burst` tokens at most, refilled at `rate` a second; `take()` spends one if there is one."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if rate < 0 or burst < 1:
            raise ValueError("a token bucket needs rate >= 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
        self._at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ClientMessageError(ValueError):
    """A client message the server does not read; the text says why (sent in the error frame)."""


def client_message(text: str | None, *, max_chars: int, max_depth: int) -> dict:
    """A client's text message as a JSON object, checked for size and nesting before parsing."""
    if text is None:
        raise ClientMessageError("messages are JSON text, not binary")
    if len(text) > max_chars:
        raise ClientMessageError(f"message of {len(text)} characters is over the limit of {max_chars}")
    if text.count("[") + text.count("{") > max_depth and json_depth(text, max_depth) > max_depth:
        raise ClientMessageError(f"message nested more than {max_depth} levels deep")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise ClientMessageError("message is not valid JSON") from None
    if not isinstance(message, dict):
        raise ClientMessageError('message must be a JSON object with a "type"')
    return message


def _dumps(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


class BoundedWebsocketConsumer(AsyncWebsocketConsumer):
    """An AsyncWebsocketConsumer with a message budget, message checks and a bound on queued bytes."""

    budget: TokenBucket | None = None
    flow = None  # the OutboundFlow of the socket, when the server provides one
    behind = False  # frames were withheld while the send buffer was full: send_latest() once drained
    withheld = 0  # frames not queued because the send buffer was full (a count, for tests and logs)
    closing = False
    _stalled: asyncio.TimerHandle | None = None

    def bound_socket(self) -> None:
        """Set up the bounds; call first in connect()."""
        self.budget = TokenBucket(settings.STREAMCITY_WS_MESSAGES_PER_SECOND, settings.STREAMCITY_WS_MESSAGE_BURST)
        self.flow = (self.scope.get("extensions") or {}).get(FLOW_EXTENSION)
        if self.flow is not None:
            self.flow.watch(self._flow_changed)
        elif self.scope.get("server") is not None:  # a real server (not a test communicator) without the extension
            global _warned_unbounded
            if not _warned_unbounded:
                _warned_unbounded = True
                logger.warning("this ASGI server does not report WebSocket send buffers: what a client does not "
                               "read is not bounded; run `python -m streamcity.asgi_server` instead of `daphne`")

    async def websocket_disconnect(self, message):
        if self.flow is not None:
            self.flow.unwatch()
        if self._stalled is not None:
            self._stalled.cancel()
        await super().websocket_disconnect(message)

    # -- client messages ---------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        if self.budget is not None and not self.budget.take():
            self.closing = True
            b = self.budget
            await self.send_error(f"too many messages: at most {b.burst} at once and {b.rate:g} a second; closing")
            await self.close(code=CLOSE_TOO_MANY_MESSAGES)
            return
        try:
            message = client_message(text_data, max_chars=settings.STREAMCITY_WS_MAX_MESSAGE_CHARS,
                                     max_depth=settings.STREAMCITY_WS_MAX_MESSAGE_DEPTH)
        except ClientMessageError as exc:
            await self.send_error(str(exc))
            return
        await self.receive_message(message)

    async def receive_message(self, message: dict) -> None:
        """A checked client message (a JSON object)."""
        raise NotImplementedError

    async def send_error(self, error: str) -> None:
        await self.send(text_data=_dumps({"type": "error", "error": error}))

    # -- outbound ------------------------------------------------------------------------------------
    def over_bound(self) -> bool:
        """Whether the socket's send buffer is over its bound now (the client is not keeping up)."""
        return self.flow is not None and self.flow.paused

    async def send_state(self, text: str) -> bool:
        """Queue a frame of changes, unless the send buffer is over its bound: then it is withheld,
        and the client gets the latest state once the buffer has drained. True when queued."""
        if self.over_bound():
            self.behind = True
            self.withheld += 1
            return False
        await self.send(text_data=text)
        return True

    async def send_latest(self) -> None:
        """Send the client the latest state (a snapshot): it fell behind and its buffer has drained."""
        raise NotImplementedError

    def _flow_changed(self, paused: bool) -> None:
        """Called by the OutboundFlow on the server's event loop."""
        if paused:
            if self._stalled is None:
                self._stalled = asyncio.get_running_loop().call_later(settings.STREAMCITY_WS_STALL_SECONDS,
                                                                      self._stall)
            return
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None
        if self.behind and not self.closing:
            self.behind = False
            asyncio.ensure_future(self._catch_up())

    async def _catch_up(self) -> None:
        try:
            await self.send_latest()
        except Exception:  # the socket went away meanwhile
            logger.debug("latest state not sent", exc_info=True)

    def _stall(self) -> None:
        self._stalled = None
        if self.over_bound() and not self.closing:
            self.closing = True
            logger.info("closing a WebSocket whose client has not read for %ss (%s)",
                        settings.STREAMCITY_WS_STALL_SECONDS, self.scope.get("client"))
            asyncio.ensure_future(self.close(code=CLOSE_NOT_READING))
