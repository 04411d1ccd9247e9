"""Two app processes (`myhibachi serve` twice on loopback) sharing the database and a real Redis: a visitor connected
to one and staff connected to the other talk live, both ways (SPEC §7 "Chat": "Both work across several app
processes"). The Redis is TEST_REDIS_URL's on the PostgreSQL pass; on the SQLite pass, one this test starts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from myhibachi.auth.permissions import Role
from tests.conftest import TEST_SECRET

# Fixtures: a Redis server for the processes, and the test's database without an app in this process.
from tests.newsletters.delivery.test_killed_worker import db, redis_for_workers  # noqa: F401
from tests.web.browserless import read, submit
from tests.web.live.conftest import ORIGIN, free_port, next_event

pytestmark = pytest.mark.processes


class App:
    """`myhibachi serve` on a free loopback port, until `stop`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        command = Path(sys.executable).with_name("myhibachi")
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                [str(command), "serve", "--host", "127.0.0.1", "--port", str(self.port)], env=env, cwd=log.parent,
                stdout=out, stderr=subprocess.STDOUT)
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        async with httpx.AsyncClient() as probe:
            for _ in range(300):
                with suppress(httpx.HTTPError):
                    if (await probe.get(self.http + "/health")).status_code == 200:
                        return
                assert self.process.poll() is None, "the app process ended"
                await asyncio.sleep(0.1)
        raise AssertionError("the app process did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


@pytest.fixture
def two_apps(database_url: str, redis_for_workers: str, tmp_path: Path) -> Iterator[tuple[App, App]]:  # noqa: F811
    env = {**os.environ, "ENVIRONMENT": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
           "REDIS_URL": redis_for_workers, "BASE_URL": ORIGIN, "JOBS_INLINE": "true",
           "MAIL_DIR": str(tmp_path / "mail"), "OUTBOX_DIR": str(tmp_path / "outbox")}
    apps = App(env, tmp_path / "app-a.log"), App(env, tmp_path / "app-b.log")
    try:
        yield apps
    finally:
        for app in apps:
            app.stop()


async def test_a_visitor_on_one_process_and_staff_on_another_talk_live(two_apps, make_station, make_user):
    station = await make_station("FRE")
    await make_user("admin@example.com", Role.admin, station)
    visitor_app, staff_app = two_apps
    await visitor_app.ready()
    await staff_app.ready()
    async with httpx.AsyncClient(base_url=visitor_app.http, headers={"Origin": ORIGIN}) as visitor_http, \
            httpx.AsyncClient(base_url=staff_app.http, headers={"Origin": ORIGIN}) as staff_http:
        chat_cookie = (await visitor_http.get("/api/v1/chat/session")).cookies["mh_chat"]
        signed_in = await submit(staff_http, read(await staff_http.get("/admin/login")), None,
                                 email="admin@example.com", password="correct-horse-battery")
        assert signed_in.response.status_code == 200
        token = (await staff_http.post("/api/v1/auth/login", json={
            "email": "admin@example.com", "password": "correct-horse-battery"})).json()["access_token"]
        async with connect(staff_app.ws + "/ws/staff", origin=ORIGIN,
                           additional_headers={"Cookie": f"mh_admin={staff_http.cookies['mh_admin']}"}) as staff, \
                connect(visitor_app.ws + "/ws/chat", origin=ORIGIN,
                        additional_headers={"Cookie": f"mh_chat={chat_cookie}"}) as chat:
            await next_event(staff)  # ready
            await next_event(chat)  # history
            await chat.send(json.dumps({"type": "message", "body": "Hi from process A", "id": "p1"}))
            heard = await next_event(staff, skip=("ping", "conversation"))
            reply = await staff_http.post(f"/api/v1/conversations/{heard['conversation_id']}/messages",
                                          headers={"Authorization": f"Bearer {token}"},
                                          json={"body": "Hello from process B"})
            answer = await next_event(chat, skip=("ping", "ack", "history"))
            heard_by_visitor = [answer["type"]]
            while answer.get("sender") != "staff":  # their own echo, and the handoff to a person, come first
                answer = await next_event(chat, skip=("ping", "ack"))
                heard_by_visitor.append(answer["type"])

    assert heard["message"]["body"] == "Hi from process A"
    assert reply.status_code == 201, reply.text
    assert (answer["body"], answer["id"]) == ("Hello from process B", reply.json()["id"])
    assert "handoff" in heard_by_visitor  # across processes too


async def test_a_rule_saved_in_one_process_prices_the_next_quote_in_the_other(two_apps, make_station, make_user):
    """Each process keeps the station and its rules near (no SQL per quote); a change saved through one process
    reaches the other's next quote through the change feed (issue 21)."""
    station = await make_station("FRE")
    await make_user("boss@example.com", Role.super_admin)
    editing_app, quoting_app = two_apps
    await editing_app.ready()
    await quoting_app.ready()
    party = {"station_id": station.id, "zip_code": "94536", "adults": 12}
    async with httpx.AsyncClient(base_url=editing_app.http) as editing, \
            httpx.AsyncClient(base_url=quoting_app.http) as quoting:
        before = [(await quoting.post("/api/v1/quotes", json=party)).json() for _ in range(3)]  # now held near
        token = (await editing.post("/api/v1/auth/login", json={
            "email": "boss@example.com", "password": "correct-horse-battery"})).json()["access_token"]
        staff = {"Authorization": f"Bearer {token}"}
        rules = (await editing.get(f"/api/v1/stations/{station.id}/rules", headers=staff)).json()
        saved = await editing.put(f"/api/v1/stations/{station.id}/rules", headers=staff,
                                  json={**rules, "adult_price_cents": 6500})
        after = (await quoting.post("/api/v1/quotes", json=party)).json()
        closed = await editing.patch(f"/api/v1/stations/{station.id}", headers=staff, json={"is_active": False})
        refused = await quoting.post("/api/v1/quotes", json=party)
        metrics = (await quoting.get("/metrics")).text

    assert saved.status_code == 200, saved.text
    assert {quote["lines"][0]["unit_cents"] for quote in before} == {5500}
    assert after["lines"][0]["unit_cents"] == 6500
    assert closed.status_code == 200, closed.text
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.station_id", refused.text
    assert 'myhibachi_cache_requests_total{namespace="pricing.rules",result="near"}' in metrics  # it was near
