"""The preference page (same signed link as unsubscribing): a person keeps some stations' and topics' mail and
drops the rest (opt-outs that marketing_audience honours), and someone who unsubscribed asks again through the double
opt-in email, sent through a real SMTP server."""

from __future__ import annotations

import asyncio

import pytest

from myhibachi.auth.principal import SYSTEM
from myhibachi.consent.commands import preferences_url, set_preferences, unsubscribe_url
from myhibachi.consent.models import Topic
from myhibachi.consent.queries import preferences_of
from myhibachi.contacts.commands import add_contact_tag, contact_tags
from myhibachi.leads.people import merge_contacts
from myhibachi.settings import Settings
from tests.newsletters.conftest import audience, ledger_of, subscriber
from tests.smtp import SmtpServer
from tests.web.browserless import Form, Page, read, submit

CONFIRMED = [("granted", "footer_form"), ("confirmed", "confirmation_link")]


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


def choices(page: Page) -> Form:
    return next(form for form in page.forms if ("go", "save") in form.buttons)


def ticked(page: Page) -> set[str]:
    return {name for name, value in choices(page).fields.items() if value == "yes"}


async def test_a_subscriber_keeps_one_station_and_one_topic(client, db, settings, station, make_station):
    other = await make_station("SAC")
    contact_id = await subscriber(db, "dana@example.com", station.id)
    link = path_of(preferences_url(settings, contact_id))
    page = read(await client.get(link))
    assert page.response.status_code == 200 and "Your email preferences" in page.text
    assert ticked(page) == {
        f"station_{station.id}", f"station_{other.id}", "topic_news", "topic_follow_ups"}  # all ticked at first

    saved = await submit(client, page, ("go", "save"), form=choices(page),
                         **{f"station_{other.id}": "", "topic_news": ""})

    assert saved.response.status_code == 200 and "Saved:" in saved.text
    assert ticked(saved) == {f"station_{station.id}", "topic_follow_ups"}
    assert contact_id not in await audience(db, station.id, Topic.news)
    assert contact_id in await audience(db, station.id, Topic.follow_ups)
    assert contact_id not in await audience(db, other.id, Topic.follow_ups)

    again = await client.post(link, data={**choices(saved).fields, "topic_news": "yes", "go": "save"},
                              follow_redirects=True)  # the box ticked again
    assert "Saved:" in again.text
    assert contact_id in await audience(db, station.id, Topic.news)
    assert contact_id not in await audience(db, other.id, Topic.news)
    assert await ledger_of(db, contact_id) == CONFIRMED  # choosing is not withdrawing


async def test_the_page_refuses_a_forged_link_and_an_expired_form(client, db, settings, station):
    contact_id = await subscriber(db, "dana@example.com", station.id)
    link = path_of(preferences_url(settings, contact_id))
    assert (await client.get(link + "x")).status_code == 404
    page = read(await client.get(link))
    refused = await client.post(link, data={**choices(page).fields, "csrf_token": "not-the-token",
                                            "topic_news": "", "go": "save"})
    assert refused.status_code == 403 and "expired" in refused.text
    assert contact_id in await audience(db, station.id, Topic.news)


class TestSubscribingAgain:
    @pytest.fixture
    def settings(self, settings: Settings, smtp_server: SmtpServer) -> Settings:
        return settings.model_copy(update={"smtp_url": smtp_server.url})

    async def test_someone_who_unsubscribed_asks_again_by_double_opt_in(self, client, provider, db, settings,
                                                                        station, smtp_server):
        contact_id = await subscriber(db, "dana@example.com", station.id)
        await provider.post(path_of(unsubscribe_url(settings, contact_id)), data={"List-Unsubscribe": "One-Click"})
        page = read(await client.get(path_of(preferences_url(settings, contact_id))))
        assert "You get no news or offers from us" in page.text
        assert "Unsubscribe from everything" not in page.text

        asked = await submit(client, page, ("go", "subscribe"), form=page.forms[0])

        assert asked.response.status_code == 200 and "We sent a link to d…@example.com" in asked.text
        assert await ledger_of(db, contact_id) == [*CONFIRMED, ("withdrawn", "unsubscribe"),
                                                   ("granted", "preferences")]
        assert contact_id not in await audience(db, station.id)  # nothing before the link is opened
        assert await asyncio.to_thread(smtp_server.wait_for_messages, 1), "the confirmation did not arrive"
        [mail] = smtp_server.messages
        assert mail["To"] == "dana@example.com" and "confirm" in mail["Subject"].lower()
        link = next(line for line in mail.get_body(("plain",)).get_content().split() if "/subscribe/confirm/" in line)
        assert (await client.get(path_of(link))).status_code == 200
        assert contact_id in await audience(db, station.id)


async def test_a_merge_keeps_both_contacts_tags_and_opt_outs(db, station, make_station):
    other = await make_station("SAC")
    kept = await subscriber(db, "dana@example.com", station.id)
    merged = await subscriber(db, "d.reyes@example.com", station.id)
    async with db.transaction() as session:
        await add_contact_tag(session, kept, "vip", actor_user_id=None)
        await add_contact_tag(session, merged, "vip", actor_user_id=None)
        await add_contact_tag(session, merged, "wedding", actor_user_id=None)
        await set_preferences(session, merged, offered_stations={station.id, other.id}, wanted_stations={station.id},
                              wanted_topics={Topic.news})
    async with db.transaction() as session:
        await merge_contacts(session, SYSTEM, kept, merged)

    async with db.transaction(write=False) as session:
        assert await contact_tags(session, kept) == ["vip", "wedding"]
        chosen = await preferences_of(session, kept)
    assert (chosen.stations_off, chosen.topics_off) == ({other.id}, {Topic.follow_ups})
