"""What the Meta tests share: the app configured for Messenger and Instagram (app secret, verify token, page
token), a loopback Graph API server that records what the Send API received and answers as Meta does, and the
webhook posts signed the way Meta signs them (HMAC-SHA256 of the raw body with the app secret)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from httpx import AsyncClient, Response
from pydantic import SecretStr

from myhibachi.settings import Settings
from tests.bookings.conftest import NOW

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "meta-verify-token-for-tests"
PAGE_TOKEN = "EAAG-page-token-for-tests"
PAGE_ID = "104900000000001"
IG_ACCOUNT_ID = "17841400000000001"
WEBHOOK = "/api/v1/webhooks/meta"
NOW_MS = int(NOW.timestamp() * 1000)


@dataclass
class GraphServer:
    """Meta's Graph API on 127.0.0.1: each request's path and JSON recorded; answers queued by the test (status and
    JSON), else a successful send with a fresh message id."""

    base: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.requests.append((request.path, payload))
        if self.answers:
            status, answer = self.answers.pop(0)
            return web.json_response(answer, status=status)
        sent = {"recipient_id": payload["recipient"]["id"], "message_id": f"m_sent_{next(self._ids)}"}
        return web.json_response(sent)


@pytest.fixture
async def graph() -> AsyncIterator[GraphServer]:
    server = GraphServer()
    app = web.Application()
    app.router.add_post("/v21.0/me/messages", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v21.0"
    yield server
    await runner.cleanup()


@pytest.fixture
def page_token() -> str | None:
    """The page token in settings; a module overrides it with None to test the channel switched off."""
    return PAGE_TOKEN


@pytest.fixture
def settings(settings: Settings, graph: GraphServer, page_token: str | None) -> Settings:
    return settings.model_copy(update={
        "meta_app_secret": SecretStr(APP_SECRET), "meta_verify_token": SecretStr(VERIFY_TOKEN),
        "meta_page_token": SecretStr(page_token) if page_token else None, "meta_graph_base": graph.base})


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_signed(client: AsyncClient, payload: dict[str, Any] | bytes, *,
                      signature: str | None = None) -> Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post(WEBHOOK, content=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature or sign(body)})


def batch(*events: dict[str, Any], instagram: bool = False) -> dict[str, Any]:
    """Meta's webhook object around messaging events: a page's (Messenger) or an Instagram account's."""
    owner = IG_ACCOUNT_ID if instagram else PAGE_ID
    return {"object": "instagram" if instagram else "page",
            "entry": [{"id": owner, "time": NOW_MS, "messaging": list(events)}]}


def message(mid: str, text: str | None = "Hi! Price for 12 people on Dec 20?", *, person: str = "PSID-1",
            at_ms: int = NOW_MS, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": mid, **extra}
    if text is not None:
        body["text"] = text
    return {"sender": {"id": person}, "recipient": {"id": PAGE_ID}, "timestamp": at_ms, "message": body}


def echo(mid: str, text: str, *, person: str = "PSID-1", **extra: Any) -> dict[str, Any]:
    return {"sender": {"id": PAGE_ID}, "recipient": {"id": person}, "timestamp": NOW_MS,
            "message": {"mid": mid, "text": text, "is_echo": True, "app_id": 263902037430900, **extra}}


def delivery(*mids: str, person: str = "PSID-1") -> dict[str, Any]:
    return {"sender": {"id": person}, "recipient": {"id": PAGE_ID}, "timestamp": NOW_MS,
            "delivery": {"mids": list(mids), "watermark": NOW_MS}}


def read(*, watermark: int | None = None, mid: str | None = None, person: str = "PSID-1") -> dict[str, Any]:
    seen: dict[str, Any] = {"watermark": watermark} if watermark is not None else {"mid": mid}
    return {"sender": {"id": person}, "recipient": {"id": PAGE_ID}, "timestamp": NOW_MS, "read": seen}
