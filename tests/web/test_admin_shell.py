"""The admin pages' shell over HTTP: signing in (wrong password, the TOTP step, CSRF), the cookie, signing out,
session expiry, role-aware menus, the dashboard's figures, live-update events and browser error reports."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import update

from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import Principal
from myhibachi.core.changes import LocalChanges, RedisChanges
from myhibachi.web.admin.dashboard import change_stream
from tests.conftest import PASSWORD
from tests.web.browserless import admin_csrf, read, submit


async def sign_in(client, email: str, password: str = PASSWORD):  # noqa: ANN001, ANN201
    """Like the `admin_sign_in` fixture, but returns refusals too."""
    page = read(await client.get("/admin/login"))
    return await submit(client, page, None, email=email, password=password)


@pytest.fixture
async def staff(station, make_user):  # noqa: ANN001, ANN201
    for email, role in [("admin@example.com", Role.admin), ("support@example.com", Role.support),
                        ("chef@example.com", Role.chef), ("manager@example.com", Role.manager)]:
        await make_user(email, role, station)
    await make_user("super@example.com", Role.super_admin)
    return station


async def test_a_signed_out_visitor_is_sent_to_the_sign_in_page(client, staff):
    response = await client.get("/admin?granularity=week&start=2026-11-01")
    dashboard = await client.get("/admin")

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin%3Fgranularity%3Dweek%26start%3D2026-11-01"
    login = await client.get(response.headers["location"])
    assert 'name="next" value="/admin?granularity=week&amp;start=2026-11-01"' in login.text
    assert dashboard.status_code == 303 and dashboard.headers["location"] == "/admin/login"


async def test_signing_in_sets_a_safe_cookie_and_opens_the_dashboard(client, staff):
    page = await sign_in(client, "admin@example.com")

    assert page.response.status_code == 200 and "<h1>Dashboard" in page.text
    cookie = next(h for h in page.response.history[0].headers.get_list("set-cookie") if h.startswith("mh_admin="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


async def test_a_wrong_password_is_refused_with_one_message(client, staff):
    wrong = await sign_in(client, "admin@example.com", "not-the-password")
    unknown = await sign_in(client, "nobody@example.com")

    assert wrong.response.status_code == 401 and "The email or the password is wrong." in wrong.text
    assert unknown.response.status_code == 401 and "The email or the password is wrong." in unknown.text
    assert wrong.form.fields["email"] == "admin@example.com"  # kept, the password is not
    assert (await client.get("/admin")).status_code == 303


async def test_sign_in_without_the_csrf_token_is_refused(client, staff):
    response = await client.post("/admin/login", data={"email": "admin@example.com", "password": PASSWORD})

    assert response.status_code == 403 and "expired" in response.text
    assert (await client.get("/admin")).status_code == 303


async def test_the_totp_step(client, staff, db):
    secret = pyotp.random_base32()
    async with db.transaction() as session:
        await session.execute(update(User).where(User.email == "admin@example.com")
                              .values(totp_secret=secret, totp_enabled=True))

    asked = await sign_in(client, "admin@example.com")
    wrong = await submit(client, asked, None, totp_code="000000")
    right = await submit(client, asked, None, totp_code=pyotp.TOTP(secret).now())

    assert "Code from your authenticator app" in asked.text and (await client.get("/admin")).status_code == 200
    assert wrong.response.status_code == 401
    assert right.response.status_code == 200 and "<h1>Dashboard" in right.text


async def test_signing_out_ends_the_session_for_good(client, staff):
    dashboard = await sign_in(client, "admin@example.com")
    stolen = client.cookies.get("mh_admin")

    out = await submit(client, dashboard, None, form=next(f for f in dashboard.forms if f.action == "/admin/logout"))
    client.cookies.set("mh_admin", stolen)  # the old cookie, replayed

    assert "You have signed out." in out.text
    assert (await client.get("/admin")).status_code == 303


async def test_the_session_lapses_after_the_idle_time(client, staff, clock, settings):
    page = await sign_in(client, "admin@example.com")
    assert page.response.status_code == 200 and "<h1>Dashboard" in page.text
    cookie = client.cookies.get("mh_admin")
    assert cookie and (await client.get("/admin")).status_code == 200  # signed in

    clock.shift(timedelta(minutes=settings.admin_idle_minutes + 1))
    # Presented again by hand: the test client's cookie jar would drop the expired cookie by itself, which would
    # hide a server that still accepted it. The server must refuse it.
    client.cookies.set("mh_admin", cookie)
    lapsed = await client.get("/admin")

    assert lapsed.status_code == 303 and lapsed.headers["location"] == "/admin/login"


@pytest.mark.parametrize(("email", "shown", "hidden"), [
    ("super@example.com", ["Bookings", "Payments", "Chefs", "Stations and rules", "Users", "Audit log"], []),
    ("admin@example.com", ["Bookings", "Payments", "Chefs", "Stations and rules", "Users", "Audit log"], []),
    ("manager@example.com", ["Bookings", "Payments", "Chefs", "Users"], ["Stations and rules", "Audit log"]),
    ("support@example.com", ["Bookings", "Payments"], ["Chefs", "Stations and rules", "Users", "Audit log"]),
    ("chef@example.com", ["My events", "My time off"], ["Payments", "Stations and rules", "Users", "Audit log"]),
])
async def test_each_role_sees_its_own_menu(client, staff, email, shown, hidden):
    page = await sign_in(client, email)

    menu = re.search(r'<nav aria-label="Admin".*?</nav>', page.text, re.S).group(0)
    labels = re.findall(r">([^<]+)</a>", menu)
    assert all(label in labels for label in shown), labels
    assert not any(label in labels for label in hidden), labels


async def test_the_dashboard_shows_figures_and_flags_events_without_a_chef(client, staff, book):
    await book(staff.id, "2026-12-05", "18:00")  # 4 days ahead, no chef assigned
    page = await sign_in(client, "admin@example.com")

    assert "Revenue (net)" in page.text and "Upcoming events" in page.text
    assert re.search(r'<tr class="flag">.*?No chef yet', page.text, re.S)
    chef = await client.get("/admin")
    assert chef.status_code == 200


async def test_a_chef_sees_no_figures(client, staff):
    page = await sign_in(client, "chef@example.com")

    assert page.response.status_code == 200 and "Revenue (net)" not in page.text
    assert "My events today" in page.text and "My next events" in page.text


async def test_the_range_form_survives_nonsense(client, staff):
    await sign_in(client, "admin@example.com")

    response = await client.get("/admin", params={"start": "yesterday", "end": "2026-13-45", "granularity": "year"})

    assert response.status_code == 200 and "Revenue by day" in response.text


class Request:
    """What change_stream needs of a request: whether the browser went away."""

    def __init__(self) -> None:
        self.gone = False

    async def is_disconnected(self) -> bool:
        return self.gone


async def test_live_updates_carry_only_the_stations_of_the_viewer(staff):
    changes = LocalChanges()
    viewer = Principal(user_id=1, email="a@example.com", name="A", is_super_admin=False, roles={staff.id: Role.admin})
    stream = change_stream(Request(), changes, viewer, lifetime=5)
    assert await anext(stream) == "retry: 3000\n\n"
    assert await subscribers(changes) == 1  # the stream subscribes before its first line

    pending = asyncio.ensure_future(anext(stream))
    await changes.publish({f"bookings:{staff.id + 1}"})  # another station's: not passed on
    await changes.publish({f"bookings:{staff.id}", "bookings:all", "stations"})

    assert await asyncio.wait_for(pending, 2) == f'event: change\ndata: ["bookings:{staff.id}"]\n\n'
    await stream.aclose()


async def subscribers(changes: LocalChanges | RedisChanges) -> int:
    """How many subscriptions the feed has (Redis: to its channel, from any client)."""
    if isinstance(changes, LocalChanges):
        return len(changes._queues)
    [(_channel, count)] = await changes._redis.pubsub_numsub(changes._channel)
    return count


async def until_subscribed(changes: LocalChanges | RedisChanges, before: int, within: float = 10.0) -> None:
    """Until the feed has more than `before` subscriptions: Redis confirms a SUBSCRIBE asynchronously, and a
    message published before it is not delivered. Polls; fails after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while (count := await subscribers(changes)) <= before:
        assert asyncio.get_running_loop().time() < deadline, f"still {count} subscriptions after {within} s"
        await asyncio.sleep(0.01)


async def first_with(queue: asyncio.Queue, tag: str) -> frozenset[str]:
    """The first published set holding `tag` (a commit elsewhere, e.g. creating the station, may come first)."""
    while tag not in (tags := await queue.get()):
        pass
    return tags


async def test_a_change_published_by_one_process_reaches_another(redis_url, staff):
    """Two app processes: two Redis clients on the PostgreSQL/Redis run; one in-process feed on the SQLite run."""
    shared = LocalChanges()
    writer, reader = (RedisChanges(redis_url), RedisChanges(redis_url)) if redis_url else (shared, shared)
    try:
        before = await subscribers(reader)
        async with reader.subscribe() as queue:
            await until_subscribed(reader, before)
            await writer.publish({"payments:7"})
            assert await asyncio.wait_for(first_with(queue, "payments:7"), 2) == frozenset({"payments:7"})
    finally:
        await writer.close()
        await reader.close()


async def test_a_committed_booking_is_announced(client, staff, runtime, book):
    before = await subscribers(runtime.changes)
    async with runtime.changes.subscribe() as queue:
        await until_subscribed(runtime.changes, before)
        await book(staff.id)
        tags = await asyncio.wait_for(first_with(queue, f"bookings:{staff.id}"), 2)

    assert f"bookings:{staff.id}" in tags


async def test_browser_errors_are_reported_with_the_request_id(client, staff, caplog):
    await sign_in(client, "admin@example.com")
    token = await admin_csrf(client)
    error = {"message": "TypeError: x is undefined", "url": "http://127.0.0.1/admin", "request_id": "abc123"}

    accepted = await client.post("/admin/client-errors", json=error, headers={"X-CSRF-Token": token})
    forged = await client.post("/admin/client-errors", json=error)

    assert accepted.status_code == 204 and forged.status_code == 403
    assert any("client_error" in r.getMessage() and "abc123" in r.getMessage() for r in caplog.records)


async def test_over_https_the_cookie_is_host_only_and_secure(app, staff):
    from httpx import ASGITransport, AsyncClient

    async with AsyncClient(transport=ASGITransport(app=app), base_url="https://admin.example",
                           headers={"Origin": "https://admin.example"}) as https:
        page = await sign_in(https, "admin@example.com")

    cookie = next(h for h in page.response.history[0].headers.get_list("set-cookie") if "mh_admin=" in h)
    assert cookie.startswith("__Host-mh_admin=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie and "<h1>Dashboard" in page.text


async def test_the_station_switcher_remembers_the_choice(client, staff, make_station):
    other = await make_station("SAC")
    page = await sign_in(client, "super@example.com")
    assert f"Dashboard — {staff.name}" in page.text  # alphabetical: Fremont before Sacramento

    switched = await client.get("/admin", params={"station": other.id})
    later = await client.get("/admin")

    assert f"Dashboard — {other.name}" in switched.text and f"Dashboard — {other.name}" in later.text


async def test_a_station_outside_ones_roles_cannot_be_switched_to(client, staff, make_station):
    other = await make_station("SAC")
    await sign_in(client, "admin@example.com")

    response = await client.get("/admin", params={"station": other.id})

    assert response.status_code == 200 and f"Dashboard — {staff.name}" in response.text
    assert other.name not in response.text


async def test_the_revenue_chart_draws_the_payments(client, staff, book, login):
    created = await book(staff.id)
    admin = await login("admin@example.com")
    paid = await client.post(f"/api/v1/bookings/{created['id']}/payments", headers=admin,
                             json={"method": "cash", "amount_cents": 12345, "reference": "R1"})
    assert paid.status_code == 201, paid.text

    page = await sign_in(client, "admin@example.com")

    assert '<svg viewBox="0 0 640 220" role="img"' in page.text
    assert "2026-12-01: $123.45" in page.text  # the bar's title, and the table row below
    assert '<th scope="row">2026-12-01</th><td>$123.45</td>' in page.text
