"""What the app's stack costs a request before any work: `GET /health` of the app against the same endpoint on a bare
Starlette app, and `POST /api/v1/quotes` (arithmetic on cached rules), called in-process through ASGI (no server, no
network: only the Python each request runs). Prints requests per second and the ratios. Not a test.

Run: .venv/bin/python benchmarks/request_overhead.py [requests per figure, default 3000]
Embedded default: a throwaway SQLite file with one demo station.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from myhibachi.app import create_app
from myhibachi.core.migrations import upgrade_to_head_async
from myhibachi.demo import seed_demo
from myhibachi.settings import Settings

QUOTE = {"station_id": 1, "zip_code": "94538", "adults": 12, "children": 2}


def request(method: str, path: str, body: bytes = b"") -> tuple[dict[str, Any], bytes]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"accept-encoding", b"gzip"), (b"user-agent", b"bench")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return ({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}, body)


async def call(app: Any, scope: dict[str, Any], body: bytes) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def rate(app: Any, method: str, path: str, count: int, body: bytes = b"") -> float:
    scope, payload = request(method, path, body)
    for _ in range(min(200, count)):  # warm: caches filled, code paths taken once
        assert await call(app, scope, payload) == 200, path
    started = time.perf_counter()
    for _ in range(count):
        await call(app, scope, payload)
    return count / (time.perf_counter() - started)


async def main(count: int) -> None:
    async def bare_health(_request: Any) -> JSONResponse:  # async, as the app's: a sync one runs in a thread
        return JSONResponse({"status": "ok"})

    bare = Starlette(routes=[Route("/health", bare_health)])
    folder = tempfile.mkdtemp()
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{folder}/bench.db",  # type: ignore[call-arg]
                        secret_key="benchmark-secret-key-" + "x" * 24, log_level="warning")
    await upgrade_to_head_async(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await seed_demo(app.state.runtime.db, settings, history=False)
        floor = await rate(bare, "GET", "/health", count)
        health = await rate(app, "GET", "/health", count)
        quote = await rate(app, "POST", "/api/v1/quotes", count, json.dumps(QUOTE).encode())
    print(f"{'in-process ASGI, one task':<38}{'req/s':>10}")
    print(f"{'bare Starlette GET /health':<38}{floor:>10,.0f}")
    print(f"{'app GET /health':<38}{health:>10,.0f}   {health / floor:.2f} of the bare floor")
    print(f"{'app POST /api/v1/quotes':<38}{quote:>10,.0f}   {quote / health:.2f} of the app's /health")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
