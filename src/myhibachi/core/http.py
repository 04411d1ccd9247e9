"""The edge of every request, one pure ASGI middleware: request ids and metadata for logs and audit rows, security
headers on every response (no-store on what is personal), the same-origin rule for unsafe requests of the pages and
the manage API, and HTTP metrics."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterable
from time import perf_counter
from urllib.parse import urlsplit

import structlog
from starlette.datastructures import URL
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myhibachi.core.context import RequestMeta, set_request_meta
from myhibachi.core.errors import problem_response
from myhibachi.core.metrics import HttpMetrics

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


def new_request_id() -> str:
    """32 random hex digits, as uuid4().hex looks, from the process's PRNG: a request id must be unique, not secret,
    and uuid4's read of the OS's random source was a few per cent of a small request."""
    return f"{random.getrandbits(128):032x}"


def _security_headers(*, docs: bool, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    headers = {"content-security-policy": DOCS_CSP if docs else APP_CSP, "x-content-type-options": "nosniff",
               "x-frame-options": "DENY", "referrer-policy": "strict-origin-when-cross-origin",
               "permissions-policy": "camera=(), microphone=(), geolocation=()",
               "cross-origin-opener-policy": "same-origin"}
    if https:
        headers["strict-transport-security"] = "max-age=63072000; includeSubDomains"
    return tuple((name.encode(), value.encode()) for name, value in headers.items())


# Built once: (docs page?, https?) -> the raw headers every response gets unless it set its own.
SECURITY_HEADERS = {(docs, https): _security_headers(docs=docs, https=https)
                    for docs in (False, True) for https in (False, True)}
NO_STORE = (b"cache-control", b"no-store")


class EdgeMiddleware:
    """Everything a request meets before the app, in one pure ASGI layer (each layer of its own cost a small request
    a few per cent): its request id (the caller's X-Request-ID when acceptable, else a new one, echoed on the
    response), the metadata logs and audit rows read, the refusals of a NUL in the address and of a cross-site
    unsafe request, security headers on every response (no-store on what is personal), and HTTP metrics."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            _identify(scope, dict(scope["headers"]))
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at, status, started = perf_counter(), 500, False
        headers = dict(scope["headers"])  # ASGI names are lower-case bytes
        request_id = _identify(scope, headers)
        path = scope["path"]
        extra = SECURITY_HEADERS[path.startswith(DOCS_PATHS), scope.get("scheme") == "https"]
        private = path.startswith(PRIVATE_PATHS) or b"authorization" in headers

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = _with_headers(message.get("headers", ()), extra, request_id, private=private)
            await send(message)

        try:
            refusal = _refusal(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
                return
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette sends the 500 from its outermost middleware, past this one: answer here so it carries the
            # headers too. Re-raised, so it is still logged and reported.
            if not started:
                response = problem_response(500, "internal_error",
                                            "Something went wrong on our side; it has been logged.")
                await response(scope, receive, send_with_headers)
            raise
        finally:
            self.metrics.record(scope, status, perf_counter() - started_at)


def _identify(scope: Scope, headers: dict[bytes, bytes]) -> str:
    """The request's id, and the caller's IP, user agent and id where throttles, audit rows and log lines find them.
    The IP is the socket's, or the client a trusted proxy named (`ProxyHeadersMiddleware` runs first)."""
    sent = headers.get(b"x-request-id", b"").decode("latin-1")
    request_id = sent if sent and is_acceptable_request_id(sent) else new_request_id()
    client = scope.get("client")
    user_agent = headers.get(b"user-agent")
    meta = RequestMeta(ip=client[0] if client else None, request_id=request_id,
                       user_agent=user_agent.decode("latin-1") if user_agent is not None else None)
    set_request_meta(meta)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, client_ip=meta.ip)
    if "sentry_sdk" in sys.modules:  # tag its events with the id, without importing it (~5 MB) when unused
        sys.modules["sentry_sdk"].get_isolation_scope().set_tag("transaction_id", request_id)
    return request_id


def _with_headers(raw: Iterable[tuple[bytes, bytes]], extra: tuple[tuple[bytes, bytes], ...], request_id: str, *,
                  private: bool) -> list[tuple[bytes, bytes]]:
    """The response's headers, plus each security header it did not set itself, the request id and, on what is
    personal, no-store in place of any other caching rule."""
    headers = [(name, value) for name, value in raw if not (private and name.lower() == b"cache-control")]
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in extra if header[0] not in present)
    headers.append((b"x-request-id", request_id.encode()))
    if private:
        headers.append(NO_STORE)
    return headers


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


def _refusal(scope: Scope, headers: dict[bytes, bytes]) -> Response | None:
    """The answer to a request refused before any handler runs, or None."""
    if _holds_nul(scope):
        # A NUL in a path or a query parameter has no meaning anywhere here, and PostgreSQL cannot even compare
        # text holding one (it would be a 500 wherever a page looks a typed value up).
        return problem_response(422, "invalid_request", "The address holds a NUL character; remove it.")
    if scope["method"] not in UNSAFE_METHODS or _same_origin(scope, headers):
        return None
    log.warning("cross_site_request_refused", path=scope["path"], origin=_text(headers.get(b"origin")),
                referer=_text(headers.get(b"referer")))
    if scope["path"].startswith(API_PATHS):
        return problem_response(403, "cross_site_request", "This request came from another site; nothing was changed.")
    return HTMLResponse(CROSS_SITE_PAGE, status_code=403)


def _holds_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"").lower()
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


def _same_origin(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """Unsafe requests to the pages and the manage API must come from the site's own pages (their Origin, or their
    Referer when a browser sent no Origin; a `null` one passes with `Sec-Fetch-Site: same-origin`), whatever token
    they carry. Browsers always send Origin on cross-site unsafe requests, so a manage-API call with neither header
    is a non-browser client (whose credential, the link's token, a forger does not have) and passes; a page post
    with neither is refused."""
    path = scope["path"]
    if path.startswith(ONE_CLICK_PATHS):
        return True
    is_api = path.startswith(API_PATHS)
    if is_api and not path.startswith(MANAGE_API_PATHS):
        return True  # the staff API takes bearer tokens, which a forged request cannot carry
    sent = _text(headers.get(b"origin")) or _text(headers.get(b"referer"))
    if sent in (None, "null") and headers.get(b"sec-fetch-site") == b"same-origin":
        return True  # a page of ours under Referrer-Policy no-referrer: the browser's word, which no page can forge
    if sent is None:
        return is_api
    settings = scope["app"].state.settings
    trusted = trusted_origins(settings.base_url, str(URL(scope=scope)))
    if is_api:  # sites that CORS_ORIGINS lets call the API from a browser
        trusted |= {origin_of(origin) for origin in settings.cors_origins} - {None}
    return origin_of(sent) in trusted


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
