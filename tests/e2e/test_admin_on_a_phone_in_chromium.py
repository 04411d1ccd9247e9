"""The admin on a phone, in Chromium: every admin page (each GET route of the app's admin that renders HTML, its path
filled with real ids of the live server's demo data) at 390x844 — and a few at 360 wide — has no sideways page
scroll, its Menu button opens the side menu from the keyboard, and axe-core finds no serious or critical violation.
A chef's pages too; on a desktop the menu stays at the side, and without script it is simply shown."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, get_args

import httpx
import pytest
import pytest_asyncio
from fastapi.routing import APIRoute, iter_route_contexts
from playwright.async_api import Browser, Page, expect
from starlette.responses import HTMLResponse

from myhibachi.app import create_app
from myhibachi.automations.commands import ensure_automations
from myhibachi.core.db import Database
from myhibachi.demo import DEMO_PASSWORD
from myhibachi.inbox import commands as inbox_commands
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel
from myhibachi.settings import Environment, Settings
from myhibachi.web.admin.bookings.flows import FLOWS
from myhibachi.web.admin.chefs import Decision
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import SERVED, accessible, first_free_slot, sign_in, station_today

PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
# the live event stream, the CSV download, the campaign editor's count of a segment (an htmx fragment) and the live
# chat widget's fragments (tests/e2e/test_admin_live_chat_in_chromium.py checks the widget on a phone)
NOT_PAGES = {"/admin/events", "/admin/payments.csv", "/admin/segments/count", "/admin/subscribers.csv",
             "/admin/live-chat", "/admin/live-chat/{conversation_id}"}
SIGNED_OUT = {"/admin/login", "/admin/set-password"}  # pages without the menu: nobody is signed in there
CHOICES = {  # the path parameters that name a page rather than a record
    ("/admin/bookings/{booking_id}/{action}", "action"): sorted(FLOWS),
    ("/admin/users/{user_id}/{action}", "action"): ["deactivate", "reactivate"],
    ("/admin/chefs/time-off/{time_off_id}/{decision}", "decision"): list(get_args(Decision)),
}
PARAMETER = re.compile(r"{(\w+)}")


def admin_pages() -> list[str]:
    """Every admin GET route that answers with a page, as path templates with their choice parameters filled."""
    app = create_app(Settings(_env_file=None, environment=Environment.test, secret_key=TEST_SECRET,
                              database_url="sqlite+aiosqlite://"))
    pages = []
    for route in iter_route_contexts(app.routes):  # flattens the included routers
        original = route.original_route
        if not (isinstance(original, APIRoute) and "GET" in route.methods and route.path.startswith("/admin")) \
                or route.path in NOT_PAGES:
            continue
        assert original.response_class is HTMLResponse, f"{route.path}: a page, or one of NOT_PAGES?"
        expanded = [route.path]
        for name in PARAMETER.findall(route.path):
            if (route.path, name) in CHOICES:
                expanded = [p.replace(f"{{{name}}}", choice) for p in expanded for choice in CHOICES[route.path, name]]
        pages += expanded
    return sorted(pages)


PAGES = admin_pages()
STAFF_PAGES = [p for p in PAGES if p not in SIGNED_OUT]
FEW = ["/admin", "/admin/bookings", "/admin/bookings?view=week", "/admin/bookings/{booking_id}", "/admin/payments",
       "/admin/audit", "/admin/stations/{station_id}/rules", "/admin/search?q=Phoebe", "/admin/today?range=week"]


async def no_sideways_scroll(page: Page) -> None:
    """The page is no wider than the window; else the message names the elements that stick out (outside any box
    that scrolls on its own)."""
    found = await page.evaluate("""() => {
        const width = window.innerWidth;
        const wide = [...document.body.querySelectorAll("*")]
            .filter(e => e.getBoundingClientRect().right > width + 0.5);
        const outside = wide.filter(e => !e.parentElement.closest(".table-scroll"));
        const out = (outside.length ? outside : wide).slice(-5)
            .map(e => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
        return {scroll_width: document.documentElement.scrollWidth, width, out};
    }""")
    assert found["scroll_width"] <= found["width"], (page.url, found)


async def the_menu_opens_from_the_keyboard(page: Page) -> None:
    button = page.get_by_role("button", name="Menu")
    await expect(button).to_be_visible()
    await expect(button).to_have_attribute("aria-expanded", "false")
    controls = await button.get_attribute("aria-controls")
    await expect(page.locator(f"nav#{controls}")).to_be_hidden()
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(button).to_have_attribute("aria-expanded", "true")
    menu = page.get_by_role("navigation", name="Admin")
    await expect(menu).to_have_id(controls or "(no aria-controls)")
    await expect(menu.get_by_role("link", name="Dashboard")).to_be_visible()


@asynccontextmanager
async def phone_page(browser: Browser, state: dict[str, Any] | None = None, viewport: dict[str, int] = PHONE,
                     **options: Any) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=viewport, storage_state=state, **options)
    context.set_default_timeout(5000)  # a page of this server answers in well under that; fail fast otherwise
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def open_page(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status < 500, (url, response and response.status)
    assert response.headers["content-type"].startswith("text/html"), url
    await expect(page.locator("h1")).to_be_visible()


async def check_staff_page(page: Page, url: str) -> None:
    await open_page(page, url)
    await no_sideways_scroll(page)
    await the_menu_opens_from_the_keyboard(page)
    await no_sideways_scroll(page)  # the open menu fits too
    await accessible(page)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def demo(browser: Browser, live_server: str) -> dict[str, Any]:
    """Real ids for the path parameters: a Fremont booking with a recorded deposit, assigned to the demo chef, a
    time-off request of that chef, the demo manager's membership; and the signed-in browser states."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        async def token(email: str) -> dict[str, str]:
            login = await api.post("/auth/login", json={"email": email, "password": DEMO_PASSWORD})
            assert login.status_code == 200, login.text
            return {"Authorization": f"Bearer {login.json()['access_token']}"}

        admin, chef_login = await token("superadmin@example.com"), await token("chef@example.com")
        users = {u["email"]: u for u in (await api.get("/users", headers=admin)).json()["items"]}
        station_id = users["manager@example.com"]["memberships"][0]["station_id"]
        chefs = (await api.get(f"/stations/{station_id}/chefs", headers=admin)).json()
        [chef] = [c for c in chefs if c["user_id"] == users["chef@example.com"]["id"]]
        today = await station_today(live_server, station_id)
        day, time = await first_free_slot(live_server, today + timedelta(days=40), guests=6, station_id=station_id)
        booked = await api.post("/bookings", json={
            "station_id": station_id, "adults": 6, "event_date": day, "slot_time": time, "allergies": "none",
            "venue": {"line1": "1 Narrow Screen Rd", "city": "Fremont", "state": "CA", "zip_code": "94538"},
            "customer": {"name": "Phoebe Phone", "email": "phoebe@example.com", "phone": "5105550190"}})
        assert booked.status_code == 201, booked.text
        booking = booked.json()
        paid = await api.post(f"/bookings/{booking['id']}/payments", headers=admin, json={
            "method": "zelle", "amount_cents": booking["quote"]["deposit_cents"],
            "reference": f"ZELLE-{uuid.uuid4().hex[:8]}"})
        assert paid.status_code == 201, paid.text
        assigned = await api.post(f"/bookings/{booking['id']}/assign-chef", headers=admin, json={"chef_id": chef["id"]})
        assert assigned.status_code == 200, assigned.text
        first = today + timedelta(days=340 + uuid.uuid4().int % 20)  # far from the days other tests use
        asked = await api.post(f"/stations/{station_id}/chefs/{chef['id']}/time-off", headers=chef_login, json={
            "first_day": first.isoformat(), "last_day": first.isoformat(), "reason": "Phone test"})
        assert asked.status_code == 201, asked.text
        lead = await api.post("/leads", headers=admin, json={
            "station_id": station_id, "name": "Phoebe Phone", "email": "phoebe@example.com", "guests": 6,
            "zip_code": "94538", "message": "A lead for the phone test"})
        assert lead.status_code == 201, lead.text
        contact_id = (await api.get(f"/leads/{lead.json()['id']}", headers=admin)).json()["contact_id"]
        segment = await api.post("/segments", headers=admin, json={
            "station_id": station_id, "name": "Phone segment", "rules": {"customer_status": "past_customer"}})
        assert segment.status_code == 201, segment.text
        campaign = await api.post("/campaigns", headers=admin, json={
            "station_id": station_id, "name": "Phone campaign", "subject": "News on a phone",
            "body_markdown": "## Hello\n\nA [link](https://example.com) and **bold** words.",
            "segment_id": segment.json()["id"]})
        assert campaign.status_code == 201, campaign.text
    db = Database(SERVED["settings"].database_url)
    try:
        async with db.transaction() as session:  # the station's sequences, as its automations page makes them
            automation_id = (await ensure_automations(session, station_id))[0].id
            texted = await inbox_commands.receive(session, Inbound(  # Phoebe's text: a thread in the inbox
                channel=Channel.sms, provider_message_id=f"SM{uuid.uuid4().hex}", body="Is a Saturday free?",
                phone="+15105550190", station_id=station_id))
            assert texted is not None
    finally:
        await db.dispose()

    states = {}
    for email in ("superadmin@example.com", "chef@example.com"):
        async with phone_page(browser, viewport=DESKTOP) as page:
            await sign_in(page, live_server, email)
            await page.goto(f"{live_server}/admin?station={station_id}")  # the switcher's choice (a cookie): Fremont
            states[email] = await page.context.storage_state()
    return {"ids": {"booking_id": booking["id"], "payment_id": paid.json()["id"], "chef_id": chef["id"],
                    "time_off_id": asked.json()["id"], "station_id": station_id,
                    "user_id": users["manager@example.com"]["id"], "lead_id": lead.json()["id"],
                    "contact_id": contact_id, "segment_id": segment.json()["id"],
                    "campaign_id": campaign.json()["id"], "automation_id": automation_id,
                    "conversation_id": texted.conversation.id},
            "states": states}


def filled(path: str, ids: dict[str, Any]) -> str:
    return PARAMETER.sub(lambda match: str(ids[match.group(1)]), path)


def test_every_admin_page_is_checked() -> None:
    """The list comes from the app's routes: the main ones are there, with each booking action as a page."""
    assert {"/admin", "/admin/bookings", "/admin/audit", "/admin/settings", "/admin/bookings/{booking_id}/cancel",
            "/admin/users/{user_id}/stations/{station_id}/role"} <= set(PAGES)
    assert not NOT_PAGES & set(PAGES)


@pytest.mark.parametrize("path", STAFF_PAGES)
async def test_an_admin_page_fits_a_phone(browser, live_server, demo, path):
    async with phone_page(browser, demo["states"]["superadmin@example.com"]) as page:
        await check_staff_page(page, live_server + filled(path, demo["ids"]))


@pytest.mark.parametrize("path", FEW)
async def test_a_page_fits_360_pixels(browser, live_server, demo, path):
    async with phone_page(browser, demo["states"]["superadmin@example.com"], NARROW) as page:
        await check_staff_page(page, live_server + filled(path, demo["ids"]))
        await page.keyboard.press("Escape")  # closes the menu, back on its button
        await expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")
        await expect(page.get_by_role("button", name="Menu")).to_be_focused()
        await expect(page.get_by_role("navigation", name="Admin")).to_be_hidden()


async def test_a_chefs_pages_fit_a_phone(browser, live_server, demo):
    """Each page of the chef's menu, and the event assigned to them."""
    async with phone_page(browser, demo["states"]["chef@example.com"]) as page:
        await open_page(page, live_server + "/admin")
        menu = page.locator("nav#admin-menu a")  # closed: hidden, so not by role
        hrefs = await menu.evaluate_all("links => links.map(link => link.getAttribute('href'))")
        assert "/admin/bookings" in hrefs and len(hrefs) >= 4, hrefs
        for href in [*hrefs, f"/admin/bookings/{demo['ids']['booking_id']}"]:
            await check_staff_page(page, live_server + href)
        await expect(page.get_by_text("Phoebe Phone").first).to_be_visible()  # the chef's own event


@pytest.mark.parametrize("viewport", [PHONE, NARROW], ids=["390", "360"])
@pytest.mark.parametrize("path", sorted(SIGNED_OUT))
async def test_a_signed_out_page_fits_a_phone(browser, live_server, path, viewport):
    async with phone_page(browser, viewport=viewport) as page:
        await open_page(page, live_server + path)
        await no_sideways_scroll(page)
        await accessible(page)


async def test_on_a_desktop_the_menu_stays_at_the_side(browser, live_server, demo):
    async with phone_page(browser, demo["states"]["superadmin@example.com"], DESKTOP) as page:
        await open_page(page, live_server + "/admin/bookings")
        menu = page.get_by_role("navigation", name="Admin")
        await expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        await expect(menu.get_by_role("link", name="Payments")).to_be_visible()
        side, main = await menu.bounding_box(), await page.locator("main").bounding_box()
        assert side and main and side["x"] + side["width"] <= main["x"] and side["y"] == main["y"], (side, main)


async def test_without_script_the_menu_is_shown_on_a_phone(browser, live_server, demo):
    async with phone_page(browser, demo["states"]["superadmin@example.com"], java_script_enabled=False) as page:
        await open_page(page, live_server + "/admin")
        await expect(page.get_by_role("button", name="Menu")).to_be_hidden()  # it could not open anything
        await expect(page.get_by_role("navigation", name="Admin").get_by_role("link", name="Bookings")).to_be_visible()
        await no_sideways_scroll(page)
