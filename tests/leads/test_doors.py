"""Every door makes or updates a lead (SPEC §7 "Leads"): the site's contact form, the booking flow left with an
email, a booking refused for a taken time or a venue outside the area (API and site), chat and inbox handles; one
contact and one lead when two doors open at once for a new person."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from myhibachi.contacts.models import Contact, ContactHandle, HandleKind
from myhibachi.demo import DEMO_STATIONS
from myhibachi.leads import commands
from myhibachi.leads.commands import Inquiry, capture_lead, record_engagement
from myhibachi.leads.jobs import catch_abandoned_flows
from myhibachi.leads.models import ActivityKind, FlowVisit, Lead, LeadActivity, LeadSource
from myhibachi.stations.commands import ensure_station
from tests.bookings.conftest import API, EVENT_DAY, NOW, booking_body
from tests.web.browserless import Page, read, submit

PARTY = {"zip_code": "94538", "adults": "12", "children": "4", "toddlers": "1"}
DETAILS = {"venue_line1": "4100 Mowry Ave", "venue_city": "Fremont", "venue_state": "CA", "name": "Dana Lee",
           "email": "Dana@Example.com", "phone": "(510) 555-0142", "allergies": "none"}
CONTACT = {"name": "Ari Park", "email": "ari@example.com", "phone": "", "event_date": "2027-01-16", "guests": "20",
           "zip_code": "95814", "message": "Company party"}


async def rows(db, model, *where) -> list:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(model).where(*where)))


async def count(db, model) -> int:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


# --- the contact form ------------------------------------------------------------------------------------------------


@pytest.fixture
async def stations(db, clock) -> dict:  # noqa: ANN001
    async with db.transaction() as session:
        made = [(await ensure_station(session, data))[0] for data in DEMO_STATIONS]
    return {station.code: station for station in made}


async def test_the_contact_form_makes_a_lead_at_the_station_serving_the_zip_code(client, db, stations):
    form = read(await client.get("/contact"))
    assert form.response.status_code == 200
    assert {"name", "email", "phone", "event_date", "guests", "zip_code", "message"} <= set(form.form.fields)
    assert '<label for="f-email">' in form.text and '<label for="f-message">' in form.text

    done = await submit(client, form, None, **CONTACT)

    assert done.response.status_code == 200 and str(done.response.url).endswith("/contact?sent=1")
    assert "Thank you" in done.text
    [lead] = await rows(db, Lead)
    assert (lead.station_id, lead.source, lead.status) == (stations["SAC"].id, "contact_form", "new")
    assert (lead.name, lead.email, lead.guests, str(lead.event_date)) == ("Ari Park", "ari@example.com", 20,
                                                                         "2027-01-16")
    [activity] = await rows(db, LeadActivity)
    assert activity.kind == "inquiry" and "Company party" in activity.body


async def test_the_contact_form_without_a_zip_code_uses_the_station_the_visitor_sees(client, db, stations):
    await client.get("/", params={"station": "fre"})
    await submit(client, read(await client.get("/contact")), None, **{**CONTACT, "zip_code": ""})
    [lead] = await rows(db, Lead)
    assert lead.station_id == stations["FRE"].id


@pytest.mark.parametrize(("typed", "field", "words"), [
    ({"email": "", "phone": ""}, "email", "Give an email address or a phone number"),
    ({"email": "not-an-address"}, "email", "email address"),
    ({"guests": "lots"}, "guests", "whole number"),
    ({"zip_code": "9581"}, "zip_code", "5 digits"),
    ({"name": ""}, "name", "fill this in"),
])
async def test_the_contact_form_explains_a_bad_field_and_changes_nothing(client, db, stations, typed, field, words):
    page = await submit(client, read(await client.get("/contact")), None, **{**CONTACT, **typed})

    assert page.response.status_code == 422
    assert words.lower() in page.errors[field].lower(), page.errors
    assert "nothing was sent" in page.text
    assert page.form.fields["message"] == "Company party"  # what was typed is kept
    assert await count(db, Lead) == 0 and await count(db, Contact) == 0


async def test_the_contact_form_refuses_an_expired_form_and_a_filled_honeypot(client, db, stations):
    page = read(await client.get("/contact"))
    expired = await submit(client, page, None, **{**CONTACT, "csrf_token": "x" * 43})
    bot = await submit(client, page, None, **{**CONTACT, "website": "http://spam.example"})

    assert expired.response.status_code == 403 and "expired" in expired.text
    assert bot.response.status_code == 422
    assert await count(db, Lead) == 0


async def test_the_contact_form_is_rate_limited_per_address(client, db, stations, runtime):
    from myhibachi.core.ratelimit import Throttle  # noqa: PLC0415

    runtime.public_form_posts_by_ip = Throttle(runtime.public_form_posts_by_ip.storage, "test-contact", 2, 60)
    page = read(await client.get("/contact"))
    statuses = [(await submit(client, page, None, **CONTACT)).response.status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    limited = await submit(client, page, None, **{**CONTACT, "message": "Third try"})
    assert "Too many tries" in limited.text and limited.form.fields["message"] == "Third try"
    assert len(await rows(db, LeadActivity)) == 2


# --- the funnel's quotes ---------------------------------------------------------------------------------------------


async def test_one_quote_is_counted_per_visitor_session(client, db, station):
    for adults in ("10", "11", "12"):
        assert (await client.get("/quote", params={"zip_code": "94538", "adults": adults})).status_code == 200
    await client.get("/quote", params={"zip_code": "94538", "adults": "11"}, headers={"HX-Request": "true"})
    await client.get("/book", params={"zip_code": "94538", "adults": "10"})
    first = client.cookies["mh_visit"]
    assert await count(db, FlowVisit) == 1

    client.cookies.clear()  # another visitor session (the cookie lasts as long as the browser's session)
    await client.get("/quote", params={"zip_code": "94538"})
    assert await count(db, FlowVisit) == 1  # no party yet: no quote
    party = await submit(client, read(await client.get("/book")), **PARTY)  # the booking flow's party step
    assert "Date and start time" in party.text
    visits = {visit.visitor_key: visit for visit in await rows(db, FlowVisit)}
    assert set(visits) == {first, client.cookies["mh_visit"]}
    assert {(v.station_id, v.quoted_at) for v in visits.values()} == {(station.id, NOW)}


async def test_the_visitor_cookie_is_http_only_and_lax(client, station):
    response = await client.get("/quote", params={"zip_code": "94538", "adults": "10"})
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("mh_visit="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age" not in cookie


# --- the booking flow left without booking --------------------------------------------------------------------------


async def to_review(client) -> Page:  # noqa: ANN001
    page = await submit(client, read(await client.get("/book")), **PARTY)
    page = await submit(client, page, ("go", f"day:{EVENT_DAY}"))
    page = await submit(client, page, slot_time="18:00")
    page = await submit(client, page, **DETAILS)
    assert "Before you book" in page.text, page.errors
    return page


async def test_the_booking_flow_left_with_an_email_becomes_a_lead_after_the_wait(client, db, station, runtime,
                                                                                 clock):
    await to_review(client)
    [visit] = await rows(db, FlowVisit)
    assert (visit.email, visit.phone, visit.guests, visit.event_date) == ("dana@example.com", "+15105550142", 17,
                                                                          EVENT_DAY)

    clock.move_to(NOW + timedelta(minutes=119))
    assert await catch_abandoned_flows(runtime.jobs) == 0
    clock.move_to(NOW + timedelta(minutes=121))
    assert await catch_abandoned_flows(runtime.jobs) == 1
    assert await catch_abandoned_flows(runtime.jobs) == 0  # once

    [lead] = await rows(db, Lead)
    assert (lead.station_id, lead.source, lead.name, lead.guests, lead.zip_code) == (
        station.id, "abandoned_booking", "Dana Lee", 17, "94538")
    assert "Left the booking flow" in lead.message
    [visit] = await rows(db, FlowVisit)
    assert visit.lead_id == lead.id


async def test_the_wait_is_the_lead_abandon_minutes_setting(client, db, station, runtime, clock):
    runtime.settings.lead_abandon_minutes = 30
    await to_review(client)
    clock.move_to(NOW + timedelta(minutes=31))
    assert await catch_abandoned_flows(runtime.jobs) == 1


async def test_a_details_step_without_a_valid_email_is_not_kept(client, db, station, runtime, clock):
    page = await submit(client, read(await client.get("/book")), **PARTY)
    page = await submit(client, page, ("go", f"day:{EVENT_DAY}"))
    page = await submit(client, page, slot_time="18:00")
    await submit(client, page, **{**DETAILS, "email": "dana-at-example"})
    clock.move_to(NOW + timedelta(hours=3))
    assert await catch_abandoned_flows(runtime.jobs) == 0
    assert [v.email for v in await rows(db, FlowVisit)] == [None]


async def test_a_visit_that_booked_makes_no_lead(client, db, station, runtime, clock):
    await submit(client, await to_review(client), ("go", "book"))
    [visit] = await rows(db, FlowVisit)
    assert visit.booked_at == NOW
    clock.move_to(NOW + timedelta(hours=3))
    assert await catch_abandoned_flows(runtime.jobs) == 0
    assert await count(db, Lead) == 0


async def test_a_person_who_booked_since_by_another_way_gets_no_lead(client, db, station, runtime, clock, book):
    await to_review(client)
    await book(station.id, EVENT_DAY, "15:00", email="dana@example.com")  # on the phone, in another tab
    clock.move_to(NOW + timedelta(hours=3))
    assert await catch_abandoned_flows(runtime.jobs) == 0
    assert await count(db, Lead) == 0
    [visit] = await rows(db, FlowVisit)
    assert visit.booked_at is not None


async def test_several_processes_catching_one_visit_make_one_lead(client, db, station, runtime, clock):
    await to_review(client)
    clock.move_to(NOW + timedelta(hours=3))
    cutoff = NOW + timedelta(hours=1)
    [visit] = await rows(db, FlowVisit)

    async def catch() -> Lead | None:
        async with runtime.jobs.unit_of_work() as session:
            return await commands.catch_abandoned_flow(session, visit.visitor_key, cutoff)

    made = await asyncio.gather(catch(), catch(), catch())
    assert sum(lead is not None for lead in made) == 1
    assert await count(db, Lead) == 1 and await count(db, LeadActivity) == 1


# --- bookings refused -----------------------------------------------------------------------------------------------


async def test_a_booking_refused_for_a_taken_time_becomes_a_lead(client, db, station, book):
    for n in range(2):
        await book(station.id, EVENT_DAY, "18:00", email=f"other{n}@example.com")
    refused = await client.post(f"{API}/bookings", json=booking_body(station.id, email="late@example.com"))

    assert refused.status_code == 409 and refused.json()["code"] == "slot_unavailable"
    [lead] = await rows(db, Lead)
    assert (lead.source, lead.email, lead.guests, lead.event_date, lead.zip_code) == (
        "slot_unavailable", "late@example.com", 17, EVENT_DAY, "94538")
    assert "Thursday, December 10, 2026 at 18:00" in lead.message and "No chef is free" in lead.message
    assert await count(db, Contact) == 3  # the two bookers and the refused person; no booking of theirs
    from myhibachi.bookings.models import Booking  # noqa: PLC0415
    assert await count(db, Booking) == 2


async def test_a_booking_outside_the_service_area_becomes_a_lead_at_the_station_asked(client, db, station):
    body = booking_body(station.id, venue={"line1": "1 Broadway", "city": "New York", "state": "NY",
                                           "zip_code": "10001"})
    refused = await client.post(f"{API}/bookings", json=body)

    assert refused.status_code == 422 and refused.json()["code"] == "outside_service_area"
    [lead] = await rows(db, Lead)
    assert (lead.station_id, lead.source, lead.zip_code) == (station.id, "outside_service_area", "10001")
    assert "we travel up to" in lead.message


async def test_other_refusals_make_no_lead_and_change_nothing(client, db, station):
    refused = await client.post(f"{API}/bookings", json=booking_body(station.id, NOW.date()))  # too soon
    assert refused.status_code == 422 and refused.json()["code"] != "slot_unavailable"
    assert await count(db, Lead) == 0 and await count(db, Contact) == 0


async def test_the_site_flow_refused_a_taken_time_makes_a_lead(client, db, station, book):
    review = await to_review(client)
    for n in range(2):
        await book(station.id, EVENT_DAY, "18:00", email=f"other{n}@example.com")
    page = await submit(client, review, ("go", "book"))
    assert page.response.status_code == 409
    [lead] = await rows(db, Lead)
    assert (lead.source, lead.email) == ("slot_unavailable", "dana@example.com")


# --- chat and inbox, engagement --------------------------------------------------------------------------------------


async def test_a_chat_handle_alone_makes_a_lead_and_finds_it_again(db, station):
    chat = Inquiry(station_id=station.id, source=LeadSource.chat, name="Website visitor",
                   handle=(HandleKind.web_chat, "visitor-7f3a"), message="Do you cook vegan?")
    async with db.transaction() as session:
        first = await capture_lead(session, chat)
    async with db.transaction() as session:
        again = await capture_lead(session, Inquiry(station_id=station.id, source=LeadSource.inbox, name="?",
                                                    handle=(HandleKind.web_chat, "visitor-7f3a")))
    assert again.id == first.id and first.source == "chat" and first.email is None
    [handle] = await rows(db, ContactHandle)
    assert (handle.kind, handle.value) == ("web_chat", "visitor-7f3a")
    assert len(await rows(db, LeadActivity)) == 2


async def test_engagement_goes_on_the_open_lead_at_the_station(db, station, make_station):
    async with db.transaction() as session:
        lead = await capture_lead(session, Inquiry(station_id=station.id, source=LeadSource.contact_form,
                                                   name="Dana", email="dana@example.com"))
    other = await make_station("SAC")
    async with db.transaction() as session:
        replied = await record_engagement(session, station.id, lead.contact_id, ActivityKind.reply, "Sounds good!")
        viewed = await record_engagement(session, station.id, lead.contact_id, ActivityKind.quote_viewed,
                                         "Opened the quote")
        elsewhere = await record_engagement(session, other.id, lead.contact_id, ActivityKind.reply, "Hi")
        with pytest.raises(ValueError, match="not an engagement"):
            await record_engagement(session, station.id, lead.contact_id, ActivityKind.note, "staff only")
    assert replied.id == viewed.id == lead.id and elsewhere is None
    kinds = [a.kind for a in await rows(db, LeadActivity, LeadActivity.lead_id == lead.id)]
    assert kinds == ["inquiry", "reply", "quote_viewed"]


# --- two doors at once ---------------------------------------------------------------------------------------------


async def test_two_doors_at_once_for_a_new_person_make_one_contact_and_one_lead(db, station):
    doors = [Inquiry(station_id=station.id, source=source, name="Dana", email="dana@example.com",
                     phone="+15105550142") for source in (LeadSource.contact_form, LeadSource.abandoned_booking,
                                                          LeadSource.slot_unavailable)]

    async def open_door(inquiry: Inquiry) -> int:
        async with db.transaction() as session:
            return (await capture_lead(session, inquiry)).id

    ids = await asyncio.gather(*(open_door(inquiry) for inquiry in doors))

    assert len(set(ids)) == 1
    assert await count(db, Contact) == 1 and await count(db, Lead) == 1
    assert await count(db, LeadActivity) == 3


async def test_two_public_posts_at_once_make_one_lead(client, db, station):
    body = {"station_id": station.id, "name": "Dana", "email": "dana@example.com", "message": "Hello"}
    answers = await asyncio.gather(*(client.post(f"{API}/leads", json=body) for _ in range(4)))
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert await count(db, Contact) == 1 and await count(db, Lead) == 1
