"""create_app(settings) -> the ASGI app: routers, middleware, error handlers, docs, metrics and lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from ipaddress import ip_address

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from myhibachi import __version__
from myhibachi import tasks as _tasks  # noqa: F401 - every domain's handlers and periodic tasks
from myhibachi.analytics import api as analytics_api
from myhibachi.audit import api as audit_api
from myhibachi.auth import api as auth_api
from myhibachi.auth.dependencies import current_principal
from myhibachi.bookings import api as bookings_api
from myhibachi.chefs import api as chefs_api
from myhibachi.consent import api as consent_api
from myhibachi.core.errors import DomainError, install_problem_handlers, problem_response, problem_responses
from myhibachi.core.http import EdgeMiddleware
from myhibachi.core.metrics import HttpMetrics
from myhibachi.core.observability import configure_logging, init_sentry
from myhibachi.core.runtime import Runtime
from myhibachi.core.web import InputlessRoute, PathGroup, RuntimeDep
from myhibachi.inbox import api as inbox_api
from myhibachi.inbox import meta_webhooks, twilio_webhooks
from myhibachi.inbox import thread_api as inbox_thread_api
from myhibachi.leads import api as leads_api
from myhibachi.leads import people_api
from myhibachi.newsletters import api as newsletters_api
from myhibachi.newsletters import webhooks as newsletter_webhooks
from myhibachi.payments import api as payments_api
from myhibachi.pricing import api as pricing_api
from myhibachi.settings import Settings, get_settings
from myhibachi.stations import api as stations_api
from myhibachi.web import assets
from myhibachi.web.admin import account as admin_account
from myhibachi.web.admin import audit as admin_audit
from myhibachi.web.admin import auth_pages as admin_auth
from myhibachi.web.admin import automations as admin_automations
from myhibachi.web.admin import bookings as admin_bookings
from myhibachi.web.admin import campaigns as admin_campaigns
from myhibachi.web.admin import chefs as admin_chefs
from myhibachi.web.admin import contacts as admin_contacts
from myhibachi.web.admin import dashboard as admin_dashboard
from myhibachi.web.admin import inbox as admin_inbox
from myhibachi.web.admin import leads as admin_leads
from myhibachi.web.admin import live as admin_live
from myhibachi.web.admin import payments as admin_payments
from myhibachi.web.admin import stations as admin_stations
from myhibachi.web.admin import subscribers as admin_subscribers
from myhibachi.web.admin import tasks as admin_tasks
from myhibachi.web.admin import users as admin_users
from myhibachi.web.admin.pages import domain_error_page
from myhibachi.web.admin.session import SignInRequired, sign_in_redirect
from myhibachi.web.site import booking as site_booking
from myhibachi.web.site import chat as site_chat
from myhibachi.web.site import checkout as site_checkout
from myhibachi.web.site import feedback as site_feedback
from myhibachi.web.site import manage as site_manage
from myhibachi.web.site import pages as site_pages
from myhibachi.web.site import subscribe as site_subscribe
from myhibachi.web.site import tracking as site_tracking
from myhibachi.web.site import unsubscribe as site_unsubscribe

API_PREFIX = "/api/v1"
DESCRIPTION = """
The JSON API of MyHibachi — quotes, chef-aware booking, payments and staff administration for a mobile
hibachi catering business.

**Authentication.** Staff sign in with `POST /api/v1/auth/login` and send the access token as
`Authorization: Bearer <token>`. Access tokens live 15 minutes; rotate with `POST /api/v1/auth/refresh`.

**Permissions.** Roles are granted per station (admin, manager, support, chef); super admins are global.
A record of a station you have no role at answers 404.

**Errors.** Every error is `application/problem+json` (RFC 9457) with a stable `code`, and `errors` per
field for validation problems.
"""
TAGS = [
    {"name": "auth", "description": "Sign-in, token rotation, sign-out, password reset and two-factor sign-in."},
    {"name": "users", "description": "Staff users: create or invite, deactivate, reactivate."},
    {"name": "stations", "description": "The business's bases, who holds which role at each, and their rules."},
    {"name": "chefs", "description": "Each station's chef roster: working days, daily limits, who is on duty "
                                      "on a date, and time-off requests and decisions."},
    {"name": "quotes", "description": "Instant prices computed from a station's business rules."},
    {"name": "bookings", "description": "Chef-aware availability, booking a date, and the staff's booking "
                                        "lifecycle: confirm, reschedule, change the party, assign chefs, cancel."},
    {"name": "manage", "description": "The customer's self-service through the manage link in their emails: "
                                      "see, change, move or cancel a booking; no password."},
    {"name": "payments", "description": "The payment ledger: manual payments, refunds, the staff's payment views "
                                        "and Stripe's webhook."},
    {"name": "leads", "description": "Inquiries from every door, one open lead per station and person, the "
                                     "pipeline, assignment, follow-ups and the timeline, scored and explained."},
    {"name": "analytics", "description": "Payments by local period and the key figures, as JSON or CSV; cached."},
    {"name": "contacts", "description": "One person across every door: their handles, leads and bookings, and "
                                        "merging a duplicate into them."},
    {"name": "consent", "description": "Double opt-in to news and offers: subscribing, the signed confirmation "
                                       "link, and the append-only consent ledger it writes."},
    {"name": "bounces", "description": "Bounces and complaints: the mail provider's signed event webhook and the "
                                       "delivery and feedback reports mailed back, which suppress an address."},
    {"name": "newsletters", "description": "Segments of a station's people and who they reach today, and campaigns "
                                           "from draft to sent: preview, test, send now or at a time, pause, "
                                           "resume, cancel, stats and activity over time."},
    {"name": "inbox", "description": "One inbox for texts, email, Messenger, Instagram and the website chat: "
                                     "threads per person, replies and private notes, assignment, delivery, "
                                     "canned replies that render the station's rules, the quote and deposit "
                                     "link sent in the thread, response clocks, and the channels' signed "
                                     "webhooks."},
    {"name": "audit", "description": "The append-only trail of privileged changes."},
    {"name": "ops", "description": "Liveness and readiness probes."},
]


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    init_sentry(settings)
    runtime = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = app.state.runtime  # not the closure's: `use_runtime` may have swapped it
        await current.start()
        try:
            yield
        finally:
            await current.stop()

    app = FastAPI(
        title=f"{settings.brand_name} API",
        description=DESCRIPTION,
        version=__version__,
        contact={"name": "MyHibachi maintainers", "url": "https://github.com/myhibachi/myhibachi"},
        license_info={"name": "MIT", "identifier": "MIT"},
        openapi_tags=TAGS,
        lifespan=lifespan,
        redirect_slashes=False,
        # Prometheus metrics and Sentry report; FastAPI's own OpenTelemetry hooks would only cost each request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = runtime
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_exception_handler(StarletteHTTPException, site_pages.not_found_page)
    app.add_exception_handler(SignInRequired, sign_in_redirect)
    app.add_exception_handler(DomainError, domain_error_page)

    # Outermost last. The edge's request id, headers and metrics cover whatever comes back, its refusals included.
    # Not compressed: the admin's event stream (compression would hold back its events), and bodies under 1 KB (a
    # quote, a slot list): they fit one packet either way, so gzip would only cost CPU at both ends (a seventh of a
    # quote's time here). Starlette's default list (images, fonts, archives) is re-read on every request, and this
    # app serves none of them above the minimum.
    app.add_middleware(GZipMiddleware, minimum_size=1000, exclude_content_types=("text/event-stream",))
    metrics_registry = CollectorRegistry()  # one per app keeps test apps apart
    app.add_middleware(EdgeMiddleware, metrics=HttpMetrics(metrics_registry))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"], expose_headers=["X-Request-ID"])
    if settings.forwarded_allow_ips:  # outermost: every layer, limit, audit row and log line sees the client
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)

    # FastAPI matches a path against routes and included routers in order: the cheapest and the grouped come first,
    # and the quote, the busiest public call, is a route of the app's own (`_add_routes_of`).
    app.include_router(_liveness_router())
    _add_routes_of(app, TOP_LEVEL_PUBLIC, API_PREFIX)
    app.include_router(_ops_router())
    app.include_router(_api_router())
    app.include_router(_admin_router())
    app.include_router(assets.router)
    app.include_router(site_pages.router)
    app.include_router(site_booking.router)
    app.include_router(site_manage.router)
    app.include_router(site_checkout.router)
    app.include_router(site_subscribe.router)
    app.include_router(site_unsubscribe.router)
    app.include_router(site_tracking.router)
    app.include_router(site_feedback.router)
    app.include_router(site_chat.router)
    app.include_router(admin_live.router)  # /ws/staff besides its /admin pages
    _serve_metrics(app, metrics_registry)
    return app


# A route is public only by being on one of these; every other router requires a signed-in staff member.
PUBLIC_ROUTERS = (pricing_api.public, stations_api.public, bookings_api.public, auth_api.public,  # busiest first
                  bookings_api.manage, payments_api.manage, payments_api.webhooks,
                  leads_api.public, consent_api.public, newsletter_webhooks.webhooks,
                  twilio_webhooks.webhooks, meta_webhooks.webhooks, site_chat.public)
# The busiest public router sits at the app's top level, before the API group: each level of routers FastAPI walks
# cost a quote ~13 µs (a tenth of it).
TOP_LEVEL_PUBLIC = pricing_api.public
STAFF_ROUTERS = (auth_api.staff, auth_api.users, stations_api.staff, pricing_api.staff,
                 chefs_api.staff, bookings_api.staff, payments_api.staff, analytics_api.staff, audit_api.staff,
                 leads_api.staff, people_api.staff, newsletters_api.segments, newsletters_api.campaigns,
                 inbox_api.staff, inbox_thread_api.staff)


def _api_router() -> APIRouter:
    api = PathGroup(API_PREFIX, prefix=API_PREFIX)  # one level: FastAPI walks each level again per request
    for router in PUBLIC_ROUTERS:
        if router is not TOP_LEVEL_PUBLIC:
            api.include_router(router)
    for router in STAFF_ROUTERS:
        api.include_router(router, dependencies=[Depends(current_principal)])
    return api


def _admin_router() -> APIRouter:
    admin = PathGroup("/admin")
    for area in (admin_auth, admin_dashboard, admin_bookings, admin_leads, admin_payments, admin_chefs,
                 admin_stations, admin_users, admin_audit, admin_account, admin_contacts, admin_subscribers,
                 admin_campaigns, admin_automations, admin_tasks, admin_inbox):
        admin.include_router(area.router)
    return admin


def _add_routes_of(app: FastAPI, router: APIRouter, prefix: str) -> None:
    """A router's routes made routes of the app itself rather than included: FastAPI 0.165 matches an included router
    through its effective route contexts on every request (a tenth of a quote's own time), a route of the app's own by
    its path's pattern. For a router that adds no dependencies of its own."""
    for route in router.routes:
        app.router.add_api_route(
            prefix + route.path, route.endpoint, methods=route.methods, response_model=route.response_model,
            status_code=route.status_code, tags=route.tags, dependencies=route.dependencies, summary=route.summary,
            description=route.description, response_description=route.response_description,
            responses=route.responses, deprecated=route.deprecated, name=route.name,
            include_in_schema=route.include_in_schema, response_class=route.response_class,
            route_class_override=type(route), openapi_extra=route.openapi_extra)


def _liveness_router() -> APIRouter:
    liveness = APIRouter(tags=["ops"], route_class=InputlessRoute)  # probed every few seconds by every balancer

    @liveness.get("/health", summary="Liveness", response_model=dict[str, str], responses={200: {"content": {
        "application/json": {"example": {"status": "ok"}}}}})
    async def health() -> JSONResponse:
        """The process is up. Checks nothing else, so an orchestrator never restarts it for a slow database."""
        return JSONResponse({"status": "ok"})

    return liveness


def _ops_router() -> APIRouter:
    ops = APIRouter(tags=["ops"])

    @ops.get("/ready", summary="Readiness", responses={
        200: {"content": {"application/json": {"example": {"status": "ok", "database": "ok", "redis": "ok"}}}},
        **problem_responses(503)})
    async def ready(runtime: RuntimeDep) -> JSONResponse:
        """The database answers (and Redis, when configured). 503 problem+json otherwise."""
        checks = {"database": await _check_database(runtime), "redis": await _check_redis(runtime)}
        failed = [name for name, state in checks.items() if state == "error"]
        if failed:
            return problem_response(503, "not_ready", f"Not ready: {', '.join(failed)} unavailable.")
        return JSONResponse({"status": "ok", **checks})

    return ops


async def _check_database(runtime: Runtime) -> str:
    try:
        async with runtime.db.session(write=False) as session:
            await session.execute(text("SELECT 1"))
        return "ok"
    except Exception:
        return "error"


async def _check_redis(runtime: Runtime) -> str:
    if not runtime.settings.redis_url:
        return "not_configured"
    from redis.asyncio import Redis

    client = Redis.from_url(runtime.settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
        return "ok"
    except Exception:
        return "error"
    finally:
        await client.aclose()


def _metrics_reader(request: Request) -> None:
    """A loopback client (a scraper on the host or a sidecar) reads /metrics; others only with METRICS_PUBLIC.
    Anyone else gets the 404 of a path that does not exist."""
    if request.app.state.settings.metrics_public or _is_loopback(request.client.host if request.client else None):
        return
    raise StarletteHTTPException(status_code=404)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return False


def _serve_metrics(app: FastAPI, registry: CollectorRegistry) -> None:
    """Requests and latency by route template (the edge middleware's) and the cache's figures at /metrics."""

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(_metrics_reader)])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.state.metrics_registry = registry
    app.state.runtime.cache.metrics.register(registry)


def serving_app() -> FastAPI:
    """The app as `myhibachi serve` runs it (uvicorn's factory): built from the environment, then the heap frozen.
    The modules and the app live as long as the process, so the collector's full passes need not walk their half a
    million objects again and again: each such pass stalled a request by ~140 ms here. (Not in `create_app`: a test
    process builds and drops apps, and frozen objects are never collected.)"""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def use_runtime(app: FastAPI, runtime: Runtime) -> None:
    """Serve an app with another runtime (its database, cache, jobs, settings), before its lifespan starts.

    Building the routes takes about a second, so the test harness builds one app per process and gives each
    test a fresh runtime. Only what reads the runtime follows: the title, CORS, the trusted proxies and the HTTP
    metrics stay.
    """
    registry = app.state.metrics_registry
    app.state.runtime.cache.metrics.unregister(registry)
    app.state.runtime, app.state.settings = runtime, runtime.settings
    runtime.cache.metrics.register(registry)
