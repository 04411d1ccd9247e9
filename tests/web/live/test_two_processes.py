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
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from myhibachi.auth.permissions import Role
from tests.bookings.conftest import booking_body
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


async def test_writes_through_one_process_change_the_availability_the_other_keeps(two_apps, make_station, make_user):
    """Each process keeps its availability answers (no SQL for one asked again); a hold, its cancellation, a chef,
    their time-off and a rule saved through one process change the other's next answer through the change feed."""
    station = await make_station("FRE")
    await make_user("boss@example.com", Role.super_admin)
    writing_app, asking_app = two_apps
    await writing_app.ready()
    await asking_app.ready()
    day = date.today() + timedelta(days=10)
    async with httpx.AsyncClient(base_url=writing_app.http) as writing, \
            httpx.AsyncClient(base_url=asking_app.http) as asking:

        async def free() -> dict[str, int]:
            response = await asking.get(f"/api/v1/stations/{station.id}/availability",
                                        params={"start": str(day), "end": str(day), "guests": 10})
            assert response.status_code == 200, response.text
            return {slot["time"]: slot["remaining"] for slot in response.json()["days"][0]["slots"]}

        token = (await writing.post("/api/v1/auth/login", json={
            "email": "boss@example.com", "password": "correct-horse-battery"})).json()["access_token"]
        staff = {"Authorization": f"Bearer {token}"}
        chefs = f"/api/v1/stations/{station.id}/chefs"
        assert (await writing.post(chefs, headers=staff, json={"name": "Kenji Sato"})).status_code == 201
        seen = {"one chef": [await free() for _ in range(3)]}  # kept after the first
        held = await writing.post("/api/v1/bookings", json=booking_body(station.id, day, "18:00"))
        seen["held"] = [await free()]
        cancelled = await writing.post(f"/api/v1/manage/{held.json()['manage_token']}/cancel", json={})
        seen["cancelled"] = [await free()]
        chef = await writing.post(chefs, headers=staff, json={"name": "Aiko Mori"})
        seen["two chefs"] = [await free()]
        away = await writing.post(f"{chefs}/{chef.json()['id']}/time-off", headers=staff,
                                  json={"first_day": str(day), "last_day": str(day)})
        seen["one away"] = [await free()]
        rules = (await writing.get(f"/api/v1/stations/{station.id}/rules", headers=staff)).json()
        saved = await writing.put(f"/api/v1/stations/{station.id}/rules", headers=staff,
                                  json={**rules, "slot_times": ["12:00", "18:00"]})
        seen["two starts"] = [await free()]
        metrics = (await asking.get("/metrics")).text

    assert [held.status_code, cancelled.status_code, chef.status_code, away.status_code, saved.status_code] == \
        [201, 200, 201, 201, 200], (held.text, cancelled.text, chef.text, away.text, saved.text)
    every = {"12:00": 1, "15:00": 1, "18:00": 1, "21:00": 1}
    assert seen == {"one chef": [every] * 3, "held": [{**every, "18:00": 0}], "cancelled": [every],
                    "two chefs": [dict.fromkeys(every, 2)], "one away": [every],
                    "two starts": [{"12:00": 1, "18:00": 1}]}
    assert 'myhibachi_cache_requests_total{namespace="bookings.availability",result="near"} 2.0' in metrics
