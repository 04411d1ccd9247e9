"""HTTP metrics for Prometheus by route template: requests by template, method and status class, and latency by
template and method, recorded by the edge middleware (core/http.py) once a response is done. The route the router
matched is read from the scope after the call: FastAPI leaves there the effective context of the route it chose,
which knows the full template (prefixes and all). So no request is matched against the routes a second time (the
instrumentation package used before did that, and it cost a third of a small request's time), and no table of every
route is built (that built FastAPI's context of each of them: ~6 MB a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import Scope

UNMATCHED = "none"  # a request no route matched (a 404): one label, not one per path a scanner tries
STATUS_CLASSES = {code: f"{code // 100}xx" for code in range(100, 600)}


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry, excluded: tuple[str, ...] = ("/metrics",)) -> None:
        self.excluded = excluded
        self.requests = Counter("http_requests_total", "Requests by route template, method and status class.",
                                ["handler", "method", "status"], registry=registry)
        self.duration = Histogram("http_request_duration_seconds", "Latency by route template and method.",
                                  ["handler", "method"], registry=registry)
        # (handler, method, status class) -> its counter and histogram: prometheus_client's own lookup of a labelled
        # child checks and locks on every call, a tenth of a small request's time
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        handler = _template(scope)
        if handler in self.excluded:
            return
        key = (handler, scope["method"], STATUS_CLASSES.get(status, "5xx"))
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(*key), self.duration.labels(*key[:2]))
        requests, duration = children
        requests.inc()
        duration.observe(seconds)


def _template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    chosen = scope.get("fastapi", {}).get("effective_route_context")  # FastAPI's; absent for a plain route
    return getattr(chosen, "path_format", None) or getattr(route, "path", None) or UNMATCHED
