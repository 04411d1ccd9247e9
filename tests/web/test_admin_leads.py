"""The admin's leads pages over HTTP, as a browser without JavaScript sends them: the board and its moves (a refused
move said on the board, lost only with a reason), the list's filters and search, a lead's page (contact, factors,
timeline, "Start a booking"), assignment, follow-ups in the station's time, notes, staff entry, and the dashboard's
lead panels and funnel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select, update

from myhibachi.auth.permissions import Role
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import FlowVisit, Lead, LeadActivity, LeadSource
from tests.web.browserless import admin_csrf, read, submit

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # the frozen clock (tests/bookings/conftest.py): 08:00 in Fremont


async def make_lead(db, station, name: str, *, source: LeadSource = LeadSource.contact_form, **fields) -> int:  # noqa: ANN001, ANN003
    inquiry = {"email": f"{name.split()[0].lower()}@example.com", "guests": 12, "zip_code": "94538",
               "event_date": date(2027, 1, 16), **fields}
    async with db.transaction() as session:
        lead = await capture_lead(session, Inquiry(station_id=station.id, source=source, name=name, **inquiry))
        return lead.id


async def set_lead(db, lead_id: int, **values) -> None:  # noqa: ANN001, ANN003
    async with db.transaction() as session:
        await session.execute(update(Lead).where(Lead.id == lead_id).values(**values))


async def lead_row(db, lead_id: int) -> Lead:  # noqa: ANN001
    async with db.session() as session:
        return await session.get_one(Lead, lead_id)


async def timeline(db, lead_id: int) -> list[str]:  # noqa: ANN001
    async with db.session() as session:
        return list(await session.scalars(select(LeadActivity.body).where(LeadActivity.lead_id == lead_id)
                                          .order_by(LeadActivity.id)))


@pytest.fixture
async def staff(station, make_user):  # noqa: ANN001, ANN201
    ids = {}
    for email, role, name in [("admin@example.com", Role.admin, "Ada Admin"),
                              ("support@example.com", Role.support, "Sam Support"),
                              ("chef@example.com", Role.chef, "Chen Chef")]:
        ids[role.value] = await make_user(email, role, station, name=name)
    return ids


@pytest.fixture
async def leads(db, station, staff):  # noqa: ANN001, ANN201
    dana = await make_lead(db, station, "Dana Reyes", phone="+15105550142", message="Birthday dinner")
    eli = await make_lead(db, station, "Eli Park", source=LeadSource.chat)
    await set_lead(db, dana, band="hot", score=81)
    await set_lead(db, eli, band="cold", score=12, status="contacted", assignee_id=staff["support"])
    return {"dana": dana, "eli": eli}


def card_form(page, lead_id: int, status: str):  # noqa: ANN001, ANN201
    return next(f for f in page.forms if f.action.startswith(f"/admin/leads/{lead_id}/move")
                and f.fields.get("status") == status)


async def test_the_board_moves_a_card_with_its_button(client, db, leads, admin_sign_in):
    await admin_sign_in("support@example.com")
    board = read(await client.get("/admin/leads"))
    assert board.response.status_code == 200
    assert "Dana Reyes" in board.text and "Eli Park" in board.text
    assert '<section class="lead-column" aria-labelledby="col-new" data-drop-status="new">' in board.text
    moved = await submit(client, board, None, form=card_form(board, leads["dana"], "contacted"))
    assert moved.response.status_code == 200 and "The lead is moved." in moved.text
    assert (await lead_row(db, leads["dana"])).status == "contacted"
    assert "Moved from new to contacted" in await timeline(db, leads["dana"])


async def test_an_illegal_move_is_refused_on_the_board_and_changes_nothing(client, db, leads, admin_sign_in):
    await admin_sign_in("support@example.com")
    csrf = await admin_csrf(client)
    for status in ("quoted", "won"):  # what a drag to a column the card may not go to posts
        response = await client.post(f"/admin/leads/{leads['dana']}/move", data={
            "csrf_token": csrf, "status": status, "back": "board"})
        assert response.status_code == 409, response.text[:300]
        page = read(response)
        assert "<h1>Leads — " in page.text and 'role="alert"' in page.text
        assert ("moves to contacted or lost" if status == "quoted" else "deposit paid") in page.text
    assert (await lead_row(db, leads["dana"])).status == "new"


async def test_lost_needs_one_of_the_stations_reasons(client, db, leads, admin_sign_in):
    await admin_sign_in("support@example.com")
    csrf = await admin_csrf(client)
    response = await client.post(f"/admin/leads/{leads['dana']}/move", data={"csrf_token": csrf, "status": "lost",
                                                                             "back": "board"})
    assert response.status_code == 422 and "Say why it was lost" in response.text
    form = read(await client.get(f"/admin/leads/{leads['dana']}/lost?back=board"))
    assert set(form.form.radios["lost_reason"]) >= {"price", "no_response", "other"}
    refused = await submit(client, form, None)  # no reason chosen
    assert refused.response.status_code == 422 and refused.errors["lost_reason"].startswith("Say why")
    done = await submit(client, refused, None, lost_reason="price")
    assert "The lead is marked lost." in done.text and "<h1>Leads — " in done.text  # back to the board
    row = await lead_row(db, leads["dana"])
    assert (row.status, row.lost_reason) == ("lost", "price")
    assert "Lost: Price" in done.text  # in the recent "Lost" column


async def test_the_list_filters_and_searches(client, db, station, leads, admin_sign_in):
    await admin_sign_in("admin@example.com")
    await set_lead(db, leads["eli"], next_follow_up_at=NOW - timedelta(hours=2))

    async def names(**params) -> set[str]:  # noqa: ANN003
        page = await client.get("/admin/leads/list", params=params)
        assert page.status_code == 200
        return {name for name in ("Dana Reyes", "Eli Park") if f">{name}</a>" in page.text}

    assert await names() == {"Dana Reyes", "Eli Park"}
    assert await names(status="contacted") == {"Eli Park"}
    assert await names(band="hot") == {"Dana Reyes"}
    assert await names(source="chat") == {"Eli Park"}
    assert await names(assignee="none") == {"Dana Reyes"}
    assert await names(overdue="on") == {"Eli Park"}
    assert await names(q="0142") == {"Dana Reyes"}
    assert await names(q="ELI@EXAMPLE") == {"Eli Park"}
    assert await names(band="nonsense", status="bogus") == {"Dana Reyes", "Eli Park"}  # ignored, never a 500
    empty = await client.get("/admin/leads/list", params={"q": "nobody"})
    assert "No lead matches these filters." in empty.text


async def test_the_lead_page_explains_the_score_and_starts_a_booking(client, db, station, leads, admin_sign_in):
    await set_lead(db, leads["dana"], score_factors=[
        {"factor": "party_size", "points": 11, "reason": "12 guests"},
        {"factor": "source", "points": 5, "reason": "contact form"}],
        probability_factors=[{"factor": "timing", "weight": -0.4, "reason": "46 days out"}])
    await admin_sign_in("support@example.com")
    page = read(await client.get(f"/admin/leads/{leads['dana']}"))
    assert page.response.status_code == 200
    for text in ("dana@example.com", "+15105550142", "Birthday dinner", "Party size", "12 guests",
                 'aria-label="Party size: 11 points"', "lowers (-0.40)", "Contact form: Birthday dinner"):
        assert text in page.text, text
    start = page.text.split('href="/book?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(start) == {"station_id": [str(station.id)], "zip_code": ["94538"], "adults": ["12"],
                               "event_date": ["2027-01-16"], "name": ["Dana Reyes"], "email": ["dana@example.com"],
                               "phone": ["+15105550142"]}
    booking = await client.get(f"/book?{start}")  # the site's flow, with the party filled in
    assert booking.status_code == 200 and 'value="94538"' in booking.text


async def test_assignment_follow_up_and_notes(client, db, staff, leads, admin_sign_in):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/leads/{leads['dana']}"))
    assign = next(f for f in page.forms if f.action.endswith("/assign"))
    assert "Sam Support" in page.text and "Chen Chef" not in page.text  # only staff who work leads
    page = await submit(client, page, None, form=assign, assignee_id=str(staff["support"]))
    assert "Owner saved." in page.text
    assert (await lead_row(db, leads["dana"])).assignee_id == staff["support"]

    follow = next(f for f in page.forms if f.action.endswith("/follow-up"))
    page = await submit(client, page, None, form=follow, follow_up="2026-12-03T09:30")
    assert "The follow-up is saved." in page.text
    assert (await lead_row(db, leads["dana"])).next_follow_up_at == datetime(2026, 12, 3, 17, 30, tzinfo=UTC)
    assert 'value="2026-12-03T09:30"' in page.text and "Thu Dec 3, 9:30 AM PST" in page.text
    follow = next(f for f in page.forms if f.action.endswith("/follow-up"))
    bad = await submit(client, page, None, form=follow, follow_up="tomorrow-ish")
    assert bad.response.status_code == 422 and "Give a date and a time" in bad.errors["follow_up"]

    log = next(f for f in bad.forms if f.action.endswith("/activities"))
    empty = await submit(client, bad, None, form=log, kind="call", body="")
    assert empty.response.status_code == 422 and "body" in empty.errors
    log = next(f for f in empty.forms if f.action.endswith("/activities"))
    logged = await submit(client, empty, None, form=log, kind="call", body="Left a voicemail about the 16th")
    assert "Added to the timeline." in logged.text and "Left a voicemail about the 16th" in logged.text
    assert (await timeline(db, leads["dana"]))[-1] == "Left a voicemail about the 16th"


async def test_staff_enter_a_new_lead(client, db, station, staff, admin_sign_in):
    await admin_sign_in("support@example.com")
    form = read(await client.get("/admin/leads/new"))
    refused = await submit(client, form, None, name="Walk In")
    assert refused.response.status_code == 422 and "email" in refused.errors
    saved = await submit(client, refused, None, name="Walk In", phone="(510) 555-0199", guests="20",
                         message="Called about a graduation party")
    assert saved.response.status_code == 200 and "<h1>Walk In</h1>" in saved.text
    async with db.session() as session:
        lead = await session.scalar(select(Lead).where(Lead.name == "Walk In"))
    assert (lead.source, lead.guests, lead.station_id) == ("staff", 20, station.id)


async def test_a_chef_may_not_open_leads_and_another_stations_lead_does_not_exist(
        client, db, make_station, leads, admin_sign_in):
    other = await make_station("OAK")
    elsewhere = await make_lead(db, other, "Olive Oak")
    await admin_sign_in("support@example.com")
    assert (await client.get(f"/admin/leads/{elsewhere}")).status_code == 404
    csrf = await admin_csrf(client)
    refused = await client.post(f"/admin/leads/{elsewhere}/move", data={"csrf_token": csrf, "status": "contacted"})
    assert refused.status_code == 404 and (await lead_row(db, elsewhere)).status == "new"
    await client.post("/admin/logout", data={"csrf_token": csrf})
    await admin_sign_in("chef@example.com")
    assert (await client.get("/admin/leads")).status_code == 403
    assert ">Leads</a>" not in (await client.get("/admin")).text


async def test_the_dashboard_shows_follow_ups_hot_leads_and_the_funnel(client, db, station, staff, leads,
                                                                     admin_sign_in):
    later_today = NOW + timedelta(hours=10)  # 18:00 in Fremont: still today there
    await set_lead(db, leads["eli"], next_follow_up_at=later_today)
    tomorrow = await make_lead(db, station, "Tomorrow Person")
    await set_lead(db, tomorrow, next_follow_up_at=NOW + timedelta(hours=17))  # 01:00 tomorrow in Fremont
    async with db.transaction() as session:
        for n in range(4):
            session.add(FlowVisit(visitor_key=f"visitor-{n}", station_id=station.id, quoted_at=NOW))
    await admin_sign_in("admin@example.com")
    page = await client.get("/admin")
    follow_ups = page.text.split('id="follow-ups-title"', 1)[1].split("</section>", 1)[0]
    assert "Eli Park" in follow_ups and "Tomorrow Person" not in follow_ups
    hot = page.text.split('id="hot-leads-title"', 1)[1].split("</section>", 1)[0]
    assert "Dana Reyes" in hot and "Eli Park" not in hot
    funnel = page.text.split('id="funnel-title"', 1)[1].split("</section>", 1)[0]
    assert "<th scope=\"row\">Quotes</th><td>4</td>" in funnel and "<th scope=\"row\">Leads</th><td>3</td>" in funnel
    await client.post("/admin/logout", data={"csrf_token": await admin_csrf(client)})
    await admin_sign_in("chef@example.com")
    assert 'id="funnel-title"' not in (await client.get("/admin")).text
