"""The admin settings areas in Chromium: a super admin edits Fremont's adult price in the business-rules editor (the
live preview changes before saving), the public quote then shows the new price and the audit log the change with its
before and after; an admin invites a user, changes their role and deactivates them; "My account" and its two-factor
setup. axe-core on every page these areas add, and screenshots. The live server's database is shared with the other
browser tests: the price is put back at the end, and the invited user has an address of its own."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import httpx
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in

ADULT_PRICE = "Adult (13+), per person (USD)"


async def no_serious_violations(page: Page) -> None:
    results = await Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == [], (page.url, serious)


async def step(page: Page, screenshot: Any, name: str) -> None:
    await no_serious_violations(page)
    await screenshot(name)


async def fremont_rules(live_server: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Fremont's id, its rules as the API gives them, and a super admin's API headers (to put them back)."""
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        station_id = next(s["id"] for s in (await api.get("/stations")).json() if s["code"] == "FRE")
        login = await api.post("/auth/login", json={"email": "superadmin@example.com", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        rules = (await api.get(f"/stations/{station_id}/rules", headers=headers)).json()
    return station_id, rules, headers


async def put_rules_back(live_server: str, station_id: int, rules: dict[str, Any], headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        response = await api.put(f"/stations/{station_id}/rules", json=rules, headers=headers)
    assert response.status_code == 200, response.text


async def test_a_rules_change_is_previewed_saved_quoted_and_audited(page, live_server, screenshot):
    station_id, before, headers = await fremont_rules(live_server)
    old = Decimal(before["adult_price_cents"]) / 100
    new = old + Decimal("6.50")
    ten_adults = f"${new * 10:,.2f}"
    await sign_in(page, live_server, "superadmin@example.com")
    try:
        await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Stations and rules").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Stations and rules")
        await step(page, screenshot, "admin-stations")
        await page.get_by_role("link", name="Edit Fremont CA").click()
        await expect(page.get_by_label("Name", exact=True)).to_have_value("Fremont CA")
        await step(page, screenshot, "admin-station-edit")
        await page.goto(live_server + "/admin/stations/new")
        await expect(page.get_by_label("Code", exact=True)).to_be_visible()
        await step(page, screenshot, "admin-station-new")

        await page.goto(live_server + "/admin/stations")
        await page.get_by_role("link", name="Business rules of Fremont CA").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Business rules — Fremont CA")
        await expect(page.get_by_label(ADULT_PRICE)).to_have_value(f"{old:.2f}")
        preview = page.locator("#rules-preview")
        await expect(preview).to_contain_text("Nothing changes")
        await step(page, screenshot, "admin-rules-editor")

        await page.get_by_label(ADULT_PRICE).fill(f"{new:.2f}")
        await expect(preview.get_by_role("row", name=re.compile(r"Adult \(13\+\) × 10"))).to_contain_text(ten_adults)
        changed = preview.get_by_role("row", name=re.compile("Adult .13.., per person"))
        await expect(changed.get_by_role("cell")).to_have_text([f"{old:.2f}", f"{new:.2f}"])  # now, after saving
        await step(page, screenshot, "admin-rules-preview")
        await page.get_by_label(ADULT_PRICE).fill("61.505")
        await expect(preview).to_contain_text("Use whole cents")
        await page.get_by_label(ADULT_PRICE).fill(f"{new:.2f}")
        await page.get_by_role("button", name="Save rules").click()
        await expect(page.get_by_role("status").first).to_contain_text("Business rules saved")
        await expect(page.get_by_label(ADULT_PRICE)).to_have_value(f"{new:.2f}")

        await page.goto(f"{live_server}/quote?station_id={station_id}&zip_code=94538&adults=10")
        await expect(page.get_by_role("row", name=re.compile(r"Adult \(13\+\) × 10"))).to_contain_text(ten_adults)
        await screenshot("admin-rules-public-quote")

        await page.goto(live_server + "/admin/audit?action=rules.update")
        newest = page.locator("table.audit-table > tbody > tr").first
        await expect(newest).to_contain_text("Sam Super")
        await newest.locator("summary").click()
        change = newest.get_by_role("row", name=re.compile("Adult .13.., per person"))
        await expect(change.get_by_role("cell")).to_have_text([f"{old:.2f}", f"{new:.2f}"])
        await step(page, screenshot, "admin-audit-rules-change")
    finally:
        await put_rules_back(live_server, station_id, before, headers)
    async with httpx.AsyncClient(base_url=live_server + "/api/v1") as api:
        quote = await api.post("/quotes", json={"station_id": station_id, "zip_code": "94538", "adults": 10})
    assert quote.json()["lines"][0]["unit_cents"] == before["adult_price_cents"]  # as it was for the other tests


async def test_an_admin_invites_a_user_then_changes_their_role_and_deactivates_them(page, live_server, screenshot):
    email = f"invitee-{uuid.uuid4().hex[:8]}@example.com"
    await sign_in(page, live_server, "admin@example.com")
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Users — Fremont CA")
    await step(page, screenshot, "admin-users")

    await page.get_by_role("link", name="Invite a user").click()
    assert await page.get_by_role("radio").count() == 3  # manager, support, chef: never admin
    await step(page, screenshot, "admin-users-invite")
    await page.get_by_role("button", name="Send the invite").click()
    await expect(page.get_by_role("alert")).to_contain_text("Please check the highlighted fields")
    await no_serious_violations(page)
    await page.get_by_label("Name", exact=True).fill("Ivy Invitee")
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Chef", exact=True).check()
    await page.get_by_role("button", name="Send the invite").click()
    await expect(page.get_by_role("status").first).to_contain_text("Invite sent")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ivy Invitee")
    await step(page, screenshot, "admin-user-detail")

    await page.get_by_role("link", name="Change role at Fremont CA").click()
    await step(page, screenshot, "admin-user-role-choose")
    await page.get_by_label("New role").select_option("support")
    await page.get_by_role("button", name="Review the change").click()
    await expect(page.get_by_role("heading", level=2)).to_have_text("Ivy Invitee becomes support at Fremont CA")
    await step(page, screenshot, "admin-user-role-confirm")
    await page.get_by_role("button", name="Make Ivy Invitee support").click()
    await expect(page.get_by_role("status").first).to_contain_text("Role changed")
    await expect(page.get_by_role("row", name=re.compile("Fremont CA"))).to_contain_text("Support")

    await page.get_by_role("link", name="Remove from station Fremont CA").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Remove Ivy Invitee from a station")
    await step(page, screenshot, "admin-user-remove")
    await page.get_by_role("link", name="Cancel").click()

    await page.get_by_role("link", name="Deactivate Ivy Invitee").click()
    await step(page, screenshot, "admin-user-deactivate")
    await page.get_by_label("Reason").fill("Invited by mistake")
    await page.get_by_role("button", name="Deactivate the account").click()
    await expect(page.get_by_role("status").first).to_contain_text("Account deactivated")

    await page.goto(live_server + "/admin/audit?actor=admin%40example.com")
    await expect(page.locator("table.audit-table")).to_contain_text("User deactivated")
    await step(page, screenshot, "admin-audit-by-actor")


async def test_my_account_and_the_two_factor_setup(page, live_server, screenshot):
    await sign_in(page, live_server, "manager@example.com")
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="My account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    await expect(page.locator("dl.facts-list")).to_contain_text("Fremont CA: manager")
    await step(page, screenshot, "admin-my-account")

    # Only the setup page: turning it on would make every later sign-in of this demo user ask for a code.
    await page.get_by_role("button", name="Set up two-factor sign-in").click()
    await expect(page.locator(".secret code")).to_have_text(re.compile(r"^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$"))
    await expect(page.locator("code.uri")).to_contain_text("otpauth://totp/")
    await page.get_by_label("Code from your app").fill("12345")
    await page.get_by_role("button", name="Turn on two-factor sign-in").click()
    await expect(page.get_by_text("Enter the 6 digits your app shows.")).to_be_visible()
    await step(page, screenshot, "admin-totp-setup")
    await page.get_by_role("link", name="Not now").click()
    await expect(page.locator("#totp-title + p")).to_contain_text("Off.")

    await page.goto(live_server + "/admin/settings/totp/disable")
    await step(page, screenshot, "admin-totp-disable")
    await page.goto(live_server + "/admin/set-password")
    await step(page, screenshot, "admin-set-password")
    await page.goto(live_server + "/admin/set-password?token=not-a-real-token")
    await page.get_by_label("New password").fill("a-long-new-password")
    await page.get_by_label("The same password again").fill("a-long-new-password")
    await page.get_by_role("button", name="Set my password").click()
    await expect(page.get_by_role("alert")).to_contain_text("invalid, expired or already used")
    await step(page, screenshot, "admin-set-password-refused")
