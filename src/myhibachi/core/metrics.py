"""HTTP metrics for Prometheus by route template, as a pure ASGI middleware: requests by template, method and status
class, and latency by template and method. The route the router matched is read from the scope after the call:
FastAPI leaves there the effective context of the route it chose, which knows the full template (prefixes and all).
So no request is matched against the routes a second time (the instrumentation package used before did that, and
it cost a third of a small request's time), and no table of every route is built (that built FastAPI's context of
each of them: ~6 MB a process)."""

from __future__ import annotations

from time import perf_counter

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

    @staticmethod
    def _template(scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        chosen = scope.get("fastapi", {}).get("effective_route_context")  # FastAPI's; absent for a plain route
        return getattr(chosen, "path_format", None) or getattr(route, "path", None) or UNMATCHED
