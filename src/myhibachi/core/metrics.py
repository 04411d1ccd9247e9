"""HTTP metrics for Prometheus by route template, as a pure ASGI middleware: requests by template, method and status
class, and latency by template and method. The route the router matched is read from the scope after the call
(FastAPI puts it there) and named by its full template from a table made once, so no request is matched against
the routes a second time — the instrumentation package used before did that, and it cost a third of a small
request's time."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "none"  # a request no route matched (a 404): one label, not one per path a scanner tries


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("http_requests_total", "Requests by route template, method and status class.",
                                ["handler", "method", "status"], registry=registry)
        self.duration = Histogram("http_request_duration_seconds", "Latency by route template and method.",
                                  ["handler", "method"], registry=registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics, excluded: tuple[str, ...] = ("/metrics",)) -> None:
        self.app, self.metrics, self.excluded = app, metrics, excluded
        self._templates: dict[int, str] | None = None  # id(route) → its full template, made on the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            handler = self._template(scope)
            if handler not in self.excluded:
                method = scope["method"]
                self.metrics.requests.labels(handler, method, f"{status // 100}xx").inc()
                self.metrics.duration.labels(handler, method).observe(perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        if self._templates is None:
            self._templates = route_templates(scope["app"].routes)
        return self._templates.get(id(route)) or getattr(route, "path", None) or UNMATCHED


def route_templates(routes: list[Any]) -> dict[int, str]:
    """Each route's full template: a route of an included router knows only its own part ("/{station_id}"); its
    effective context (FastAPI's, as the Prometheus instrumentation package reads it too) has the prefixed one."""
    templates: dict[int, str] = {}
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if callable(contexts) else [route]:
            original = getattr(context, "original_route", None) or context
            if path := getattr(context, "path", None):
                templates.setdefault(id(original), path)
    return templates
