"""ASGI middleware: request metadata for logs and audit rows, security headers on every response (no-store on
what is personal), and the same-origin rule for unsafe requests of the pages and the manage API."""

from __future__ import annotations

import random
import re
import sys
from urllib.parse import urlsplit

import structlog
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from asgi_correlation_id.extensions.sentry import set_transaction_id
from starlette.datastructures import URL, Headers, MutableHeaders
from starlette.responses import HTMLResponse
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

# Responses with personal or staff data: never kept by a browser or a shared cache. Any request that carries a
# bearer token is staff data too.
PRIVATE_PATHS = ("/admin", "/manage/", "/book", "/api/v1/auth/", "/api/v1/manage/", "/api/v1/bookings",
                 "/api/v1/payments")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PATHS = "/api/"
MANAGE_API_PATHS = "/api/v1/manage/"
# RFC 8058 one-click unsubscribes: a mail provider's server POSTs them, with no Origin and no cookie. The signed token
# in the path is the credential, and withdrawing consent is all it can do.
ONE_CLICK_PATHS = ("/unsubscribe/",)
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_SITE_PAGE = ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Not sent</title><h1>Not sent</h1>"
                   "<p>This form was sent from another site, so nothing was changed. Please open the page on our "
                   "site and send it again.</p></html>")

log = structlog.get_logger(__name__)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def is_acceptable_request_id(value: str) -> bool:
    """Keep a caller's X-Request-ID (proxies use many formats) unless it could smuggle junk into logs."""
    return REQUEST_ID.fullmatch(value) is not None


class RequestIdMiddleware(CorrelationIdMiddleware):
    """asgi-correlation-id's, without importing Sentry's SDK to tag its events unless Sentry is in use (the library
    imports it whenever it is installed: ~5 MB in every process)."""

    def __post_init__(self) -> None:
        self.sentry_extension = set_transaction_id if "sentry_sdk" in sys.modules else _untagged


def _untagged(_request_id: str) -> None:
    return None


def new_request_id() -> str:
    """32 random hex digits, as uuid4().hex looks, from the process's PRNG: a request id must be unique, not secret,
    and uuid4's read of the OS's random source was a few per cent of a small request."""
    return f"{random.getrandbits(128):032x}"


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
        private = scope["path"].startswith(PRIVATE_PATHS) or "authorization" in Headers(scope=scope)
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
                if private:
                    headers["Cache-Control"] = "no-store"
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


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` as a browser writes an Origin (lower case, default port left out); None if not a
    web address (an opaque `null` origin included)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else "")


def trusted_origins(base_url: str, request_url: str) -> set[str]:
    """BASE_URL's origin, and the origin the request was addressed to: a forged post comes from the forger's
    origin, never ours, so the address the browser typed (127.0.0.1 or localhost under `make run`) counts as ours,
    while behind a proxy that rewrites Host, BASE_URL is what matches."""
    return {origin for origin in (origin_of(base_url), origin_of(request_url)) if origin}


class RefuseNulMiddleware:
    """A NUL in a path or a query parameter has no meaning anywhere here, and PostgreSQL cannot even compare text
    holding one (it would be a 500 wherever a page looks a typed value up): 422 before any handler runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _holds_nul(scope):
            response = problem_response(422, "invalid_request", "The address holds a NUL character; remove it.")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _holds_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"").lower()
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


class SameOriginMiddleware:
    """Unsafe requests to the pages and the manage API must come from the site's own pages (their Origin, or their
    Referer when a browser sent no Origin; a `null` one passes with `Sec-Fetch-Site: same-origin`), whatever token
    they carry. Browsers always send Origin on cross-site
    unsafe requests, so a manage-API call with neither header is a non-browser client (whose credential, the
    link's token, a forger does not have) and passes; a page post with neither is refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        log.warning("cross_site_request_refused", path=scope["path"], origin=headers.get("origin"),
                    referer=headers.get("referer"))
        if scope["path"].startswith(API_PATHS):
            response = problem_response(403, "cross_site_request", "This request came from another site; "
                                        "nothing was changed.")
        else:
            response = HTMLResponse(CROSS_SITE_PAGE, status_code=403)
        await response(scope, receive, send)

    @staticmethod
    def _allowed(scope: Scope) -> bool:
        path = scope["path"]
        if path.startswith(ONE_CLICK_PATHS):
            return True
        is_api = path.startswith(API_PATHS)
        if is_api and not path.startswith(MANAGE_API_PATHS):
            return True  # the staff API takes bearer tokens, which a forged request cannot carry
        headers = Headers(scope=scope)
        sent = headers.get("origin") or headers.get("referer")
        if sent in (None, "null") and headers.get("sec-fetch-site") == "same-origin":
            return True  # a page of ours under Referrer-Policy no-referrer: the browser's word, which no page can forge
        if sent is None:
            return is_api
        settings = scope["app"].state.settings
        trusted = trusted_origins(settings.base_url, str(URL(scope=scope)))
        if is_api:  # sites that CORS_ORIGINS lets call the API from a browser
            trusted |= {origin_of(origin) for origin in settings.cors_origins} - {None}
        return origin_of(sent) in trusted
