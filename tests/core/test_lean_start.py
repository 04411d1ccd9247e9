"""A process loads a third-party SDK only when it uses that service: the app on its embedded default (no Stripe,
Twilio or Sentry settings) starts and serves without importing them (tens of MB each a process would carry for
nothing), nor the libraries of work it has not done yet (an LLM client, chat spelling, calendars, newsletters)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("stripe", "twilio", "sentry_sdk", "httpx", "rapidfuzz", "icalendar", "css_inline", "markdown_it",
         # what taskiq, structlog and PyJWT would import (core/lean_imports.py); cryptography's package alone is small
         "aiohttp", "zmq", "rich", "pygments", "cryptography.hazmat")
START = """
import asyncio, json, sys
import myhibachi.cli  # `myhibachi serve` serves in the CLI's process
from myhibachi.app import create_app
from myhibachi.settings import Settings
app = create_app(Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:", secret_key="x" * 40))

async def serve_one(path):  # the middleware stack is built on the first request
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent[0]

asyncio.run(serve_one("/health"))
print(json.dumps(sorted({*sys.modules, *(name.split(".")[0] for name in sys.modules)} & set(sys.argv[1:]))))
"""


def test_the_app_starts_without_the_sdks_of_services_it_does_not_use() -> None:
    started = subprocess.run([sys.executable, "-c", START, *HEAVY], capture_output=True, text=True, timeout=120,
                             check=False, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout.strip().splitlines()[-1]) == []
