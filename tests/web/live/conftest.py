"""The live sockets' tests share: the app served by a real uvicorn on loopback (WebSockets need a server; the
test's runtime, database and hub are the app's), quick heartbeats, a station with an admin, a visitor's cookie,
and a staff member's admin sign-in cookie."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from httpx import AsyncClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from myhibachi.auth.permissions import Role
from myhibachi.settings import Settings
from tests.web.browserless import read, submit

ORIGIN = "http://testserver"  # BASE_URL's origin in the test settings
WAIT = 10.0  # seconds a test waits for an event that must come


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Limits a test can reach in a moment; the heartbeat is slow unless a test makes it quick."""
    return settings.model_copy(update={"ws_heartbeat_seconds": 30.0, "ws_idle_seconds": 30.0,
                                       "ws_max_message_bytes": 1024, "ws_messages_per_window": 5,
                                       "ws_rate_window_seconds": 30.0, "ws_staff_recheck_seconds": 0.3,
                                       "chat_messages_per_ip": 3})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def server(app) -> AsyncIterator[str]:  # noqa: ANN001
    """`ws://127.0.0.1:<port>`: the test's app behind uvicorn (its lifespan is the `app` fixture's)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                            ws="websockets-sansio")
    uvicorn_server = uvicorn.Server(config)
    task = asyncio.create_task(uvicorn_server.serve())
    while not uvicorn_server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    await task


@pytest.fixture
def open_socket(server: str) -> Callable[..., Any]:
    """`async with open_socket(path, cookies={...}, origin=...) as ws`."""

    @asynccontextmanager
    async def opened(path: str, *, cookies: dict[str, str] | None = None,
                     origin: str | None = ORIGIN) -> AsyncIterator[ClientConnection]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        async with connect(server + path, origin=origin, additional_headers=headers, open_timeout=WAIT) as ws:
            yield ws

    return opened


async def next_event(ws: ClientConnection, *, skip: tuple[str, ...] = ("ping",)) -> dict[str, Any]:
    """The next event the server sends (heartbeats skipped)."""
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if event["type"] not in skip:
            return event


async def events_until(ws: ClientConnection, done: Callable[[list[dict[str, Any]]], bool], *,
                       skip: tuple[str, ...] = ("ping",)) -> list[dict[str, Any]]:
    """The events the server sends until `done(events so far)` (heartbeats skipped); the order of events from
    different senders (the socket's own ack, the live channel's messages) is not fixed."""
    seen: list[dict[str, Any]] = []
    while not done(seen):
        seen.append(await next_event(ws, skip=skip))
    return seen


def acked_and_answered(seen: list[dict[str, Any]]) -> bool:
    """The visitor's message acknowledged and the assistant's reply to it received (jobs run inline in tests: the ack
    comes once the reply job has run)."""
    return any(e["type"] == "ack" for e in seen) and any(
        e["type"] == "message" and e["sender"] == "bot" for e in seen)


def bot_reply_sent(seen: list[dict[str, Any]]) -> bool:
    """For staff: the assistant's reply delivered."""
    return any(e["type"] == "message" and e["message"]["sender"] == "bot" and e["message"]["delivery"] == "sent"
               for e in seen)


async def refused_status(open_socket, path: str, **options) -> int:  # noqa: ANN001
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(path, **options):
            pass
    return refused.value.response.status_code


async def closed_code(ws: ClientConnection) -> int:
    """Reads until the server closes; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@pytest.fixture
async def fre(make_station, make_user):  # noqa: ANN001, ANN201
    station = await make_station("FRE")
    await make_user("admin@example.com", Role.admin, station, name="Ada Admin")
    return station


@pytest.fixture
def visitor_cookie(client: AsyncClient) -> Callable[[], Awaitable[str]]:
    """A new visitor's chat cookie, as the widget gets it."""

    async def fetch() -> str:
        client.cookies.clear()
        response = await client.get("/api/v1/chat/session")
        assert response.status_code == 200, response.text
        return response.cookies["mh_chat"]

    return fetch


@pytest.fixture
def staff_cookie(client: AsyncClient) -> Callable[[str], Awaitable[str]]:
    """Signs in to the admin pages as this (existing) user; their sign-in cookie."""

    async def sign_in(email: str) -> str:
        client.cookies.clear()
        page = await submit(client, read(await client.get("/admin/login")), None, email=email,
                            password="correct-horse-battery")
        assert page.response.status_code == 200, page.text[:300]
        return client.cookies["mh_admin"]

    return sign_in
