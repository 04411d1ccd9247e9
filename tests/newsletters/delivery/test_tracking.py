"""Tracked opens and clicks: the pixel and the rewritten links of a sent campaign, what following them records, and
that nothing but our own signature leads anywhere: a forged or unknown token is a 404, never a redirect, and a click
can only go to a URL of that campaign. A station may turn tracking off."""

from __future__ import annotations

import re

from sqlalchemy import select

from myhibachi.auth.principal import SYSTEM
from myhibachi.newsletters.models import CampaignRecipient, TrackingEvent
from myhibachi.newsletters.tracking import click_token, open_token
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import get_rules
from tests.conftest import TEST_SECRET
from tests.newsletters.delivery.conftest import html_of, kick, make_campaign, recipients, subscribers, text_of

TRACKED = re.compile(r'href="http://testserver(/t/c/[^"]+)"')
PIXEL = re.compile(r'src="http://testserver(/t/o/[^"]+\.gif)"')


async def sent_campaign(runtime, db, station, sink, people: int = 2) -> int:  # noqa: ANN001
    await subscribers(db, station, people)
    campaign_id = await make_campaign(db, station)
    await kick(runtime, campaign_id)
    assert len(sink.messages) == people
    return campaign_id


def message_to(sink, address: str):  # noqa: ANN001, ANN201
    [message] = [m for m in sink.messages if m["To"] == address]
    return message


async def events(db, campaign_id: int) -> list[tuple[int, str, str | None]]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return [(e.recipient_id, e.kind, e.url) for e in await session.scalars(
            select(TrackingEvent).where(TrackingEvent.campaign_id == campaign_id).order_by(TrackingEvent.id))]


async def row(db, recipient_id: int) -> CampaignRecipient:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.get(CampaignRecipient, recipient_id)


async def test_the_mail_carries_a_pixel_and_tracked_links_that_lead_to_the_campaigns_urls(
        client, runtime, db, station, sink):
    campaign_id = await sent_campaign(runtime, db, station, sink)
    fan0 = next(r for r in await recipients(db, campaign_id) if r.email == "fan0@example.com")
    html = html_of(message_to(sink, "fan0@example.com"))

    assert "https://example.com/book" not in html and "https://example.com/menu" not in html
    links = TRACKED.findall(html)
    assert len(links) == 2
    assert "https://example.com/book?utm=summer" in text_of(message_to(sink, "fan0@example.com"))  # plain part

    first = await client.get(links[0])
    second = await client.get(links[1])

    assert (first.status_code, first.headers["location"]) == (302, "https://example.com/book?utm=summer")
    assert (second.status_code, second.headers["location"]) == (302, "https://example.com/menu")
    assert "no-store" in first.headers["cache-control"]
    fan0_now = await row(db, fan0.id)
    assert fan0_now.clicked_at is not None and fan0_now.opened_at is not None  # a click is an open too
    assert await events(db, campaign_id) == [(fan0.id, "open", None),
                                             (fan0.id, "click", "https://example.com/book?utm=summer"),
                                             (fan0.id, "click", "https://example.com/menu")]


async def test_the_pixel_is_a_gif_nobody_caches_and_counts_each_load(client, runtime, db, station, sink):
    campaign_id = await sent_campaign(runtime, db, station, sink)
    fan1 = next(r for r in await recipients(db, campaign_id) if r.email == "fan1@example.com")
    [pixel] = PIXEL.findall(html_of(message_to(sink, "fan1@example.com")))

    first = await client.get(pixel)
    opened_at = (await row(db, fan1.id)).opened_at
    again = await client.get(pixel)

    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"] == "image/gif" and first.content.startswith(b"GIF89a")
    assert len(first.content) == 43 and first.content[6:10] == b"\x01\x00\x01\x00"  # 1×1
    assert "no-store" in first.headers["cache-control"]
    assert opened_at is not None and (await row(db, fan1.id)).opened_at == opened_at  # the first open stays
    assert await events(db, campaign_id) == [(fan1.id, "open", None), (fan1.id, "open", None)]
    assert (await row(db, next(r.id for r in await recipients(db, campaign_id) if r.id != fan1.id))).opened_at is None


async def test_forged_and_unknown_tokens_are_404_never_a_redirect(client, runtime, db, station, sink):
    campaign_id = await sent_campaign(runtime, db, station, sink)
    [one, _] = await recipients(db, campaign_id)
    links = TRACKED.findall(html_of(message_to(sink, one.email)))
    good = links[0].removeprefix("/t/c/")
    rid, index, mac = good.split(".")
    wrong_key = click_token("another-secret-key-of-someone-else-0123456789", one.id, 0)

    for token in (f"{rid}.{index}.{mac[:-2]}xx",  # the signature altered
                  f"{int(rid) + 1}.{index}.{mac}",  # another recipient with this one's signature
                  f"{rid}.1.{mac}",  # another link with this one's signature
                  wrong_key,
                  click_token(TEST_SECRET, 999_999, 0),  # signed, but no such recipient
                  click_token(TEST_SECRET, one.id, 2),  # signed, but the campaign has two links: nothing at 2
                  click_token(TEST_SECRET, one.id, -1).replace("-1", "x"),
                  open_token(TEST_SECRET, one.id),  # an open token is not a click
                  "https:%2F%2Fevil.example", "1.0", "", "..", "1.0.x.y"):
        answer = await client.get(f"/t/c/{token}")
        assert answer.status_code == 404, token
        assert "location" not in answer.headers
    for token in (click_token(TEST_SECRET, one.id, 0), f"{one.id}.forged", open_token(TEST_SECRET, 999_999)):
        assert (await client.get(f"/t/o/{token}.gif")).status_code == 404
    assert await events(db, campaign_id) == []


async def test_a_click_goes_only_where_its_own_campaign_goes(client, runtime, db, station, sink):
    """A token names a place in the recipient's campaign, not a URL: a recipient of another campaign, with a link
    at the same place, is taken to their own campaign's URL."""
    campaign_id = await sent_campaign(runtime, db, station, sink, people=1)
    other = await make_campaign(db, station, body="Read [the other news](https://other.example/news).")
    await kick(runtime, other)
    [first] = await recipients(db, campaign_id)
    [second] = await recipients(db, other)

    assert (await client.get(f"/t/c/{click_token(TEST_SECRET, first.id, 0)}")).headers["location"] == \
        "https://example.com/book?utm=summer"
    assert (await client.get(f"/t/c/{click_token(TEST_SECRET, second.id, 0)}")).headers["location"] == \
        "https://other.example/news"
    assert (await client.get(f"/t/c/{click_token(TEST_SECRET, second.id, 1)}")).status_code == 404


async def test_a_station_can_turn_tracking_off(client, runtime, db, station, sink):
    await subscribers(db, station, 1)
    tracked = await make_campaign(db, station)
    await kick(runtime, tracked)
    [old_link] = TRACKED.findall(html_of(sink.messages[0]))[:1]
    async with db.transaction() as session:
        rules = await get_rules(session, station.id)
        await update_rules(session, SYSTEM, station.id, rules.model_copy(update={"email_tracking": False}))

    untracked = await make_campaign(db, station)
    await kick(runtime, untracked)

    html = html_of(sink.messages[1])
    assert "/t/o/" not in html and "/t/c/" not in html
    assert 'href="https://example.com/book?utm=summer"' in html and 'href="https://example.com/menu"' in html
    # A link in mail sent while tracking was on still leads where it did, but nothing is recorded any more.
    followed = await client.get(old_link)
    assert (followed.status_code, followed.headers["location"]) == (302, "https://example.com/book?utm=summer")
    [recipient] = await recipients(db, tracked)
    assert (recipient.opened_at, recipient.clicked_at) == (None, None) and await events(db, tracked) == []
