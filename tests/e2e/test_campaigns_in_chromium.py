"""The campaign editor in a real browser, with axe-core on its pages: markdown typed shows in the sandboxed preview
as it is typed, a segment picked shows how many it reaches, and the draft saved is scheduled in the station's time."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from myhibachi.demo import DEMO_PASSWORD
from tests.e2e.conftest import accessible, sign_in, station_now

CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/subscribe/confirm/\S+")


def mails(mail_root: Path) -> list[str]:
    """The live server's emails (written as files: its mail folder is under the session's temporary folder)."""
    messages = [message_from_bytes(path.read_bytes(), policy=policy.default)
                for path in mail_root.glob("e2e*/mail/*.eml")]
    return [f"{m['To']}\n{m.get_body(preferencelist=('plain',)).get_content()}" for m in messages]


async def confirmed_subscriber(live_server: str, mail_root: Path) -> None:
    """Someone who subscribed at Fremont and opened the confirmation link (the demo has no subscriber)."""
    email = f"fan-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as site:
        asked = await site.post("/api/v1/subscribe", json={"email": email, "station_id": 1})
        assert asked.status_code == 202, asked.text
        links = [found for mail in await asyncio.to_thread(mails, mail_root)
                 if email in mail and (found := CONFIRM_LINK.search(mail))]
        assert links, f"no confirmation link for {email}"
        link = links[-1]
        assert (await site.get(link.group(0))).status_code == 200


async def segment_of_everyone(live_server: str) -> str:
    name = f"Everyone {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=live_server + "/api/v1", timeout=30) as api:
        login = await api.post("/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        made = await api.post("/segments", headers=headers, json={"station_id": 1, "name": name, "rules": {}})
        assert made.status_code == 201, made.text
    return name


async def test_typing_previews_picking_counts_and_scheduling_schedules(
        page: Page, live_server: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    await confirmed_subscriber(live_server, tmp_path_factory.getbasetemp())
    segment = await segment_of_everyone(live_server)
    await sign_in(page, live_server)
    await page.goto(live_server + "/admin/campaigns?station=1")
    await page.get_by_role("link", name="New campaign", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("New campaign")
    await accessible(page)

    await page.get_by_label("Name (for you, not shown to recipients)").fill("Browser offer")
    await page.get_by_label("Subject").fill("Gyoza season")
    await page.get_by_label("Message (markdown)").press_sequentially("## Hello\n\nThe **gyoza** are on us.", delay=5)
    preview = page.frame_locator("iframe.email-preview")
    await expect(preview.locator("strong")).to_have_text("gyoza")  # the preview followed the typing
    await expect(preview.locator("h2")).to_have_text("Hello")
    await expect(page.locator("iframe.email-preview")).to_have_attribute("sandbox", "")

    await page.get_by_label("Who gets it (segment)").select_option(label=segment)
    await expect(page.locator("#audience")).to_contain_text(re.compile(r"\d+ (person|people) would get it"))
    await accessible(page)
    await page.get_by_role("button", name="Save the draft").click()
    await expect(page.get_by_role("status").first).to_contain_text("The draft is saved.")

    tomorrow = (await station_now(live_server)).date() + timedelta(days=1)
    await page.get_by_label(re.compile(r"Send at \(America/Los_Angeles time\)")).fill(f"{tomorrow.isoformat()}T10:30")
    await page.get_by_role("button", name="Schedule").click()
    await expect(page.get_by_role("status").first).to_contain_text("The campaign is scheduled.")
    await expect(page.locator("main")).to_contain_text(f"Goes out {tomorrow:%a %b} {tomorrow.day}, 10:30 AM")
    await expect(page.get_by_role("button", name="Pause")).to_be_visible()
    await expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    await accessible(page)
