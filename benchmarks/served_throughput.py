"""Issue 21 items 1 and 2 on a real server: wrk against uvicorn (one process each, the same options) on loopback.
Side by side in one run: a bare Starlette `GET /health` (the floor), the app's `GET /health` (every middleware on:
request ids, metrics, security headers, compression, logging) and the app's `POST /api/v1/quotes`, on the embedded
default (SQLite, in-process cache) and on PostgreSQL + Redis. Prints req/s and the ratios the issue names. Not a test.

Run: .venv/bin/python benchmarks/served_throughput.py [seconds per figure, default 10: in rounds of 2 s]
     [connections, default 32]
Needs wrk (Debian's package) and, for the second half, PostgreSQL at BENCH_PG_URL and Redis at BENCH_REDIS_URL
(default redis://127.0.0.1:6379/4, flushed first). Servers listen on 127.0.0.1 only and are stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import httpx
from _serving import Servers, app_env, free_port, local_url, throwaway_database, wait_ready
from redis.asyncio import Redis

from myhibachi.core.db import Database
from myhibachi.core.migrations import upgrade_to_head_async
from myhibachi.demo import seed_demo
from myhibachi.settings import Settings

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
QUOTE = {"station_id": 1, "zip_code": "94538", "adults": 12, "children": 2}


def bare_app():  # noqa: ANN201 - uvicorn factory
    """The floor: a Starlette app answering the same /health document, nothing else."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def health(_request: object) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/health", health), Route("/ready", health)])


def wrk(port: int, path: str, seconds: int, connections: int, script: Path | None = None) -> float:
    """Requests per second wrk measured; fails on any non-2xx answer or socket error."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, local_url(port) + path], capture_output=True, text=True, check=True,  # noqa: S603
                         timeout=seconds + 30).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on {path}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


async def seed(url: str, redis_url: str | None) -> None:
    settings = Settings(_env_file=None, database_url=url, redis_url=redis_url,  # type: ignore[call-arg]
                        secret_key="benchmark-secret-key-" + "x" * 24)
    db = Database(url)
    try:
        await seed_demo(db, settings, history=False)
    finally:
        await db.dispose()


async def measure(servers: Servers, label: str, env: dict[str, str | None], seconds: int, connections: int,
                  quote_script: Path) -> dict[str, float]:
    app_port, bare_port = free_port(), free_port()
    app = servers.start("myhibachi.app:serving_app", app_port, env)
    bare = servers.start("served_throughput:bare_app", bare_port, {})
    async with httpx.AsyncClient(base_url=local_url(app_port)) as client, \
            httpx.AsyncClient(base_url=local_url(bare_port)) as bare_client:
        await wait_ready(client, app)
        await wait_ready(bare_client, bare)
        answered = await client.post("/api/v1/quotes", json=QUOTE)
        assert answered.status_code == 200, answered.text
    targets = {"bare /health": (bare_port, "/health", None), "app /health": (app_port, "/health", None),
               "app POST /quotes": (app_port, "/api/v1/quotes", quote_script)}
    for port, path, script in targets.values():
        wrk(port, path, 2, connections, script)  # warm: caches filled, code paths taken
    # In rounds, the three side by side in each: this machine's speed drifts over a run, and a drift that fell
    # between two long figures moved their ratio by a fifth
    rounds = max(1, seconds // 2)
    rates: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (port, path, script) in targets.items():
            rates[name].append(wrk(port, path, max(1, seconds // rounds), connections, script))
    for process in (app, bare):
        process.terminate()
        process.wait(timeout=15)
    figures = {name: statistics.median(each) for name, each in rates.items()}
    print(f"\n{label}: wrk -t1 -c{connections}, {rounds} rounds of {max(1, seconds // rounds)} s each, "
          "uvicorn 1 process each, 127.0.0.1 (medians; ratios: the median of the rounds' and their range)")
    for name, rate in figures.items():
        print(f"  {name:<20}{rate:>10,.0f} req/s")
    for title, (part, whole), goal in (("app /health / bare floor", ("app /health", "bare /health"), ">= 0.4"),
                                       ("POST /quotes / app /health", ("app POST /quotes", "app /health"), ">= 0.6")):
        ratios = [a / b for a, b in zip(rates[part], rates[whole], strict=True)]
        print(f"  {title:<30}{statistics.median(ratios):.2f}  ({min(ratios):.2f}-{max(ratios):.2f}; goal {goal})")
    return figures


async def main(seconds: int, connections: int) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    with Servers("served-throughput-") as servers:
        quote_script = servers.folder / "quote.lua"
        quote_script.write_text(f"wrk.method = 'POST'\nwrk.body = '{json.dumps(QUOTE)}'\n"
                                "wrk.headers['Content-Type'] = 'application/json'\n")
        sqlite_url = f"sqlite+aiosqlite:///{servers.folder}/bench.db"
        await upgrade_to_head_async(sqlite_url)
        await seed(sqlite_url, None)
        port_hint = free_port()
        embedded = {**app_env(sqlite_url, port_hint, servers.folder), "REDIS_URL": None, "LOG_LEVEL": "INFO"}
        await measure(servers, "SQLite, in-process cache (the embedded default)", embedded, seconds, connections,
                      quote_script)
        redis = Redis.from_url(REDIS_URL)
        await redis.flushdb()
        await redis.aclose()
        async with throwaway_database() as pg_url:
            await seed(pg_url, REDIS_URL)
            production = {**app_env(pg_url, port_hint, servers.folder), "REDIS_URL": REDIS_URL, "LOG_LEVEL": "INFO"}
            await measure(servers, "PostgreSQL + Redis", production, seconds, connections, quote_script)


if __name__ == "__main__":
    numbers = [int(arg) for arg in sys.argv[1:3]]
    asyncio.run(main(*(numbers + [10, 32][len(numbers):])))
