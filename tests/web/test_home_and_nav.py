"""The nav's "Book" link and what the home page promises (issue 16, item 6): what is included, what the host
provides and the rain plan from the SITE_* settings; how long the chef stays from the station's rules."""

from __future__ import annotations

import re

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from myhibachi.app import create_app
from myhibachi.auth.principal import SYSTEM
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import get_rules
from myhibachi.settings import Settings
from myhibachi.web.site.pages import PAGES
from tests.web.browserless import read
from tests.web.test_manage_pages import words


@pytest.fixture
async def fremont(make_station, db):  # noqa: ANN001, ANN201
    return await make_station("FRE")


def nav(html: str) -> list[tuple[str, str, bool]]:
    """The main menu: (href, text, whether it is the current page)."""
    [menu] = re.findall(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    return [(href, text, bool(current)) for href, current, text in
            re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', menu)]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_leads_to_booking(client, fremont, path):
    menu = nav((await client.get(path)).text)

    assert ("/book", "Book", path == "/book") in menu
    assert [href for href, _, _ in menu] == ["/menu", "/quote", "/book", "/faq", "/contact"]


async def test_the_home_page_says_what_to_expect(client, fremont, settings):
    home = words(read(await client.get("/")))

    assert settings.site_included in home and settings.site_host_provides in home and settings.site_rain_plan in home
    assert ("How long the chef stays The show and dinner last about 1 hour 30 minutes, 2 hours 30 minutes for a party "
            "of 20 guests or more") in home


async def test_how_long_the_chef_stays_follows_the_rules(client, fremont, db):
    async with db.transaction() as session:
        rules = await get_rules(session, fremont.id)
        await update_rules(session, SYSTEM, fremont.id, rules.model_copy(update={
            "event_minutes": 120, "large_party_event_minutes": 180, "large_party_min_guests": 25}))

    home = words(read(await client.get("/")))

    assert "last about 2 hours, 3 hours for a party of 25 guests or more" in home


async def test_the_words_about_the_service_come_from_settings(settings: Settings, fremont):
    custom = create_app(settings.model_copy(update={
        "site_included": "Chef, grill, propane and a fire show.",
        "site_host_provides": "Two folding tables and a garden hose nearby.",
        "site_rain_plan": "Under a 10x10 tent we bring along, rain or shine."}))
    async with LifespanManager(custom), AsyncClient(transport=ASGITransport(app=custom),
                                                    base_url="http://testserver") as http:
        home = words(read(await http.get("/")))

    assert "Chef, grill, propane and a fire show." in home
    assert "What you provide Two folding tables and a garden hose nearby." in home
    assert "If it rains Under a 10x10 tent we bring along, rain or shine." in home
    assert Settings.model_fields["site_rain_plan"].default not in home
