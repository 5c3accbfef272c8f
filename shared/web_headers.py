"""Security headers on every HTTP response, for the gateway and the clinic alike.

The pages load nothing from elsewhere and are never meant to sit in someone else's
frame: every script, style, font and request is this origin's, and no inline script or
style runs (the pages have none; an injected one is refused by the browser). JSON and
PDF replies carry health data that no browser or proxy cache should keep; and the
``Server`` header should not name the aiohttp version to a scanner.
"""

from __future__ import annotations

from aiohttp import web

SERVER = "telerehab"
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
}
_PRIVATE_TYPES = ("application/json", "application/pdf")
HSTS = "max-age=31536000; includeSubDomains"  # a year: browsers then never try plain HTTP


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: set before any byte of the response is sent."""
    for name, value in _ALWAYS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = SERVER
    if response.content_type in _PRIVATE_TYPES or request.path.startswith(("/api/", "/clinic/api/")):
        response.headers["Cache-Control"] = "no-store"


async def add_hsts(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Strict-Transport-Security"] = HSTS


def install(app: web.Application, *, https: bool = False) -> None:
    """Add the headers to every response of ``app`` (and of the sub-apps it mounts);
    ``https``: the service is reached over HTTPS (``TELEREHAB_PUBLIC_URL`` says so, a TLS
    proxy in front), so browsers are told to keep to it (HSTS)."""
    app.on_response_prepare.append(add_security_headers)
    if https:
        app.on_response_prepare.append(add_hsts)
