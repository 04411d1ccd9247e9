"""The quote and deposit link sent inside a thread: the site's own prices, the bookings domain's own hold (and its
double-booking protection), the conversation, lead and booking linked, the lead `quoted`; refusals change nothing."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from myhibachi.auth.permissions import Role
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.core.money import format_money
from myhibachi.inbox.models import Conversation, Message
from myhibachi.leads.models import Lead, LeadActivity
from tests.bookings.conftest import EVENT_DAY
from tests.inbox.quote.conftest import API, VENUE

PARTY = {"zip_code": "94538", "adults": 10, "children": 2}
HOLD = {**PARTY, "event_date": str(EVENT_DAY), "slot_time": "18:00", "venue": VENUE, "allergies": "none"}


async def outbound(db, conversation_id: int) -> list[Message]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(Message).where(
            Message.conversation_id == conversation_id, Message.direction == "out").order_by(Message.id)))


async def snapshot(db, conversation_id: int) -> tuple:  # noqa: ANN001
    """What a refused quote must leave as it was."""
    async with db.transaction(write=False) as session:
        conversation = await session.get(Conversation, conversation_id)
        return (conversation.lead_id, conversation.booking_id, conversation.status,
                await session.scalar(select(func.count()).select_from(Message)),
                await session.scalar(select(func.count()).select_from(Booking)),
                [(lead.id, lead.status) for lead in await session.scalars(select(Lead).order_by(Lead.id))],
                await session.scalar(select(func.count()).select_from(LeadActivity)))


async def test_the_quote_in_the_thread_has_the_sites_numbers_and_makes_the_lead_quoted(
        client, db, settings, station, thread, admin):
    site = (await client.post(f"{API}/quotes", json={"station_id": station.id, **PARTY})).json()

    response = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin, json=PARTY)

    assert response.status_code == 201, response.text
    sent = response.json()
    assert (sent["total_cents"], sent["deposit_cents"]) == (site["total_cents"], site["deposit_cents"])
    assert sent["booking_id"] is None and sent["deposit_link"] is None
    [message] = await outbound(db, thread.id)
    for cents in (site["total_cents"], site["tax_cents"], site["travel_fee_cents"], site["deposit_cents"],
                  site["food_subtotal_cents"] + site["minimum_adjustment_cents"]):
        assert format_money(cents) in message.body
    assert (message.sender, message.body) == ("staff", sent["body"])
    written = json.loads((settings.outbox_dir / "sms" / f"{message.id}.json").read_text())  # SMS is off here
    assert (written["to"], written["body"]) == ("+15105550142", message.body)
    async with db.transaction(write=False) as session:
        conversation = await session.get(Conversation, thread.id)
        lead = await session.get(Lead, sent["lead_id"])
    assert conversation.lead_id == lead.id and lead.contact_id == conversation.contact_id
    assert (lead.status, lead.guests, lead.zip_code) == ("quoted", 12, "94538")


async def test_with_a_date_a_hold_is_placed_and_its_deposit_link_sent(client, db, settings, station, thread, admin):
    response = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin, json=HOLD)

    assert response.status_code == 201, response.text
    sent = response.json()
    async with db.transaction(write=False) as session:
        conversation = await session.get(Conversation, thread.id)
        booking = await session.get(Booking, sent["booking_id"])
        lead = await session.get(Lead, sent["lead_id"])
    assert booking.status == BookingStatus.pending_deposit and booking.customer_id == conversation.contact_id
    assert (booking.adults, booking.children, booking.venue_zip) == (10, 2, "94538")
    assert conversation.booking_id == booking.id and conversation.lead_id == lead.id
    assert lead.booking_id == booking.id and lead.status == "quoted"
    assert sent["deposit_link"].startswith(f"{settings.base_url.rstrip('/')}/manage/")
    assert sent["deposit_link"].endswith("/pay")
    [message] = await outbound(db, thread.id)
    assert sent["deposit_link"] in message.body and booking.reference in message.body
    assert "Thursday, December 10 at 18:00" in message.body
    manage_path = sent["deposit_link"].removeprefix(settings.base_url.rstrip("/"))
    page = await client.get(manage_path)  # the link the site's own checkout answers
    assert page.status_code == 200 and booking.reference in page.text


async def test_a_hold_that_would_double_book_is_refused_and_nothing_is_sent(client, db, station, thread, admin,
                                                                              book):
    await book(station.id, slot="18:00", email="first@example.com")
    await book(station.id, slot="18:00", email="second@example.com")  # both of the station's chefs taken
    before = await snapshot(db, thread.id)

    response = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin, json=HOLD)

    assert response.status_code == 409 and response.json()["code"] == "slot_unavailable"
    assert await snapshot(db, thread.id) == before


async def test_outside_the_area_or_bad_input_is_the_domains_answer_and_changes_nothing(
        client, db, station, thread, admin):
    before = await snapshot(db, thread.id)
    far = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin,
                            json={**PARTY, "zip_code": "10001"})
    no_venue = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin,
                                 json={k: v for k, v in HOLD.items() if k != "venue"})
    no_adults = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin,
                                  json={**PARTY, "adults": 0})
    too_soon = await client.post(f"{API}/conversations/{thread.id}/quote", headers=admin,
                                 json={**HOLD, "event_date": "2026-12-02"})
    unknown = await client.post(f"{API}/conversations/999999/quote", headers=admin, json=PARTY)

    assert far.status_code == 422 and far.json()["code"] == "outside_service_area"
    assert no_venue.status_code == 422 and no_venue.json()["errors"][0]["field"] == "body.venue"
    assert no_adults.status_code == 422
    assert too_soon.status_code == 422 and too_soon.json()["code"] == "insufficient_notice"
    assert unknown.status_code == 404
    assert all(r.headers["content-type"] == "application/problem+json"
               for r in (far, no_venue, no_adults, too_soon, unknown))
    assert await snapshot(db, thread.id) == before


async def test_who_may_quote_and_who_may_hold(client, db, station, thread, staff_of, make_station, make_user,
                                              login):
    """`engagement` for the thread (support and manager work the inbox); the hold is the bookings domain's
    `bookings.write` (support may create bookings, a manager may not); a chef has no inbox; another station's
    staff do not see the thread."""
    support, manager, chef = (await staff_of(Role.support), await staff_of(Role.manager),
                              await staff_of(Role.chef))
    other = await make_station("SAC")
    await make_user("admin@sac.example.com", Role.admin, other)
    outsider = await login("admin@sac.example.com")

    manager_holds = await client.post(f"{API}/conversations/{thread.id}/quote", headers=manager, json=HOLD)
    chef_quotes = await client.post(f"{API}/conversations/{thread.id}/quote", headers=chef, json=PARTY)
    outsider_quotes = await client.post(f"{API}/conversations/{thread.id}/quote", headers=outsider, json=PARTY)
    # A chef has no inbox: its threads do not exist for them (404), as for another station's staff.
    assert (manager_holds.status_code, chef_quotes.status_code, outsider_quotes.status_code) == (403, 404, 404)
    assert await outbound(db, thread.id) == []

    manager_quotes = await client.post(f"{API}/conversations/{thread.id}/quote", headers=manager, json=PARTY)
    support_holds = await client.post(f"{API}/conversations/{thread.id}/quote", headers=support, json=HOLD)
    assert (manager_quotes.status_code, support_holds.status_code) == (201, 201)
    assert len(await outbound(db, thread.id)) == 2 and support_holds.json()["booking_id"] is not None
