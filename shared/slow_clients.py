"""Bounds on slow and half-open clients, for the gateway and the clinic alike.

A client that opens connections and sends a request a byte at a time (or never
finishes it) would otherwise hold a socket, a parser and, once the headers are in, a
handler waiting on the body, for as long as it likes: a few hundred such sockets from
one laptop and nobody else gets in. Two bounds, both ``TELEREHAB_HTTP_TIMEOUT_S``:

* a connection with no complete request (nothing sent, headers half sent, or idle
  between keep-alive requests) is closed after it: aiohttp's keep-alive timer, which it
  starts when the connection opens (``server_limits``, for ``run_app`` and test servers);
* a request whose body has not fully arrived by then is answered 408 with a JSON error
  (``install``): the body is waited for before the handler runs, so no handler waits on
  a trickle.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from shared.http_errors import Handler, error_response
from shared.settings import Settings

log = logging.getLogger(__name__)


def server_limits(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``web.run_app`` / ``AppRunner`` / ``TestServer``."""
    return {"keepalive_timeout": float(settings.http_timeout_s)}


def install(app: web.Application, seconds: float) -> None:
    """Wait for every request body to arrive, within ``seconds``, before its handler runs."""
    app.middlewares.append(_body_deadline(seconds))


def _body_deadline(seconds: float) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.can_read_body and _fits_the_buffer(request):
            try:
                async with asyncio.timeout(seconds):
                    await request.content.wait_eof()  # arrived, not consumed: the handler reads it
            except TimeoutError:
                log.info(
                    "%s %s -> 408: the body did not arrive in %g s", request.method, request.path, seconds
                )
                response = error_response(
                    408, "request_timeout", f"The request body did not arrive within {seconds:g} seconds."
                )
                response.force_close()
                return response
        return await handler(request)

    return middleware


def _fits_the_buffer(request: web.Request) -> bool:
    """A body larger than the read buffer could not arrive before the handler reads it
    (aiohttp pauses the socket), and every handler refuses one that large anyway."""
    _, buffered = request.content.get_read_buffer_limits()
    return request.content_length is None or request.content_length <= buffered
