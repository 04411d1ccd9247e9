"""ASGI middleware: request metadata for logs and audit rows, and security headers on every response."""

from __future__ import annotations

import re

import structlog
from asgi_correlation_id import correlation_id
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myhibachi.core.context import RequestMeta, set_request_meta
from myhibachi.core.errors import problem_response

# Swagger UI and ReDoc pages load their bundles from a CDN and boot with an inline script.
DOCS_PATHS = ("/docs", "/redoc")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
            "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
APP_CSP = ("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
           "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def is_acceptable_request_id(value: str) -> bool:
    """Keep a caller's X-Request-ID (proxies use many formats) unless it could smuggle junk into logs."""
    return REQUEST_ID.fullmatch(value) is not None


class RequestMetaMiddleware:
    """Puts the caller's IP, user agent and request id where throttles, audit rows and log lines find them. The IP
    is the socket's, or the client a trusted proxy named (`ProxyHeadersMiddleware` runs first)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = scope.get("client")
        meta = RequestMeta(ip=client[0] if client else None, user_agent=headers.get("user-agent"),
                           request_id=correlation_id.get())
        set_request_meta(meta)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=meta.request_id, client_ip=meta.ip)
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_docs = scope["path"].startswith(DOCS_PATHS)
        https = scope.get("scheme") == "https"
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", DOCS_CSP if is_docs else APP_CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if https:
                    headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette sends the 500 from its outermost middleware, past this one and the request id's:
            # answer here so it carries the headers too. Re-raised, so it is still logged and reported.
            if not started:
                response = problem_response(500, "internal_error",
                                            "Something went wrong on our side; it has been logged.")
                await response(scope, receive, send_with_headers)
            raise
